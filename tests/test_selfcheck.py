"""utils/selfcheck.py: the student's check on fresh random sizes before submitting.

The teacher's notebooks pass it; a notebook whose rnn_forward hard-codes n_a = 5 (the notebook's visible size)
fails it on that function; the blank release notebooks read "not answered yet" for every function; it never
raises out of a broken function, stops an endless one, and holds no answer key.
"""
import ast
import os
import subprocess
import sys

import nbformat
import pytest

from grading import notebook as nbk
from tools import course
from utils import selfcheck

ASSIGNMENTS = course.assignments()


def _teacher(assignment):
    return os.path.join(course.ROOT, "source", assignment, assignment + ".ipynb")


def _with_answer(tmp_path, assignment, grade_id, edit):
    """A copy of the teacher notebook (same file name, in tmp_path) with ``edit`` applied to one solution cell."""
    nb = nbformat.read(_teacher(assignment), as_version=4)
    cell = next(c for c in nb.cells if nbk.grade_id(c) == grade_id)
    new = edit(cell.source)
    assert new != cell.source
    cell.source = new
    path = tmp_path / (assignment + ".ipynb")
    nbformat.write(nb, str(path))
    return str(path)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_teacher_notebooks_pass(assignment):
    out = selfcheck.results(_teacher(assignment))
    assert list(out) == list(selfcheck.ASSIGNMENTS[assignment][2])
    assert set(out) == set(course.graded_functions(assignment)), "the self-check covers every graded function"
    assert {k: v for k, v in out.items() if v != "ok"} == {}


def test_a_hard_coded_size_fails_and_names_the_function(tmp_path, capsys):
    line = 'n_y, n_a = parameters["Wya"].shape'
    path = _with_answer(tmp_path, "rnn_step_by_step", "rnn_forward",
                        lambda src: src.replace(line, 'n_y, n_a = parameters["Wya"].shape[0], 5'))
    selfcheck.run(path)
    printed = capsys.readouterr().out
    row = next(r for r in printed.splitlines() if r.strip().startswith("rnn_forward "))
    assert "did you hard-code a size?" in row and "n_a = " in row, row
    assert "rnn_cell_forward    ok" in printed
    assert "rnn_backward        not checked yet: the check uses your rnn_forward" in printed
    assert "1 with a problem" in printed


def test_a_column_mixing_cell_fails(tmp_path):
    """A cell that mixes the examples of the batch (each column gets a little of another) fails the per-example
    check: its shapes, ranges and softmax are all fine."""
    path = _with_answer(tmp_path, "rnn_step_by_step", "rnn_cell_forward",
                        lambda src: src.replace("return a_next, yt_pred, cache",
                                                "a_next = 0.9 * a_next + 0.1 * a_next[:, ::-1]\n"
                                                "    return a_next, yt_pred, cache"))
    out = selfcheck.results(path, seed=7)
    assert "a_next of the first" in out["rnn_cell_forward"], out["rnn_cell_forward"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_blank_notebook_reads_not_answered_yet(assignment):
    out = selfcheck.results(os.path.join(course.ROOT, "release", assignment, assignment + ".ipynb"))
    assert set(out.values()) == {"not answered yet"}, out


def test_a_broken_function_does_not_stop_the_others_and_an_endless_one_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(selfcheck, "TIME_LIMIT", 1)
    nb = nbformat.read(_teacher("dinosaur_island"), as_version=4)
    for cell in nb.cells:
        if nbk.grade_id(cell) == "clip":
            cell.source = "def clip(gradients, max_value):\n    while True:\n        pass\n"
        elif nbk.grade_id(cell) == "sample":
            cell.source = "def sample(parameters, char_to_ix, rng):\n    return [1, 2][5]\n"
    path = tmp_path / "dinosaur_island.ipynb"
    nbformat.write(nb, str(path))
    out = selfcheck.results(str(path))
    assert out["clip"].startswith("took longer than 1 s"), out
    assert out["sample"].startswith("raised IndexError in sample, line 2"), out
    assert out["optimize"].startswith("not checked yet") and out["model"].startswith("not checked yet"), out


def test_in_the_notebook_run_reads_the_callers_namespace(capsys):
    ns = {"__name__": "__main__"}
    exec("import numpy as np\nfrom utils import activations, char_model", ns)
    course.teacher_namespace("dinosaur_island", ns)
    exec("from utils import selfcheck\nselfcheck.run()", ns)
    printed = capsys.readouterr().out
    assert "Self-check of dinosaur_island" in printed and "4 of 4 ok" in printed, printed


def test_from_a_terminal(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "utils.selfcheck", "--seed", "3",
                           os.path.join("release", "dinosaur_island", "dinosaur_island.ipynb")],
                          cwd=course.ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr
    assert "(seed 3)" in proc.stdout and "0 of 4 ok, 4 not answered yet" in proc.stdout, proc.stdout


def test_it_holds_no_answer_key():
    """It imports no answer-key module and defines none of the graded names (tests/test_releases.py checks the
    rest once it ships: nothing in a release computes a graded function)."""
    with open(os.path.join(course.ROOT, "utils", "selfcheck.py")) as f:
        tree = ast.parse(f.read())
    assert not course.utils_imports(tree) & {"rnn", "nmt", "trigger_model", "char_model"}
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for assignment in ASSIGNMENTS:
        assert not defined & set(course.graded_functions(assignment))
