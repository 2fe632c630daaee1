"""One source of truth for the hidden checks: grading/specs/<id>.py, one entry per graded test cell."""
import os

import nbformat
import numpy as np
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


def test_trigger_spectrogram_checks_fit_in_one_answer():
    """Every random spectrogram check asks for at most 100,000 powers (plus the one 10-second clip of 556,611):
    a hop of one sample over a long signal once made the answer larger than the grader reads (24 MB), and the
    teacher's reference failed on about one seed in thirty."""
    from grading.specs import trigger_word as spec
    largest = 0
    for seed in range(400):
        for case in spec.spectrogram_values(np.random.default_rng(seed)):
            for call in case.plan:
                (samples,), kw = call.args, call.kwargs
                nfft, noverlap = kw.get("nfft", 200), kw.get("noverlap", 120)
                size = (nfft // 2 + 1) * ((len(samples) - noverlap) // (nfft - noverlap))
                if len(samples) != spec.N_SAMPLES:
                    largest = max(largest, size)
                else:
                    assert size == 101 * 5511
    assert 50_000 < largest <= 100_000
