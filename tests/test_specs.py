"""One source of truth for the hidden checks: grading/specs/<id>.py, one entry per graded test cell."""
import os

import nbformat
import pytest

from grading import core
from grading import notebook as nbk
from grading.spec import TeacherFailure
from tools import course


@pytest.mark.parametrize("assignment", course.assignments())
def test_every_graded_test_cell_has_its_spec_entry_and_back(assignment):
    for folder in ("source", "release"):
        nb = nbformat.read(os.path.join(course.ROOT, folder, assignment, assignment + ".ipynb"), as_version=4)
        ids = nbk.test_cell_ids(nb)
        assert ids, f"{folder}/{assignment} has no graded test cells"
        assert sorted(ids) == sorted(core.load_spec(assignment).CHECKS), folder
        core.check_spec_matches(assignment, nb)


@pytest.mark.parametrize("assignment", course.assignments())
def test_notebooks_hold_no_second_copy_of_the_hidden_checks(assignment):
    nb = course.teacher_notebook(assignment)
    assert not [nbk.grade_id(c) for c in nb.cells if nbk.HIDDEN_BEGIN in c.source], \
        "hidden checks live in grading/specs/ only"


def test_an_assignment_without_a_spec_fails_loudly():
    with pytest.raises(TeacherFailure, match="no hidden checks"):
        core.load_spec("no_such_assignment")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("assert True")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "made_up_cell", "points": 1}
    nb.cells = [cell]
    with pytest.raises(TeacherFailure, match="made_up_cell"):
        core.check_spec_matches("rnn_step_by_step", nb)
