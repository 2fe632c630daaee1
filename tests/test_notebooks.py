"""Every assignment's notebooks: release/ is exactly what nbgrader generates from source/, a release folder
runs on its own (filled in with the teacher's answers: every cell runs and all tests pass; untouched: exactly
its graded test cells fail), and no cell the grader runs needs a demonstration tagged skip-when-grading."""
import ast
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from grading import notebook as nbk
from tools import course

ASSIGNMENTS = course.assignments()
TIMEOUT = 300


def execute(nb, cwd, allow_errors=False):
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": cwd}})
    client.execute()
    return nb


def errors(nb):
    """grade_ids (or cell indices) of the code cells that raised."""
    out = []
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs):
            out.append(nbk.grade_id(c) or i)
    return out


def graded_tests(nb):
    return nbk.test_cell_ids(nb)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_equals_what_nbgrader_generates(assignment, tmp_path, gradebook_template):
    root = tmp_path / "course"
    for name in ("grading", "tools", "utils", "data"):
        shutil.copytree(os.path.join(course.ROOT, name), root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(course.ROOT, "nbgrader_config.py"), root)
    gradebook_template(root)
    (root / "source" / assignment).mkdir(parents=True)
    shutil.copy(os.path.join(course.ROOT, "source", assignment, assignment + ".ipynb"), root / "source" / assignment)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    subprocess.run([sys.executable, "-m", "tools.course", "release", assignment], cwd=root, env=env, check=True,
                   capture_output=True)
    fresh, committed = root / "release" / assignment, os.path.join(course.ROOT, "release", assignment)
    cmp = filecmp.dircmp(fresh, committed, ignore=["__pycache__", ".ipynb_checkpoints"])

    def differences(c, prefix=""):
        diff = [prefix + n for n in c.left_only + c.right_only + c.diff_files if not n.endswith(".ipynb")]
        for n in c.common_files:
            if n.endswith(".ipynb"):
                a, b = (json.load(open(os.path.join(d, n))) for d in (c.left, c.right))
                if a != b:
                    diff.append(prefix + n)
        for n, sub in c.subdirs.items():
            diff += differences(sub, prefix + n + "/")
        return diff
    assert not differences(cmp), f"release/{assignment} is stale: run `python -m tools.course release {assignment}`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_folder_runs_by_itself(assignment, tmp_path):
    shutil.copytree(os.path.join(course.ROOT, "release", assignment), tmp_path / "filled")
    shutil.copytree(os.path.join(course.ROOT, "release", assignment), tmp_path / "blank")
    # The teacher notebook's run: the release is what nbgrader makes of source/ (test above), so the release
    # filled with the teacher's answers is the teacher notebook, run once, in the folder students get.
    filled = course.student_notebook(assignment, course.teacher_answers(assignment))
    try:
        execute(filled, str(tmp_path / "filled"))
    except CellExecutionError as exc:
        pytest.fail(f"the release of {assignment} with the teacher's answers failed:\n{str(exc)[-2000:]}")
    assert graded_tests(filled), "a graded notebook needs test cells"
    blank = nbformat.read(tmp_path / "blank" / (assignment + ".ipynb"), as_version=4)
    execute(blank, str(tmp_path / "blank"), allow_errors=True)
    tests = graded_tests(blank)
    failing = [e for e in errors(blank) if e in tests]
    assert failing == tests, f"untouched release: failing tests {failing}, expected all of {tests}"


def _names(source):
    """(names a cell binds, names it reads) at any depth, IPython magics left out."""
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    bound, read = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (read if isinstance(n.ctx, ast.Load) else bound).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in n.names)
    return bound, read


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_grader_needs_no_demonstration_cell(assignment):
    """A cell tagged skip-when-grading only shows things: no name it binds (a variable, function, import) is
    read by a cell the grader runs, unless that cell binds it too. (That the cells the grader runs are clean
    alone is checked on the perfect demo student's grading, tests/test_autograde.py.)"""
    release = nbformat.read(os.path.join(course.ROOT, "release", assignment, assignment + ".ipynb"), as_version=4)
    tagged = [c for c in release.cells if nbk.skipped_when_grading(c)]
    assert tagged, f"{assignment}: no cell is tagged {nbk.SKIP_TAG}: the grader would run every demonstration"
    filled = course.student_notebook(assignment, course.teacher_answers(assignment))
    canonical = nbk.canonical_notebook(filled, release)
    run = [i["index"] for i in nbk.exec_cells(canonical)]
    demo_names = set().union(*(_names(c.source)[0] for c in tagged))
    run_bound = set().union(*(_names(canonical.cells[i].source)[0] for i in run))
    for i in run:
        needs = (_names(canonical.cells[i].source)[1] & demo_names) - run_bound
        assert not needs, (f"{assignment}: cell {nbk.grade_id(canonical.cells[i]) or i} reads {sorted(needs)}, "
                           f"which only a demonstration cell ({nbk.SKIP_TAG}) sets")
    assert len(run) < sum(c.cell_type == "code" and not nbk.is_test_cell(c) for c in canonical.cells)


def _notebook_paths():
    labs = os.path.join(course.ROOT, "notebooks")
    return ([os.path.join(course.ROOT, "source", a, a + ".ipynb") for a in ASSIGNMENTS]
            + sorted(os.path.join(labs, n) for n in os.listdir(labs) if n.endswith(".ipynb")))


TEXT_WITH_ESCAPE = re.compile(r"\\(?:text|textrm|textit|textbf)\{[^}]*\\[_&%#$]")


@pytest.mark.parametrize("path", _notebook_paths(), ids=os.path.basename)
def test_maths_has_no_escapes_in_text_mode(path):
    """Jupyter's MathJax prints `\\text{max\\_value}` with the backslash: an underscore in maths text goes in a
    code span or in a symbol instead."""
    nb = nbformat.read(path, as_version=4)
    found = [(i, m.group(0)) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
             for m in TEXT_WITH_ESCAPE.finditer(c.source)]
    assert not found, f"{os.path.basename(path)}: escaped characters inside \\text{{}} (cell, text): {found}"


@pytest.mark.parametrize("path", [p for p in _notebook_paths() if os.sep + "notebooks" + os.sep in p],
                         ids=os.path.basename)
def test_lab_is_saved_clean_in_the_course_format(path):
    """A lab is committed as nbformat 4.5 with unique cell ids, the python3 kernel, no outputs, the course's first
    cell (utils from the folder above), imports by namespace and no reseeding of numpy's global generator."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata["kernelspec"] == {"display_name": "Python 3", "language": "python", "name": "python3"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "save the lab without outputs"
    assert len({c.get("id") for c in nb.cells} - {None}) == len(nb.cells), "every cell needs a unique id"
    first = code[0].source.splitlines()
    assert first[0] == "import os, sys" and first[1].startswith('sys.path.insert(0, os.path.abspath(".."))')
    text = "\n".join(c.source for c in code)
    assert "import *" not in text and "np.random.seed" not in text
