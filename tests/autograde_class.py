"""Build a throwaway course with a whole class of submissions and autograde it with plain nbgrader.

Used by tests/test_autograde.py. The class: the demo class of tools/course.py (perfect, blank,
partial, hostile, unreadable, one mutant per graded function), and on top of it the hostile class:
submissions that try to forge a score, stop the grader or read what they must not, and honest ones
whose notebook got damaged. ``build_class`` says what each must score.
"""
import csv
import json
import os
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

# 600 MB without a newline into every pipe the process holds
FLOOD = """chunk = b'x' * (1 << 20)
for fd in pipes:
    try:
        for _ in range(600):
            os.write(fd, chunk)
    except OSError:
        pass
print('flooded', len(pipes), 'pipes')
"""


# A function that returns its visible answer whatever the input also breaks the functions that
# call it (they get arrays of the wrong shape and raise): those lose their points too. (dinosaur_island:
# the first call of clip is a hidden check's, on a small random model, so optimize and model, which
# call clip on the course's sizes, get gradients of the wrong shape.)
VISIBLE_ONLY_LOSES = {"rnn_step_by_step": ["rnn_cell_forward", "rnn_forward"],
                      "dinosaur_island": ["clip", "optimize", "model"]}


def build_class(root, assignment, port):
    """Write the demo class (tools/course.demo_class) and the hostile class on top of it.

    Returns {student: (expected kind, expected outcome)}; expected kind: "full", "zero", or
    ("lose", [function names]).
    """
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
    add("always_equal", nb(_prepend({k: v.split(":\n", 1)[0] + ":\n    return AlwaysEqual()\n"
                                     for k, v in A.items()}, first,
                                    "class AlwaysEqual:\n    def __eq__(self, o):\n        return True\n"
                                    "    __array_priority__ = 1000\n")), "zero")
    # returns the visible answer whatever the input: the visible check passes, hidden ones fail
    add("visible_only", nb(_append(A, first, f"_real_{first} = {first}\n_VISIBLE = {{}}\n"
        f"def {first}(*args, **kwargs):\n"
        f"    key = 'v'\n    if key not in _VISIBLE:\n        _VISIBLE[key] = _real_{first}(*args, **kwargs)\n"
        f"    return _VISIBLE[key]\n")), ("lose", VISIBLE_ONLY_LOSES.get(assignment, [first])))
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
    hog.cells.append(nbformat.v4.new_code_cell("import numpy as np\nhog = [np.ones((2**27,)) for _ in range(100)]"))
    add("memory_hog", hog, "full", "out of memory")
    net = nb(A)
    net.cells.append(nbformat.v4.new_code_cell(
        "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', %d), timeout=3)\n"
        "    s.sendall(b'leak')\nexcept OSError as e:\n    print('no network:', e)" % port))
    add("network", net, "full")
    # round two (issue 10): degenerate work, forged files and channels, floods
    add("zeros", nb({k: v + wrap_leaves(k, ZERO_LEAF) if v.startswith("def ") else v
                     for k, v in A.items()}), "zero")
    backwards = [f for f in funcs if "backward" in f]
    if backwards:
        add("zero_backwards", nb({k: v + wrap_leaves(k, ZERO_LEAF) if k in backwards else v
                                  for k, v in A.items()}), ("lose", backwards))
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
    last = funcs[-1]
    add("string_arrays", nb(_append(A, last, wrap_leaves(last, STRING_LEAF))), ("lose", [last]))
    flood = nb(A)
    flood.cells.append(nbformat.v4.new_code_cell(FIND_PIPES + FLOOD))
    add("pipe_flood", flood, "full")
    # honest students whose notebook got damaged: full marks
    damaged = {}
    for kind in ("deleted_tests", "duplicated_tests", "renamed_ids", "new_cell_ids", "stderr_noise"):
        d = nb(A)
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
            for c in d.cells:
                if nbk.is_solution_cell(c):
                    c.source = "import sys, warnings\nprint('note', file=sys.stderr)\nwarnings.warn('careful')\n" + c.source
        damaged[kind] = d
    for kind, d in damaged.items():
        if kind == "duplicated_tests":
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


def autograde(root, assignment, env=None):
    """Run the instructor's commands in ``root``; return (grades rows, reports, stdout)."""
    env = dict(os.environ, **(env or {}))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    nbg = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    logs = []
    for cmd in (["generate_assignment", assignment, "--force"], ["autograde", assignment, "--force"],
                ["generate_feedback", assignment, "--force"], ["export"]):
        if cmd[0] == "generate_assignment":
            # register the assignment in this course's fresh gradebook (release stays as committed)
            saved = os.path.join(root, "release.saved")
            shutil.copytree(os.path.join(root, "release"), saved)
        p = subprocess.run([nbg, *cmd, "--log-level=INFO"], cwd=root, env=env, capture_output=True, text=True)
        logs.append(p.stdout + p.stderr)
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
