"""The demo class of every finished assignment, graded by plain `nbgrader autograde`.

One batch per assignment holds perfect, blank, one mutant per graded function and the hostile submissions of
tests/autograde_class.py (those aimed at the grader itself, and the damaged notebooks, in one assignment's batch
only); each must get exactly its expected score and outcome, and the batch must complete.
"""
import csv
import os

import nbformat
import pytest

from grading import notebook as nbk
from tests import autograde_class as ac
from tools import course

ASSIGNMENTS = course.assignments()  # every assignment has a spec (tests/test_specs.py)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    return ac.shared_class(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def mechanisms(tmp_path_factory):
    """The class that holds the grader-mechanism submissions (tests/autograde_class.MECHANISMS_ON)."""
    return ac.shared_class(ac.MECHANISMS_ON, tmp_path_factory)


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


def test_the_perfect_submission_runs_every_graded_cell_clean(graded):
    """The cells the grader runs (demonstrations tagged skip-when-grading left out) need nothing a demonstration
    sets: with the teacher's answers not one of them raises (tests/test_notebooks.py checks the names)."""
    cells = graded["reports"]["perfect"]["cells"]
    raised = {i: c["error"] for i, c in cells.items() if c["error"]}
    assert cells and not raised, f"{graded['assignment']}: graded cells raised without the demonstrations: {raised}"


def test_mutants_lose_exactly_their_own_test_cells(graded):
    funcs = _points(graded["assignment"])
    for f, tests in funcs.items():
        checks = graded["reports"][f"mutant_{f}"]["checks"]
        failed = {k for k, v in checks.items() if not v["passed"]}
        assert failed == set(tests), f"mutant of {f} failed {sorted(failed)}, expected {sorted(tests)}"


def test_demo_outcomes_name_their_cause(graded):
    r = graded["reports"]
    assert "not a valid notebook" in r["unreadable"]["cause"]
    assert graded["rows"]["blank"]["outcome"] == "graded"  # an honest zero reads as graded
    # the unreadable file was kept for the instructor
    kept = os.path.join(graded["root"], "submitted", "unreadable", graded["assignment"],
                        graded["assignment"] + ".ipynb.unreadable")
    assert open(kept).read().startswith('{"cells": [ this is not JSON')


def test_outcomes_name_their_cause(mechanisms):
    r = mechanisms["reports"]
    assert "cell" in r["os_exit"]["cause"] and "exit status 3" in r["os_exit"]["cause"]
    assert "cell" in r["swallow_interrupt"]["cause"] and "exceeded" in r["swallow_interrupt"]["cause"]
    assert "memory" in r["memory_hog"]["cause"].lower()
    assert "symbolic link" in r["symlink_teacher"]["cause"]
    folder = os.path.join(mechanisms["root"], "submitted", "symlink_teacher", mechanisms["assignment"])
    name = mechanisms["assignment"] + ".ipynb"
    assert not os.path.islink(os.path.join(folder, name))  # replaced, never followed
    assert "source" in open(os.path.join(folder, name + ".link.txt")).read()
    assert r["forged_setup_failure"]["outcome"] == "crashed" and "exit status 121" in r["forged_setup_failure"]["cause"]
    for student in ("forged_events", "pipe_flood"):
        assert r[student]["outcome"] == "graded", r[student]["cause"]
    assert any("forged into 2 pipes" in c["output"] for c in r["forged_events"]["cells"].values())


def test_student_code_reached_neither_network_nor_teacher_files(mechanisms):
    assert mechanisms["connections"] == 0
    cells = mechanisms["reports"]["read_teacher"]["cells"].values()
    assert any("teacher notebooks found: []" in c["output"] for c in cells)
    assert any("no network" in c["output"] for c in mechanisms["reports"]["network"]["cells"].values())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_damaged_notebooks_grade_as_the_perfect_one(assignment):
    """An honest student's damaged notebook (tests deleted or duplicated, ids renamed or new) is rebuilt into the
    perfect notebook's canonical form, so it runs the same cells and earns the same score (graded end to end,
    through nbgrader, on MECHANISMS_ON)."""
    release = nbformat.read(os.path.join(course.ROOT, "release", assignment, assignment + ".ipynb"), as_version=4)
    perfect = course.student_notebook(assignment, course.teacher_answers(assignment))

    def canonical(nb):
        return [(c.cell_type, c.source, nbk.nbgrader_meta(c)) for c in nbk.canonical_notebook(nb, release).cells]
    want = canonical(perfect)
    for kind in ac.DAMAGES:
        d = ac.damaged(perfect, kind)
        assert canonical(nbformat.reads(nbformat.writes(d, version=4), as_version=4)) == want, \
            f"{assignment}: a notebook with {kind} is not rebuilt into the perfect one's canonical form"
    assert want != canonical(ac.damaged(course.student_notebook(assignment, {}), "renamed_ids"))


def test_feedback_is_written_for_every_student_asked(graded):
    a = graded["assignment"]
    asked = ac.feedback_students(a, graded["students"])
    missing = [s for s in sorted(asked) if not os.path.exists(os.path.join(graded["root"], "feedback", s, a, a + ".html"))]
    unreadable_or_refused = {s for s, (_, outcome) in graded["students"].items() if outcome in ("unreadable", "refused")}
    assert "perfect" in asked and not set(missing) - unreadable_or_refused, f"{a}: no feedback for {missing}"


def test_feedback_never_shows_hidden_tests(graded):
    a = graded["assignment"]
    for student in ("perfect", "blank", f"mutant_{next(iter(_points(a)))}"):
        path = os.path.join(graded["root"], "feedback", student, a, a + ".html")
        html = open(path).read()
        assert "HIDDEN TESTS" not in html and "Autograder outcome" in html
        auto = open(os.path.join(graded["root"], "autograded", student, a, a + ".ipynb")).read()
        assert "HIDDEN TESTS" not in auto


def test_feedback_reads_offline_names_functions_and_keeps_figures(graded):
    """The feedback page loads nothing from the internet (maths pre-rendered as MathML, no MathJax), titles each
    test cell with its function in the contents list, shows the diagrams (markdown attachments) and says plainly
    that a blank function is not answered yet, counting only the checks that ran."""
    import re
    a = graded["assignment"]
    html = open(os.path.join(graded["root"], "feedback", "blank", a, a + ".html")).read()
    assert not re.search(r"mathjax|cdnjs|<script[^>]+src=\"https?:", html, re.I), f"{a}: the feedback loads a script"
    release = nbformat.read(os.path.join(course.ROOT, "release", a, a + ".ipynb"), as_version=4)
    if any("$" in c.source for c in release.cells if c.cell_type == "markdown"):
        assert "<math" in html and "$$" not in html, f"{a}: maths not pre-rendered"
    titles = re.findall(r'<li class="(?:passed|failed)"><a href="#([\w-]+)">([\w ]+)</a>', html)
    want = {test: func for func, tests in _points(a).items() for test in tests}
    assert titles and dict(titles) == want, f"{a}: contents list {titles} should name {want}"
    attachments = sum(len(c.get("attachments", {})) for c in release.cells if c.cell_type == "markdown")
    assert html.count("data:image/png;base64") >= attachments, f"{a}: diagrams missing from the feedback"
    assert html.count("not answered yet") == len(want), f"{a}: a blank function should read 'not answered yet'"


# the submissions of autograde_class.build_class whose own code does what the integrity scan looks for
FLAGGED = {"hostile", "patch_numpy", "patch_helpers", "input_transformer", "ipython_hooks", "read_teacher", "os_exit",
           "forged_events", "forged_setup_failure", "pipe_flood", "network"}
HONEST = {"perfect", "blank", "partial", "stderr_noise", *ac.DAMAGES}


def test_class_report_and_per_function_grades(mechanisms):
    """The class report of the graded class (tools/report.py; no new grading): the hostile submissions are flagged,
    the honest ones are not, the runs that did not end normally are listed; grades_by_function.csv has one row per
    student and graded test cell, which adds up to grades.csv's score."""
    from grading import export
    from tools import report
    root, a = mechanisms["root"], mechanisms["assignment"]
    out = os.path.join(root, "reports", "class.html")
    assert report.main([a, "--out", out], root=root) == 0
    data = report.collect(root, a)
    flagged = {s["id"] for s in data["students"] if s["flags"]}
    assert FLAGGED <= flagged, f"not flagged: {sorted(FLAGGED - flagged)}"
    assert not flagged & (HONEST | {s for s in mechanisms["students"] if s.startswith("mutant_")}), \
        f"honest submissions flagged: {sorted(flagged & HONEST)}"
    abnormal = {s["id"] for s in report.summarize(data)["abnormal"]}
    assert {s for s, (_, outcome) in mechanisms["students"].items() if outcome != "graded"} == abnormal
    page = open(out).read()
    assert all(s in page for s in FLAGGED | abnormal)
    with open(os.path.join(root, export.FUNCTIONS_CSV)) as f:
        rows = list(csv.DictReader(f))
    cells = [g for tests in _points(a).values() for g in tests]
    assert len(rows) == len(mechanisms["rows"]) * len(cells)
    for student, row in mechanisms["rows"].items():
        mine = [r for r in rows if r["student_id"] == student]
        assert sorted(r["grade_id"] for r in mine) == sorted(cells)
        assert abs(sum(float(r["score"]) for r in mine) - float(row["raw_score"])) < 1e-9, student
    assert {r["failure_kinds"] for r in rows if r["student_id"] == "blank"} == {"not answered"}
    assert {r["passed"] for r in rows if r["student_id"] == "perfect"} == {"True"}
