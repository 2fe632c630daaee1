"""Build and grade the course with nbgrader.

    python -m tools.course release      # sync support files, nbgrader generate_assignment for each
    python -m tools.course demo         # write the demo class under submitted/
    python -m tools.course grade        # nbgrader autograde + generate_feedback + export, print table
    python -m tools.course all          # the three in order (what `make course` runs)

Support files: a release folder must run on its own, so each assignment ships copies of the utils
modules and data files it needs (the MANIFEST below). They are generated from utils/ and data/
into source/<id>/ (git-ignored) right before nbgrader copies them into release/<id>/.
"""
import csv
import filecmp
import os
import re
import shutil
import subprocess
import sys

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(os.path.abspath(sys.executable))

# utils modules and data files each assignment ships with. Answer keys are never shipped:
# assignment 1 asks students to write what utils/rnn.py and utils/recurrent.py contain.
BASE_UTILS = ["__init__.py", "activations.py", "gradcheck.py", "testing.py"]
MANIFEST = {
    "rnn_step_by_step": {"utils": BASE_UTILS + ["diagrams.py"], "data": []},
    "dinosaur_island": {"utils": BASE_UTILS + ["recurrent.py", "rnn.py", "char_model.py", "plots.py"],
                        "data": ["dinos.txt"]},
    "jazz_improvisation": {"utils": BASE_UTILS + ["recurrent.py", "layers.py", "losses.py", "init.py",
                                                  "optim.py", "io.py", "music.py", "plots.py"],
                           "data": ["jazz"]},
    "date_translation": {"utils": BASE_UTILS, "data": []},
    "trigger_word": {"utils": BASE_UTILS, "data": []},
}
ASSIGNMENTS = list(MANIFEST)


def assignments():
    """The assignments whose teacher notebook exists, in course order."""
    return [a for a in ASSIGNMENTS if os.path.exists(os.path.join(ROOT, "source", a, a + ".ipynb"))]


def run(*cmd, check=True):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    # nbgrader 0.9.6's gradebook code makes SQLAlchemy warn "Object of type <SubmittedAssignment> not in
    # session" on every autograde; the warning is harmless (the grades are stored) and only hides real output.
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), "ignore:Object of type"]))
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=check)


def sync_support(assignment, dest=None):
    """Copy the assignment's utils modules and data files into ``dest`` (default source/<id>/)."""
    dest = dest or os.path.join(ROOT, "source", assignment)
    spec = MANIFEST[assignment]
    udir = os.path.join(dest, "utils")
    shutil.rmtree(udir, ignore_errors=True)
    os.makedirs(udir)
    for name in spec["utils"]:
        src = os.path.join(ROOT, "utils", name)
        if not os.path.exists(src):
            raise FileNotFoundError(f"{assignment} needs utils/{name}, which does not exist")
        shutil.copy(src, udir)
    ddir = os.path.join(dest, "data")
    shutil.rmtree(ddir, ignore_errors=True)
    for name in spec["data"]:
        src = os.path.join(ROOT, "data", name)
        os.makedirs(ddir, exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(ddir, name), ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        else:
            shutil.copy(src, ddir)


def release(names=None):
    for a in names or assignments():
        sync_support(a)
        run(os.path.join(BIN, "nbgrader"), "generate_assignment", a, "--force", "--log-level=WARN")


def solution_source(src):
    """A teacher solution cell as a student would write it: the solution markers removed."""
    return "\n".join(line for line in src.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def teacher_answers(assignment, root=ROOT):
    """{solution grade_id: code} from the teacher notebook."""
    nb = nbformat.read(os.path.join(root, "source", assignment, assignment + ".ipynb"), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: solution_source(c.source) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def teacher_namespace(assignment, namespace, locked=(), root=ROOT):
    """Run the teacher's solution cells, then the locked cells whose grade_id is in ``locked``, in ``namespace``
    (a dict of the imports they need); returns it. Benchmarks and tests use the teacher's code this way."""
    for src in teacher_answers(assignment, root).values():
        exec(src, namespace)
    if locked:
        nb = nbformat.read(os.path.join(root, "source", assignment, assignment + ".ipynb"), as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in locked:
                exec(cell.source, namespace)
    return namespace


def student_notebook(assignment, answers, root=ROOT):
    """The release notebook with ``answers`` ({solution grade_id: code}) filled in."""
    nb = nbformat.read(os.path.join(root, "release", assignment, assignment + ".ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nb


MUTANT_WRAPPER = '''

def _course_mutant(f):
    """Demo-class mutant: the same function with its first float output nudged by 0.01 (else an int by 1)."""
    import functools
    import numpy as _np

    def nudge(v):
        if isinstance(v, _np.ndarray) and v.size and v.dtype.kind == "f":
            v = v.copy()
            v.flat[0] += 0.01
            return v, True
        if isinstance(v, dict):
            for k in sorted(v):
                new, done = nudge(v[k])
                if done:
                    return {**v, k: new}, True
        if isinstance(v, (tuple, list)):
            for i, item in enumerate(v):
                new, done = nudge(item)
                if done:
                    return type(v)(list(v[:i]) + [new] + list(v[i + 1:])), True
        if isinstance(v, float):
            return v + 0.01, True
        return v, False

    def nudge_int(v):
        """No float anywhere (e.g. a list of sampled indices): move the first integer by one."""
        if isinstance(v, (int, _np.integer)) and not isinstance(v, (bool, _np.bool_)):
            return v + 1, True
        if isinstance(v, dict):
            for k in sorted(v):
                new, done = nudge_int(v[k])
                if done:
                    return {**v, k: new}, True
        if isinstance(v, (tuple, list)):
            for i, item in enumerate(v):
                new, done = nudge_int(item)
                if done:
                    return type(v)(list(v[:i]) + [new] + list(v[i + 1:])), True
        return v, False

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        out, done = nudge(f(*args, **kwargs))
        return out if done else nudge_int(out)[0]
    return wrapper


{name} = _course_mutant({name})
'''


def mutant_answers(assignment, name, root=ROOT):
    answers = teacher_answers(assignment, root)
    answers[name] = answers[name] + MUTANT_WRAPPER.replace("{name}", name)
    return answers


def write_submission(student, assignment, nb_or_text, root=ROOT):
    folder = os.path.join(root, "submitted", student, assignment)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, assignment + ".ipynb")
    if isinstance(nb_or_text, str):
        with open(path, "w") as f:
            f.write(nb_or_text)
    else:
        nbformat.write(nb_or_text, path)
    with open(os.path.join(folder, "timestamp.txt"), "w") as f:
        f.write("2026-11-25 12:00:00.000000 UTC")
    return path


HOSTILE_PATCH = "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, **k: np.ones_like(a, dtype=bool)\n"


def demo(names=None):
    """perfect, blank, partial, plus two that show the outcomes: hostile and unreadable."""
    shutil.rmtree(os.path.join(ROOT, "submitted"), ignore_errors=True)
    for a in names or assignments():
        answers = teacher_answers(a)
        write_submission("perfect", a, student_notebook(a, answers))
        write_submission("blank", a, student_notebook(a, {}))
        half = dict(list(answers.items())[: len(answers) // 2])
        write_submission("partial", a, student_notebook(a, half))
        hostile = {k: HOSTILE_PATCH + "\n" + v.split("\n", 1)[0] + "\n    return None\n"
                   if v.startswith("def ") else v for k, v in answers.items()}
        write_submission("hostile", a, student_notebook(a, hostile))
        write_submission("unreadable", a, '{"cells": [ this is not JSON')


def grade(names=None):
    for a in names or assignments():
        # nbgrader exits non-zero when any submission failed; ours never do, but keep going anyway
        run(os.path.join(BIN, "nbgrader"), "autograde", a, "--force", "--log-level=WARN", check=False)
        run(os.path.join(BIN, "nbgrader"), "generate_feedback", a, "--force", "--log-level=WARN", check=False)
    run(os.path.join(BIN, "nbgrader"), "export", "--log-level=WARN")
    print_table(os.path.join(ROOT, "grades.csv"))


def graded_functions(assignment, root=ROOT):
    """{solution grade_id: [test cell grade_ids that follow it]} in notebook order, with points."""
    nb = nbformat.read(os.path.join(root, "source", assignment, assignment + ".ipynb"), as_version=4)
    out, current = {}, None
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution"):
            current = meta["grade_id"]
            out[current] = {}
        elif meta.get("grade") and c.cell_type == "code" and current:
            out[current][meta["grade_id"]] = float(meta["points"])
    return out


def print_table(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    students = sorted({r["student_id"] for r in rows})
    course = [a for a in ASSIGNMENTS if any(r["assignment"] == a for r in rows)]
    cell = {(r["student_id"], r["assignment"]): r for r in rows}
    width = max(12, *(len(a) for a in course))
    print("\n" + "student".ljust(12) + "".join(a.ljust(width + 2) for a in course))
    for s in students:
        line = s.ljust(12)
        for a in course:
            r = cell.get((s, a))
            text = "-" if r is None else f"{float(r['score']):g}/{float(r['max_score']):g}"
            if r is not None and r["outcome"] != "graded":
                text += f" ({r['outcome']})"
            line += text.ljust(width + 2)
        print(line)
    print(f"\ngrades: {os.path.relpath(path, ROOT)}; feedback: feedback/<student>/<assignment>/")


def main(argv):
    if not argv or argv[0] not in ("release", "demo", "grade", "all"):
        print(__doc__)
        return 2
    names = argv[1:] or None
    if argv[0] in ("release", "all"):
        release(names)
    if argv[0] in ("demo", "all"):
        demo(names)
    if argv[0] in ("grade", "all"):
        grade(names)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
