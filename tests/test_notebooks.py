"""Every assignment's notebooks: the teacher notebook runs clean, release/ is exactly what nbgrader
generates from source/, and a release folder runs on its own (filled in: all tests pass; untouched:
exactly its graded test cells fail)."""
import filecmp
import json
import os
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
def test_teacher_notebook_runs_and_passes_its_tests(assignment, tmp_path):
    course.sync_support(assignment, str(tmp_path))
    nb = nbformat.read(os.path.join(course.ROOT, "source", assignment, assignment + ".ipynb"), as_version=4)
    try:
        execute(nb, str(tmp_path))
    except CellExecutionError as exc:
        pytest.fail(f"the teacher notebook of {assignment} failed:\n{str(exc)[-2000:]}")
    assert graded_tests(nb), "a graded notebook needs test cells"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_equals_what_nbgrader_generates(assignment, tmp_path):
    root = tmp_path / "course"
    for name in ("grading", "tools", "utils", "data"):
        shutil.copytree(os.path.join(course.ROOT, name), root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(course.ROOT, "nbgrader_config.py"), root)
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
    filled = course.student_notebook(assignment, course.teacher_answers(assignment))
    try:
        execute(filled, str(tmp_path / "filled"))
    except CellExecutionError as exc:
        pytest.fail(f"the release of {assignment} with the teacher's answers failed:\n{str(exc)[-2000:]}")
    blank = nbformat.read(tmp_path / "blank" / (assignment + ".ipynb"), as_version=4)
    execute(blank, str(tmp_path / "blank"), allow_errors=True)
    tests = graded_tests(blank)
    failing = [e for e in errors(blank) if e in tests]
    assert failing == tests, f"untouched release: failing tests {failing}, expected all of {tests}"
