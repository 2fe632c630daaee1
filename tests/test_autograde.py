"""The demo class of every finished assignment, graded by plain `nbgrader autograde`.

One batch holds perfect, blank, one mutant per graded function and the hostile and damaged
submissions of tests/autograde_class.py; each must get exactly its expected score and outcome,
and the batch must complete.
"""
import fcntl
import os
import pickle

import pytest

from tests import autograde_class as ac
from tools import course

ASSIGNMENTS = course.assignments()  # every assignment has a spec (tests/test_specs.py)


# Each assignment's class is graded once per test session. A parametrized module fixture holds one parameter
# at a time and pytest-xdist may send an assignment's tests to both workers, so the graded class is kept in
# this process (_GRADED) and shared between the workers of one run through a file under a lock: the first
# worker grades it (nbgrader already uses every core), the other waits and reads the result.
_GRADED = {}


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    assignment = request.param
    if assignment in _GRADED:
        return _GRADED[assignment]
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:                                     # one process: nothing to share
        _GRADED[assignment] = _grade_class(assignment, tmp_path_factory)
        return _GRADED[assignment]
    shared = tmp_path_factory.getbasetemp().parent      # the same folder for every worker of this run
    with open(shared / f"graded-{run}-{assignment}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / f"graded-{run}-{assignment}.pickle"
        if done.exists():
            _GRADED[assignment] = pickle.loads(done.read_bytes())
        else:
            _GRADED[assignment] = _grade_class(assignment, tmp_path_factory)
            done.write_bytes(pickle.dumps(_GRADED[assignment]))
    return _GRADED[assignment]


def _grade_class(assignment, tmp_path_factory):
    root = str(tmp_path_factory.mktemp(assignment))
    ac.make_course(root, assignment)
    listener = ac.Listener()
    students = ac.build_class(root, assignment, listener.port)
    # seed_scope "run": one fresh seed for the whole class, so the teacher's reference answers each hidden check
    # once (half the CPU of this batch); fresh inputs per submission are tested in test_grading_hostile.py.
    rows, reports, log = ac.autograde(root, assignment, env={
        "COURSE_GRADING_CELL_TIMEOUT": "30", "COURSE_GRADING_CASE_TIMEOUT": "60", "COURSE_GRADING_MEMORY_MB": "2048",
        "COURSE_GRADING_SEED_SCOPE": "run"})
    listener.stop = True
    return dict(assignment=assignment, root=root, students=students, rows=rows, reports=reports,
                log=log, connections=listener.connections)


def _points(assignment):
    return course.graded_functions(assignment)


def test_every_student_gets_the_expected_score_and_outcome(graded):
    problems = []
    for student, (kind, outcome) in graded["students"].items():
        row = graded["rows"].get(student)
        if row is None:
            problems.append(f"{student}: missing from grades.csv")
            continue
        want = course.expected_score(graded["assignment"], kind)
        if abs(float(row["score"]) - want) > 1e-9 or row["outcome"] != outcome:
            failures = graded["reports"].get(student, {}).get("checks", {})
            why = {k: v["failures"][:1] for k, v in failures.items() if not v["passed"]}
            problems.append(f"{student}: score {row['score']} outcome {row['outcome']!r}, expected {want} "
                            f"{outcome!r}; cause {row['cause']!r}; failing {why}")
    assert not problems, "\n".join(problems) + "\n" + graded["log"][-3000:]


def test_mutants_lose_exactly_their_own_test_cells(graded):
    funcs = _points(graded["assignment"])
    for f, tests in funcs.items():
        checks = graded["reports"][f"mutant_{f}"]["checks"]
        failed = {k for k, v in checks.items() if not v["passed"]}
        assert failed == set(tests), f"mutant of {f} failed {sorted(failed)}, expected {sorted(tests)}"


def test_outcomes_name_their_cause(graded):
    r = graded["reports"]
    assert "cell" in r["os_exit"]["cause"] and "exit status 3" in r["os_exit"]["cause"]
    assert "cell" in r["swallow_interrupt"]["cause"] and "exceeded" in r["swallow_interrupt"]["cause"]
    assert "memory" in r["memory_hog"]["cause"].lower()
    assert "not a valid notebook" in r["unreadable"]["cause"]
    assert graded["rows"]["blank"]["outcome"] == "graded"  # an honest zero reads as graded
    assert "symbolic link" in r["symlink_teacher"]["cause"]
    folder = os.path.join(graded["root"], "submitted", "symlink_teacher", graded["assignment"])
    name = graded["assignment"] + ".ipynb"
    assert not os.path.islink(os.path.join(folder, name))  # replaced, never followed
    assert "source" in open(os.path.join(folder, name + ".link.txt")).read()
    assert r["forged_setup_failure"]["outcome"] == "crashed" and "exit status 121" in r["forged_setup_failure"]["cause"]
    for student in ("forged_events", "pipe_flood"):
        assert r[student]["outcome"] == "graded", r[student]["cause"]
    assert any("forged into 2 pipes" in c["output"] for c in r["forged_events"]["cells"].values())
    # the unreadable file was kept for the instructor
    kept = os.path.join(graded["root"], "submitted", "unreadable", graded["assignment"],
                        graded["assignment"] + ".ipynb.unreadable")
    assert open(kept).read().startswith('{"cells": [ this is not JSON')


def test_student_code_reached_neither_network_nor_teacher_files(graded):
    assert graded["connections"] == 0
    cells = graded["reports"]["read_teacher"]["cells"].values()
    assert any("teacher notebooks found: []" in c["output"] for c in cells)
    assert any("no network" in c["output"] for c in graded["reports"]["network"]["cells"].values())


def test_feedback_never_shows_hidden_tests(graded):
    a = graded["assignment"]
    for student in ("perfect", "blank", f"mutant_{next(iter(_points(a)))}"):
        path = os.path.join(graded["root"], "feedback", student, a, a + ".html")
        html = open(path).read()
        assert "HIDDEN TESTS" not in html and "Autograder outcome" in html
        auto = open(os.path.join(graded["root"], "autograded", student, a, a + ".ipynb")).read()
        assert "HIDDEN TESTS" not in auto
