"""``nbgrader export`` plugin: nbgrader's grade columns plus the outcome of each submission.

outcome is one of: graded, timed out, out of memory, crashed, unreadable, refused, grader error,
no submission.
An honest zero reads "graded" with score 0; a submission that could not run says why in ``cause``.

Beside grades.csv (same folder), grades_by_function.csv has one row per student and graded test cell:
FUNCTION_COLUMNS, with the graded function the test cell belongs to, whether it passed and the kinds of
its failures (FAILURE_KINDS). tools/report.py reads the same rows (``function_rows``).
"""
import csv
import os
import re

import nbformat
from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin

from . import notebook as nbk
from .nbgrader_plugin import course_root, load_report
from .spec import KINDS
from .spec import failure_kind as failure_kind_of

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score", "outcome", "cause"]
SEVERITY = ["grader error", "refused", "unreadable", "crashed", "out of memory", "timed out", "graded"]
FUNCTION_COLUMNS = ["assignment", "student_id", "grade_id", "function", "score", "max_score", "passed",
                    "failure_kinds"]
FUNCTIONS_CSV = "grades_by_function.csv"

FAILURE_KINDS = list(KINDS)   # "raised" stands for "raised <exception name>"


def failure_kind(message):
    """The kind of one failure line of a grading report (checks[gid]["failures"][i], "hidden check 'name': "
    and up to three failures joined by "; "), for reports written before the grader recorded each case's kind:
    the kind ``spec.failure_kind`` gives the case's first failure. (``core.judge`` reads all of a case's failures
    together, and the reports it writes carry that kind per case, so this reading serves older reports only.)"""
    text = str(message)
    head = re.match(r"^(hidden|visible) check '.*?': ", text)
    text = text[head.end():] if head else text
    return failure_kind_of(text.split("; ")[0])


def check_failures(check):
    """[(kind, example message)] of the failed cases of one check of a report: from its per-case list when the
    grader wrote one (checks[gid]["cases"], each with its "kind"), else from the failure messages."""
    messages = [str(m) for m in check.get("failures", [])]
    cases = check.get("cases")
    if isinstance(cases, list) and cases:
        out = []
        for case in cases:
            if not isinstance(case, dict) or case.get("passed", True):
                continue
            name = str(case.get("name", ""))
            text = next((m for m in messages if f"'{name}'" in m), messages[0] if messages else "")
            out.append((str(case.get("kind") or failure_kind(text)), text))
        if out:
            return out
    return [(failure_kind(m), m) for m in messages]


def graded_functions(root, assignment, notebook):
    """{graded function: [its test cell grade_ids]} in notebook order, read from
    release/<assignment>/<notebook>.ipynb ({} when the release is missing: a grade_id then stands for its
    function)."""
    path = os.path.join(root, "release", assignment, notebook + ".ipynb")
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return {}
    return {func: list(tests) for func, tests in nbk.graded_functions(nb).items()}


def _unique(items):
    return list(dict.fromkeys(items))


def function_rows(gradebook, root, assignments=None, students=None):
    """One dict per student x graded test cell (FUNCTION_COLUMNS, plus "notebook"), in gradebook order.

    score and max_score come from the gradebook; passed and failure_kinds from the grading report. A student
    without a submission scores 0 with failure kind "no submission"; a submission without a report (not
    autograded yet) has passed "" and failure kind "not autograded"."""
    rows = []
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        cells = []  # (notebook, grade_id, function, max_score) in notebook order
        for notebook in sorted(assignment.notebooks, key=lambda n: n.name):
            order = [(gid, func) for func, tests in graded_functions(root, assignment.name, notebook.name).items()
                     for gid in tests]
            rank, funcs = {gid: i for i, (gid, _) in enumerate(order)}, dict(order)
            for cell in sorted(notebook.grade_cells, key=lambda c: (rank.get(c.name, len(rank)), c.name)):
                cells.append((notebook.name, cell.name, funcs.get(cell.name, cell.name), cell.max_score))
        for student in gradebook.students:
            if students and student.id not in students:
                continue
            try:
                gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                submitted = False
            else:
                submitted = True
            reports = {r.get("notebook"): r for r in load_report(root, assignment.name, student.id)} \
                if submitted else {}
            for notebook, gid, func, max_score in cells:
                row = {"assignment": assignment.name, "student_id": student.id, "grade_id": gid,
                       "function": func, "max_score": max_score, "notebook": notebook}
                if not submitted:
                    rows.append(dict(row, score=0.0, passed=False, failure_kinds="no submission"))
                    continue
                try:
                    grade = gradebook.find_grade(gid, notebook, assignment.name, student.id)
                    score = grade.score
                except MissingEntry:
                    score = 0.0
                check = (reports.get(notebook) or {}).get("checks", {}).get(gid)
                if check is None:
                    rows.append(dict(row, score=score, passed="", failure_kinds="not autograded"))
                    continue
                kinds = _unique(k for k, _ in check_failures(check))
                rows.append(dict(row, score=score, passed=bool(check.get("passed")), failure_kinds="; ".join(kinds)))
    return rows


def write_function_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FUNCTION_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class OutcomeCsvExport(ExportPlugin):
    def export(self, gradebook):
        dest = self.to or "grades.csv"
        root = course_root() or os.getcwd()
        only_a = {str(a) for a in self.assignment}
        only_s = {str(s) for s in self.student}
        with open(dest, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if only_a and assignment.name not in only_a:
                    continue
                for student in gradebook.students:
                    if only_s and student.id not in only_s:
                        continue
                    row = {"assignment": assignment.name, "duedate": assignment.duedate or "",
                           "student_id": student.id, "last_name": student.last_name or "",
                           "first_name": student.first_name or "", "email": student.email or "",
                           "max_score": assignment.max_score}
                    try:
                        sub = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0,
                                   outcome="no submission", cause="")
                    else:
                        reports = load_report(root, assignment.name, student.id)
                        worst = min(reports, key=lambda r: SEVERITY.index(r["outcome"])) if reports else None
                        row.update(timestamp=sub.timestamp or "", raw_score=sub.score,
                                   late_submission_penalty=sub.late_submission_penalty,
                                   score=max(0.0, sub.score - sub.late_submission_penalty),
                                   outcome=worst["outcome"] if worst else "not autograded",
                                   cause=worst["cause"] if worst else "")
                    writer.writerow(row)
        by_function = os.path.join(os.path.dirname(os.path.abspath(dest)), FUNCTIONS_CSV)
        write_function_csv(by_function, function_rows(gradebook, root, only_a, only_s))
        self.log.info("Exported grades with outcomes to %s and per-function grades to %s", dest, by_function)
