"""Build and grade the course with nbgrader.

    python -m tools.course release      # sync support files, nbgrader generate_assignment for each
    python -m tools.course demo         # write the demo class under submitted/
    python -m tools.course grade        # nbgrader autograde + generate_feedback + export, print table
    python -m tools.course all          # the three in order (what `make course` runs)
    python -m tools.course report ASSIGNMENT [--out PATH]   # class report (tools/report.py), after grading

Support files: a release folder must run on its own, so each assignment ships copies of the utils
modules its notebook imports (found by reading the imports) and the data files it needs (DATA below). They are generated from utils/ and data/
into source/<id>/ (git-ignored) right before nbgrader copies them into release/<id>/.
"""
import ast
import csv
import os
import shutil
import subprocess
import sys

import nbformat

from grading import notebook as nbk

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(os.path.abspath(sys.executable))

# Data files each assignment ships with (by hand). The utils modules it ships are derived: the ones
# its notebook imports and what those import in turn (``release_utils``). Answer keys are never
# shipped: tests/test_releases.py checks that no release defines one of its own graded functions.
DATA = {
    "rnn_step_by_step": [],
    "dinosaur_island": ["dinos.txt"],
    "jazz_improvisation": ["jazz"],
    "date_translation": ["dates"],
    "trigger_word": ["trigger/weights.npz"] + [f"trigger/{split}/{kind}/{name}" for split, kind, names in (
        ("train", "backgrounds", ("bg01_pink", "bg03_hum50", "bg06_babble")),
        ("train", "activates", ("en-029_Gene_activate_0", "en-gb-scotland_Reed_activate_1", "en-gb-x-gbclan_ed_activate_2",
                                "en-gb-x-gbcwmd_benjamin_activate_0", "en-gb-x-rp_anika_activate_1",
                                "en-us-nyc_klatt2_activate_2", "en-us_david_activate_0", "en_belinda_activate_1")),
        ("train", "negatives", ("en-029_Gene_activity_4", "en-029_m7_number_6", "en-gb-scotland_edward_navigate_4",
                                "en-gb-x-gbclan_klatt5_elephant_5", "en-gb-x-gbcwmd_benjamin_activist_3",
                                "en-gb-x-gbcwmd_steph_tomorrow_5", "en-gb-x-rp_rob_chocolate_6",
                                "en-us-nyc_m1_chocolate_5")),
        ("dev", "backgrounds", ("bg02_rain", "bg03_babble")),
        ("dev", "activates", ("en-029_klatt6_activate_0", "en-gb-scotland_iven3_activate_3",
                              "en-gb-x-gbclan_klatt4_activate_2", "en-gb-x-rp_Mario_activate_1",
                              "en-us-nyc_Storm_activate_0", "en-us_f3_activate_3", "en_Alicia_activate_2")),
        ("dev", "negatives", ("en-029_klatt6_activist_4", "en-gb-scotland_iven3_picture_6", "en-gb-scotland_m8_window_6",
                              "en-gb-x-gbcwmd_Hugo_actor_5", "en-gb-x-rp_Mario_river_8", "en-us-nyc_Storm_captivate_4",
                              "en-us_f3_holiday_7", "en-us_steph2_river_7")))
        for name in (n + ".wav" for n in names)],   # a sample of data/trigger (7 MB of its 36 MB)
}
ASSIGNMENTS = list(DATA)


def utils_imports(tree):
    """utils module names imported in an AST, except optional imports (in a try that catches ImportError)."""
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                or isinstance(h.type, ast.Tuple) and any(getattr(e, "id", "") in ("ImportError", "ModuleNotFoundError")
                                                         for e in h.type.elts)
                for h in node.handlers):
            optional.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    names = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1 and not mod or mod == "utils":
                names.update(a.name for a in node.names)
            elif mod.startswith("utils.") or (node.level == 1 and mod):
                names.add(mod.split(".")[-1] if mod.startswith("utils.") else mod.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("utils."))
    return names


def release_utils(assignment, root=ROOT):
    """The utils modules (file names) a release needs: its notebook's imports and their closure in utils/."""
    todo, seen = set(), set()
    for cell in teacher_notebook(assignment, root).cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        try:
            todo |= utils_imports(ast.parse(code))
        except SyntaxError:
            continue
    while todo:
        name = todo.pop()
        path = os.path.join(root, "utils", name + ".py")
        if name in seen or not os.path.exists(path):
            continue
        seen.add(name)
        with open(path) as f:
            todo |= utils_imports(ast.parse(f.read())) - seen
    return ["__init__.py"] + sorted(n + ".py" for n in seen if n != "__init__")


def manifest(assignment, root=ROOT):
    """{"utils": [file names], "data": [names under data/]} that release/<id>/ ships."""
    return {"utils": release_utils(assignment, root), "data": DATA[assignment]}


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
    spec = manifest(assignment)
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
        os.makedirs(os.path.dirname(os.path.join(ddir, name)), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(ddir, name), ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        else:
            shutil.copy(src, os.path.join(ddir, name))      # at the same path under data/ as in the course


def stray_files(assignment, root=ROOT):
    """Files in source/<id>/ that are neither the notebook nor the synced utils/ and data/: what running
    the teacher notebook there wrote (a WAV, a MIDI file). They are never part of a release."""
    folder = os.path.join(root, "source", assignment)
    keep = {assignment + ".ipynb", "utils", "data", ".ipynb_checkpoints"}
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n not in keep)


def release(names=None):
    for a in names or assignments():
        sync_support(a)
        stray = stray_files(a)
        if stray:
            print(f"{a}: not released (written by running the notebook): "
                  + ", ".join(os.path.relpath(p, ROOT) for p in stray))
        run(os.path.join(BIN, "nbgrader"), "generate_assignment", a, "--force", "--log-level=WARN")
        for p in stray:  # nbgrader copies every file of source/<id>/: take the stray ones out again
            q = os.path.join(ROOT, "release", a, os.path.basename(p))
            if os.path.isdir(q):
                shutil.rmtree(q)
            elif os.path.exists(q):
                os.remove(q)


def teacher_notebook(assignment, root=ROOT):
    return nbformat.read(os.path.join(root, "source", assignment, assignment + ".ipynb"), as_version=4)


def teacher_answers(assignment, root=ROOT):
    """{solution grade_id: code} from the teacher notebook."""
    return nbk.solutions(teacher_notebook(assignment, root))


def teacher_namespace(assignment, namespace, locked=(), root=ROOT):
    """Run the teacher's solution cells, then the locked cells whose grade_id is in ``locked``, in ``namespace``
    (a dict of the imports they need); returns it. Benchmarks and tests use the teacher's code this way."""
    for src in teacher_answers(assignment, root).values():
        exec(src, namespace)
    if locked:
        for cell in teacher_notebook(assignment, root).cells:
            if nbk.grade_id(cell) in locked:
                exec(cell.source, namespace)
    return namespace


def student_notebook(assignment, answers, root=ROOT):
    """The release notebook with ``answers`` ({solution grade_id: code}) filled in."""
    nb = nbformat.read(os.path.join(root, "release", assignment, assignment + ".ipynb"), as_version=4)
    return nbk.with_answers(nb, answers)


MUTANT_WRAPPER = '''

def _course_mutant(f):
    """Demo-class mutant: the same function with its first float output nudged by 0.01 (else an int by 1,
    else a bool flipped)."""
    import functools
    import numpy as _np

    def nudge(v, kind):
        """(v with its first entry of ``kind`` moved, True) or (v, False); kind is "float" or "int"."""
        if kind == "float" and isinstance(v, _np.ndarray) and v.size and v.dtype.kind == "f":
            v = v.copy()
            v.flat[0] += 0.01
            return v, True
        if kind == "float" and isinstance(v, float):
            return v + 0.01, True
        if kind == "int" and isinstance(v, (int, _np.integer)) and not isinstance(v, (bool, _np.bool_)):
            return v + 1, True
        if kind == "bool" and isinstance(v, (bool, _np.bool_)):
            return not v, True
        if isinstance(v, dict):
            for k in sorted(v):
                new, done = nudge(v[k], kind)
                if done:
                    return {**v, k: new}, True
        if isinstance(v, (tuple, list)):
            for i, item in enumerate(v):
                new, done = nudge(item, kind)
                if done:
                    return type(v)(list(v[:i]) + [new] + list(v[i + 1:])), True
        return v, False

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        out, done = nudge(f(*args, **kwargs), "float")
        if not done:
            out, done = nudge(out, "int")
        return out if done else nudge(out, "bool")[0]
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


def returns_none(answers):
    """Every function keeps its signature but returns None."""
    return {k: v.split(":\n", 1)[0] + ":\n    return None\n" if v.startswith("def ") else v for k, v in answers.items()}


def demo_class(assignment, root=ROOT):
    """The demo class of one assignment: {student: (notebook or raw text, expected kind, expected outcome)}.

    perfect, blank, partial (the first half of the functions), hostile (patches numpy's comparisons,
    answers nothing), unreadable (not JSON), and one mutant per graded function. Expected kind:
    "full", "zero" or ("lose", [functions]). `make course` grades it; the tests grade it with the
    hostile class of tests/autograde_class.py on top.
    """
    answers = teacher_answers(assignment, root)
    funcs = list(graded_functions(assignment, root))
    nb = lambda a: student_notebook(assignment, a, root)  # noqa: E731
    half = funcs[: len(funcs) // 2]
    hostile = {k: HOSTILE_PATCH + "\n" + v for k, v in returns_none(answers).items()}
    students = {"perfect": (nb(answers), "full", "graded"),
                "blank": (nb({}), "zero", "graded"),
                "partial": (nb({k: answers[k] for k in half}), ("lose", funcs[len(half):]), "graded"),
                "hostile": (nb(hostile), "zero", "graded"),
                "unreadable": ('{"cells": [ this is not JSON', "zero", "unreadable")}
    for f in funcs:
        students[f"mutant_{f}"] = (nb(mutant_answers(assignment, f, root)), ("lose", [f]), "graded")
    return students


def expected_score(assignment, kind, root=ROOT):
    """The score a demo student of ``kind`` must get."""
    funcs = graded_functions(assignment, root)
    total = sum(sum(t.values()) for t in funcs.values())
    if kind == "full":
        return total
    if kind == "zero":
        return 0.0
    return total - sum(sum(funcs[f].values()) for f in kind[1])


def demo(names=None):
    """Write the demo class of every assignment under submitted/."""
    shutil.rmtree(os.path.join(ROOT, "submitted"), ignore_errors=True)
    for a in names or assignments():
        for student, (notebook, _, _) in demo_class(a).items():
            write_submission(student, a, notebook)


def grade(names=None):
    for a in names or assignments():
        # nbgrader exits non-zero when any submission failed; ours never do, but keep going anyway
        run(os.path.join(BIN, "nbgrader"), "autograde", a, "--force", "--log-level=WARN", check=False)
        run(os.path.join(BIN, "nbgrader"), "generate_feedback", a, "--force", "--log-level=WARN", check=False)
    run(os.path.join(BIN, "nbgrader"), "export", "--log-level=WARN")
    return print_table(os.path.join(ROOT, "grades.csv"), demo_expectations(names))


def graded_functions(assignment, root=ROOT):
    """{solution grade_id: [test cell grade_ids that follow it]} in notebook order, with points."""
    return nbk.graded_functions(teacher_notebook(assignment, root))


def print_table(path, expected=None):
    """Print grades.csv as a table; with ``expected`` ({(student, assignment): (score, outcome)}) mark
    each cell that differs with "!" and say how many matched."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    students = sorted({r["student_id"] for r in rows}, key=lambda s: (s.startswith("mutant_"), s))
    course = [a for a in ASSIGNMENTS if any(r["assignment"] == a for r in rows)]
    cell = {(r["student_id"], r["assignment"]): r for r in rows}
    sw = max(12, *(len(s) + 2 for s in students))
    width = max(12, *(len(a) for a in course))
    print("\n" + "student".ljust(sw) + "".join(a.ljust(width + 2) for a in course))
    wrong = []
    for s in students:
        line = s.ljust(sw)
        for a in course:
            r = cell.get((s, a))
            want = (expected or {}).get((s, a))
            if r is None or r["outcome"] == "no submission":       # e.g. another assignment's mutant
                line += ("-" if want is None else "missing !").ljust(width + 2)
                if want is not None:
                    wrong.append(f"{s}/{a}: not in the grades, expected {want[0]:g} {want[1]}")
                continue
            text = f"{float(r['score']):g}/{float(r['max_score']):g}"
            if r["outcome"] != "graded":
                text += f" ({r['outcome']})"
            if want is not None and (abs(float(r["score"]) - want[0]) > 1e-9 or r["outcome"] != want[1]):
                text += " !"
                wrong.append(f"{s}/{a}: {r['score']} {r['outcome']}, expected {want[0]:g} {want[1]}")
            line += text.ljust(width + 2)
        print(line)
    if expected:
        print(f"\n{len(expected) - len(wrong)} of {len(expected)} demo scores as expected" +
              "".join("\n  ! " + w for w in wrong))
    print(f"\ngrades: {os.path.relpath(path, ROOT)}; feedback: feedback/<student>/<assignment>/")
    return wrong


def demo_expectations(names=None):
    """{(student, assignment): (score, outcome)} of the demo class."""
    return {(s, a): (expected_score(a, kind), outcome) for a in names or assignments()
            for s, (_, kind, outcome) in demo_class(a).items()}


def main(argv):
    if argv and argv[0] == "report":
        from tools import report
        return report.main(argv[1:])
    if not argv or argv[0] not in ("release", "demo", "grade", "all"):
        print(__doc__)
        return 2
    names = argv[1:] or None
    if argv[0] in ("release", "all"):
        release(names)
    if argv[0] in ("demo", "all"):
        demo(names)
    if argv[0] in ("grade", "all"):
        if grade(names):
            return 1  # a demo score differs from its expectation: the course is broken
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
