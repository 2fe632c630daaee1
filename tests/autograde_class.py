"""Build a throwaway course with a whole class of submissions and autograde it with plain nbgrader.

Used by tests/test_autograde.py. The class: the demo class of tools/course.py (perfect, blank,
partial, hostile, unreadable, one mutant per graded function), and on top of it the hostile class:
submissions whose functions return degenerate or forged values (every assignment), and submissions that try
to stop the grader or read what they must not, and honest ones whose notebook got damaged (one assignment,
MECHANISMS_ON: see below). ``build_class`` says what each must score.
"""
import contextlib
import csv
import fcntl
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import threading

import nbformat

from grading import notebook as nbk
from tools import course

ROOT = course.ROOT


def make_course(dest, assignment):
    """Copy what grading needs (not submitted/ or the gradebook) into ``dest``."""
    for name in ("grading", "tools", "utils", "data"):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(dest, name),
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(os.path.join(ROOT, "nbgrader_config.py"), dest)
    shutil.copytree(os.path.join(ROOT, "release", assignment), os.path.join(dest, "release", assignment))
    os.makedirs(os.path.join(dest, "source", assignment))
    shutil.copy(os.path.join(ROOT, "source", assignment, assignment + ".ipynb"),
                os.path.join(dest, "source", assignment))
    course.sync_support(assignment, os.path.join(dest, "source", assignment))


def _prepend(answers, name, code):
    out = dict(answers)
    out[name] = code + "\n" + out[name]
    return out


def _append(answers, name, code):
    out = dict(answers)
    out[name] = out[name] + "\n" + code
    return out


# The same function with every leaf of its result replaced: ZERO_LEAF (arrays and numbers to zeros
# of the same shape and type, booleans to False) or STRING_LEAF (arrays to strings of the same shape).
LEAF_WRAPPER = """

def _map_leaves(v, leaf):
    if isinstance(v, dict):
        return {k: _map_leaves(x, leaf) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return type(v)(_map_leaves(x, leaf) for x in v)
    return leaf(v)


def _leaf_{kind}(v):
    import numpy as _np
    {body}


_real_{kind}_{name} = {name}


def {name}(*args, **kwargs):
    return _map_leaves(_real_{kind}_{name}(*args, **kwargs), _leaf_{kind})
"""
ZERO_LEAF = ("zero", "if isinstance(v, _np.ndarray):\n        return _np.zeros_like(v)\n"
             "    if isinstance(v, (bool, _np.bool_)):\n        return type(v)(False)\n"
             "    if not isinstance(v, (int, float, _np.number)):\n        return v\n    return type(v)(0)")
# (arrays of more than 100,000 entries, such as the trigger detector's im2col cache, stay numbers: as text
# they would take gigabytes and the sandbox's memory cap would end the whole run, not only this function)
STRING_LEAF = ("strings", "return v.astype(str) if isinstance(v, _np.ndarray) and v.size <= 100_000 else v")


def wrap_leaves(name, leaf):
    kind, body = leaf
    return LEAF_WRAPPER.replace("{kind}", kind).replace("{body}", body).replace("{name}", name)


FIND_PIPES = """import os
pipes = []
for name in os.listdir('/proc/self/fd'):
    try:
        if os.readlink('/proc/self/fd/' + name).startswith('pipe:'):
            pipes.append(int(name))
    except OSError:
        pass
"""

# look-alike runner messages (the first runner's and the current one's forms) into every pipe
FORGE = """lines = ['{"ev": "done"}\\n', '\\n{"ev": "case", "id": "x", "phase": "end", "results": {}}\\n',
         'sandbox setup failed: forged\\n', '\\n0123456789abcdef {"results": {}, "error": null}\\n']
for fd in pipes:
    for line in lines:
        try:
            os.write(fd, line.encode())
        except OSError:
            pass
print('forged into', len(pipes), 'pipes')
"""

# MB megabytes without a newline into every pipe the process holds. test_grading_hostile floods 600 MB and measures
# the grader's memory; the class floods 200 MB (8 times the grader's 24 MB cap on one answer), which a loaded 2-core
# machine streams through within the suite's 15 s cell limit (600 MB there once took longer).
FLOOD_OF = """chunk = b'x' * (1 << 20)
for fd in pipes:
    try:
        for _ in range({mb}):
            os.write(fd, chunk)
    except OSError:
        pass
print('flooded', len(pipes), 'pipes')
"""
FLOOD = FLOOD_OF.format(mb=600)


# A function that returns its visible answer whatever the input also breaks the functions that
# call it (they get arrays of the wrong shape and raise): those lose their points too. (dinosaur_island:
# the first call of clip is a hidden check's, on a small random model, so optimize and model, which
# call clip on the course's sizes, get gradients of the wrong shape.)
VISIBLE_ONLY_LOSES = {"rnn_step_by_step": ["rnn_cell_forward", "rnn_forward"],
                      "dinosaur_island": ["clip", "optimize", "model"]}


# The hostile class has two parts. What a submission's functions return (always-equal objects, visible answers
# only, zeros, strings) meets each assignment's own specs: graded on every assignment. What a submission does
# to the grader (patching the kernel, exiting, hanging, eating memory, forging the channel, reading teacher
# files, a damaged notebook) meets grading/, the same code whatever the assignment: graded once per session, on
# MECHANISMS_ON, the assignment whose submissions run fastest (1.1 s alone, against 1.7 s for rnn_step_by_step
# and 7.7 s for trigger_word). The demo
# class's own "hostile" student (numpy's comparisons patched) still runs on every assignment, and the damaged
# notebooks' canonical form is checked against the perfect one for every assignment in test_autograde.py.
MECHANISMS_ON = "jazz_improvisation"
DAMAGES = ("deleted_tests", "duplicated_tests", "renamed_ids", "new_cell_ids")


def damaged(notebook, kind):
    """A copy of ``notebook`` damaged as an honest student's may be: test cells deleted or duplicated (with
    no cell ids), solution grade_ids renamed, or new cell ids."""
    d = nbformat.from_dict(json.loads(json.dumps(notebook)))
    tests = [i for i, c in enumerate(d.cells) if nbk.is_test_cell(c)]
    if kind == "deleted_tests":
        d.cells = [c for i, c in enumerate(d.cells) if i not in tests]
    elif kind == "duplicated_tests":
        for i in reversed(tests):
            d.cells.insert(i, nbformat.from_dict(json.loads(json.dumps(d.cells[i]))))
        for c in d.cells:
            c.pop("id", None)
    elif kind == "renamed_ids":
        for c in d.cells:
            if nbk.is_solution_cell(c):
                c.metadata["nbgrader"]["grade_id"] += "_mine"
    elif kind == "new_cell_ids":
        for i, c in enumerate(d.cells):
            c["id"] = f"x{i}"
    else:
        raise ValueError(f"unknown damage {kind!r}; known: {', '.join(DAMAGES)}")
    return d


def build_class(root, assignment, port, mechanisms=None):
    """Write the demo class (tools/course.demo_class) and the hostile class on top of it (its grader part
    only when ``mechanisms``, by default on MECHANISMS_ON).

    Returns {student: (expected kind, expected outcome)}; expected kind: "full", "zero", or
    ("lose", [function names]).
    """
    if mechanisms is None:
        mechanisms = assignment == MECHANISMS_ON
    A = course.teacher_answers(assignment, root)
    funcs = list(course.graded_functions(assignment, root))
    first, second = funcs[0], funcs[1]
    nb = lambda answers: course.student_notebook(assignment, answers, root)  # noqa: E731
    students = {}

    def add(name, notebook, kind, outcome="graded"):
        course.write_submission(name, assignment, notebook, root)
        students[name] = (kind, outcome)

    for name, (notebook, kind, outcome) in course.demo_class(assignment, root).items():
        add(name, notebook, kind, outcome)
    # what the functions return, judged by this assignment's specs
    add("always_equal", nb(_prepend({k: v.split(":\n", 1)[0] + ":\n    return AlwaysEqual()\n"
                                     for k, v in A.items()}, first,
                                    "class AlwaysEqual:\n    def __eq__(self, o):\n        return True\n"
                                    "    __array_priority__ = 1000\n")), "zero")
    # returns the visible answer whatever the input: the visible check passes, hidden ones fail
    add("visible_only", nb(_append(A, first, f"_real_{first} = {first}\n_VISIBLE = {{}}\n"
        f"def {first}(*args, **kwargs):\n"
        f"    key = 'v'\n    if key not in _VISIBLE:\n        _VISIBLE[key] = _real_{first}(*args, **kwargs)\n"
        f"    return _VISIBLE[key]\n")), ("lose", VISIBLE_ONLY_LOSES.get(assignment, [first])))
    add("zeros", nb({k: v + wrap_leaves(k, ZERO_LEAF) if v.startswith("def ") else v
                     for k, v in A.items()}), "zero")
    backwards = [f for f in funcs if "backward" in f]
    if backwards:
        add("zero_backwards", nb({k: v + wrap_leaves(k, ZERO_LEAF) if k in backwards else v
                                  for k, v in A.items()}), ("lose", backwards))
    last = funcs[-1]
    add("string_arrays", nb(_append(A, last, wrap_leaves(last, STRING_LEAF))), ("lose", [last]))
    if not mechanisms:
        return students
    # forging the comparison in the kernel
    add("patch_numpy", nb(_prepend(course.returns_none(A), first, "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                                   "np.isclose = lambda a, b, **k: np.ones(np.shape(a), dtype=bool)\n"
                                   "np.testing.assert_allclose = lambda *a, **k: None")), "zero")
    add("patch_helpers", nb(_prepend(course.returns_none(A), first, "from utils import testing\n"
                                     "testing.assert_close = lambda *a, **k: None\n"
                                     "testing.assert_shape = testing.assert_keys = testing.assert_close")), "zero")
    add("input_transformer", nb(_prepend(course.returns_none(A), first,
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])")), "zero")
    add("ipython_hooks", nb(_prepend(course.returns_none(A), first,
        "ip = get_ipython()\nip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "ip.events.register('post_run_cell', lambda result: None)\nimport sys\nsys.excepthook = lambda *a: None")), "zero")
    teacher = os.path.join(root, "source", assignment, assignment + ".ipynb")
    add("read_teacher", nb(_prepend(course.returns_none(A), first,
        "import json, glob, os\nfound = []\n"
        f"for p in [{teacher!r}, '../../../source/{assignment}/{assignment}.ipynb'] + glob.glob('/*/*/source/*/*.ipynb')"
        " + glob.glob('/*/source/*/*.ipynb') + glob.glob('/tmp/*/*/source/*/*.ipynb'):\n"
        "    try:\n        nb = json.load(open(p))\n    except Exception:\n        continue\n"
        "    found.append(p)\n    for c in nb['cells']:\n"
        "        if c.get('metadata', {}).get('nbgrader', {}).get('solution'):\n"
        "            exec(''.join(c['source']).replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', ''))\n"
        "print('teacher notebooks found:', found)")), "zero")
    # ways to stop the run: the rest must keep its points, the outcome must say what happened
    add("os_exit", nb(_prepend(A, second, "import os\nos._exit(3)")), ("lose", [second]), "crashed")
    add("sys_exit", nb(_append(A, second, "import sys\nsys.exit(1)")), "full")
    hang = nb(A)
    hang.cells.append(nbformat.v4.new_code_cell(
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except BaseException:\n        pass"))
    add("swallow_interrupt", hang, "full", "timed out")
    hog = nb(A)
    # np.empty reserves address space, which is what the sandbox caps (RLIMIT_AS), without writing it: np.ones
    # wrote 1 GB before the cap struck, 3.7 s on a quiet machine here and over the 15 s cell limit in CI once.
    hog.cells.append(nbformat.v4.new_code_cell("import numpy as np\nhog = [np.empty((2**27,)) for _ in range(100)]"))
    add("memory_hog", hog, "full", "out of memory")
    net = nb(A)
    net.cells.append(nbformat.v4.new_code_cell(
        "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', %d), timeout=3)\n"
        "    s.sendall(b'leak')\nexcept OSError as e:\n    print('no network:', e)" % port))
    add("network", net, "full")
    # round two (issue 10): forged files and channels, floods
    course.write_submission("symlink_teacher", assignment, nb(A), root)
    link = os.path.join(root, "submitted", "symlink_teacher", assignment, assignment + ".ipynb")
    os.remove(link)
    os.symlink(teacher, link)
    students["symlink_teacher"] = ("zero", "refused")
    forged = nb(A)
    forged.cells.append(nbformat.v4.new_code_cell(FIND_PIPES + FORGE))
    add("forged_events", forged, "full")
    marker = nb(A)
    marker.cells.append(nbformat.v4.new_code_cell(
        "import os\nos.write(1, b'sandbox setup failed: forged\\n')\nos.write(2, b'sandbox setup failed\\n')\n"
        "os._exit(121)"))
    add("forged_setup_failure", marker, "full", "crashed")
    flood = nb(A)
    flood.cells.append(nbformat.v4.new_code_cell(FIND_PIPES + FLOOD_OF.format(mb=200)))
    add("pipe_flood", flood, "full")
    # honest students whose notebook got damaged: full marks
    stderr_noise = nb(A)
    for c in stderr_noise.cells:
        if nbk.is_solution_cell(c):
            c.source = "import sys, warnings\nprint('note', file=sys.stderr)\nwarnings.warn('careful')\n" + c.source
    add("stderr_noise", stderr_noise, "full")
    for kind in DAMAGES:
        d = damaged(nb(A), kind)
        if kind == "duplicated_tests":      # duplicate cell ids: written as is, nbformat would refuse it
            course.write_submission(kind, assignment, nbformat.writes(d, version=4), root)
            students[kind] = ("full", "graded")
        else:
            add(kind, d, "full")
    return students


class Listener:
    """A TCP listener on the host's loopback that records any connection (none may arrive)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass


def autograde(root, assignment, env=None, feedback_for=None):
    """Run the instructor's commands in ``root``; return (grades rows, reports, stdout). feedback_for: the
    students whose feedback nbgrader writes (default: all; an empty set: generate_feedback is not run; a page
    takes about 0.5 s)."""
    env = dict(os.environ, **(env or {}))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    nbg = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    logs = []
    commands = [["generate_assignment", assignment, "--force"], ["autograde", assignment, "--force"],
                ["generate_feedback", assignment, "--force"], ["export"]]
    if feedback_for is not None and not feedback_for:      # no page asked for: no nbgrader start-up (1.6 s) either
        commands.pop(2)
    for cmd in commands:
        if cmd[0] == "generate_assignment":
            # register the assignment in this course's fresh gradebook (release stays as committed)
            saved = os.path.join(root, "release.saved")
            shutil.copytree(os.path.join(root, "release"), saved)
        aside = []
        if cmd[0] == "generate_feedback" and feedback_for is not None:
            for student in os.listdir(os.path.join(root, "autograded")):
                if student not in feedback_for:
                    os.makedirs(os.path.join(root, "autograded.aside"), exist_ok=True)
                    shutil.move(os.path.join(root, "autograded", student), os.path.join(root, "autograded.aside"))
                    aside.append(student)
        p = subprocess.run([nbg, *cmd, "--log-level=INFO"], cwd=root, env=env, capture_output=True, text=True)
        logs.append(p.stdout + p.stderr)
        for student in aside:
            shutil.move(os.path.join(root, "autograded.aside", student), os.path.join(root, "autograded"))
        if cmd[0] == "generate_assignment":
            shutil.rmtree(os.path.join(root, "release"))
            shutil.move(saved, os.path.join(root, "release"))
    with open(os.path.join(root, "grades.csv")) as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == assignment}
    reports = {}
    for name in os.listdir(os.path.join(root, "grading_reports", assignment)):
        if not name.startswith("_"):
            with open(os.path.join(root, "grading_reports", assignment, name)) as f:
                r = json.load(f)
            reports[r["student"]] = r
    return rows, reports, "\n".join(logs)


# ---------------------------------------------------------------- the graded classes of one test run

# Each assignment's class is graded once per test run and shared: in this process through _GRADED, between the
# xdist workers of the run through a pickle under a file lock (whoever takes the lock first grades it, the
# others wait and read it). With xdist, each worker also starts grading its share of the classes in the
# background as soon as collection ends (tests/conftest.py), so the class gradings, mostly spent waiting on
# sandboxed processes, overlap the rest of the suite instead of a worker idling on another's lock.
_GRADED = {}
COST = {"trigger_word": 90, "rnn_step_by_step": 80, "jazz_improvisation": 75, "dinosaur_island": 45,
        "date_translation": 40}     # about the seconds each class takes to grade in a run of the suite
GRADING_ENV = {"COURSE_GRADING_CELL_TIMEOUT": "15", "COURSE_GRADING_CASE_TIMEOUT": "60",
               "COURSE_GRADING_MEMORY_MB": "2048", "COURSE_GRADING_SEED_SCOPE": "run"}


def shared_dir(tmp_path_factory):
    """A folder every xdist worker of this test run sees (the run's own base folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_TESTRUNUID") else base


MAKE_GRADEBOOK = "import sys\nfrom nbgrader.api import Gradebook\nGradebook('sqlite:///' + sys.argv[1]).close()\n"


def copy_gradebook(tmp_path_factory, course_root):
    """Put an empty gradebook in ``course_root``: a copy of one nbgrader made once per test run (a new one costs
    about 4 s: nbgrader runs alembic's migrations in a subprocess)."""
    folder = shared_dir(tmp_path_factory)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "single")
    path = folder / f"gradebook-{run}.db"
    with open(folder / f"gradebook-{run}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            tmp = folder / f"gradebook-{run}.tmp.db"
            env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
            subprocess.run([sys.executable, "-c", MAKE_GRADEBOOK, str(tmp)], env=env, check=True,
                           capture_output=True)
            os.replace(tmp, path)
    shutil.copy(path, os.path.join(str(course_root), "gradebook.db"))


# The class graded through a Dask LocalCluster of two worker processes (nbgrader_config's dask_scheduler) instead of
# the local pool: the cluster path meets the demo and hostile classes at no extra grading (tests/test_grading_dask.py).
ON_DASK = "dinosaur_island"


@contextlib.contextmanager
def local_cluster(n_workers=2, **config):
    """A LocalCluster of ``n_workers`` worker processes of one thread each, as README's "Grading on several machines"
    starts them (worker-saturation 1.0: a worker holds only the task it runs; no memory limit of dask's own, the
    sandbox caps each run). ``config``: more dask settings for the scheduler."""
    import logging

    import dask
    from distributed import LocalCluster
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0, **config}):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               memory_limit=0, silence_logs=logging.ERROR)
    try:
        yield cluster
    finally:
        cluster.close()


def grade_class(assignment, tmp_path_factory):
    """Build the class of ``assignment`` in a throwaway course and grade it with plain nbgrader (ON_DASK: on a
    LocalCluster)."""
    root = str(tmp_path_factory.mktemp(assignment))
    make_course(root, assignment)
    copy_gradebook(tmp_path_factory, root)
    listener = Listener()
    students = build_class(root, assignment, listener.port)
    # seed_scope "run": one fresh seed for the whole class, so the teacher's reference answers each hidden check
    # once (half the CPU of this batch); fresh inputs per submission are tested in test_grading_hostile.py.
    with local_cluster() if assignment == ON_DASK else contextlib.nullcontext() as cluster:
        env = dict(GRADING_ENV, **({"COURSE_GRADING_DASK_SCHEDULER": cluster.scheduler_address} if cluster else {}))
        rows, reports, log = autograde(root, assignment, env=env, feedback_for=feedback_students(assignment, students))
    listener.stop = True
    return dict(assignment=assignment, root=root, students=students, rows=rows, reports=reports,
                log=log, connections=listener.connections)


DEMO_FEEDBACK = ("perfect", "blank", "partial", "hostile", "unreadable")


def feedback_students(assignment, students):
    """Who gets feedback in the tests: the demo class's perfect, blank, partial, hostile and unreadable students, its
    first mutant, and the first submission of every other outcome (crashed, timed out, ...). The other mutants and
    the rest of the hostile class would only repeat pages made of the same parts (failed checks, a cause in the
    banner), at about 0.5 s a page."""
    first = next(iter(course.graded_functions(assignment)))
    asked = {s for s in students if s in DEMO_FEEDBACK or s == f"mutant_{first}"}
    outcomes = {outcome for s, (_, outcome) in students.items() if s in asked}
    for s, (_, outcome) in students.items():
        if outcome not in outcomes:
            asked.add(s)
            outcomes.add(outcome)
    return asked


def shared_class(assignment, tmp_path_factory):
    """The graded class of ``assignment`` in this test run (graded here, or by another worker)."""
    if assignment in _GRADED:
        return _GRADED[assignment]
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:                                     # one process: nothing to share
        _GRADED[assignment] = grade_class(assignment, tmp_path_factory)
        return _GRADED[assignment]
    shared = shared_dir(tmp_path_factory)
    with open(shared / f"graded-{run}-{assignment}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / f"graded-{run}-{assignment}.pickle"
        if done.exists():
            _GRADED[assignment] = pickle.loads(done.read_bytes())
        else:
            _GRADED[assignment] = grade_class(assignment, tmp_path_factory)
            done.write_bytes(pickle.dumps(_GRADED[assignment]))
    return _GRADED[assignment]


def share_out(assignments, workers):
    """[[assignments of worker 0], [of worker 1], ...]: the costliest class first, each to the least loaded."""
    shares, load = [[] for _ in range(workers)], [0.0] * workers
    for a in sorted(assignments, key=lambda a: -COST.get(a, 60)):
        k = load.index(min(load))
        shares[k].append(a)
        load[k] += COST.get(a, 60)
    return shares


def grade_in_background(assignments, tmp_path_factory):
    """Start grading ``assignments`` in a daemon thread (a failure is left to the tests' own call, which grades
    the class again and reports the error)."""
    def work():
        for a in assignments:
            try:
                shared_class(a, tmp_path_factory)
            except Exception:  # noqa: BLE001 - the fixture grades it again and fails with the real error
                continue
    thread = threading.Thread(target=work, name="grade-classes", daemon=True)
    thread.start()
    return thread
