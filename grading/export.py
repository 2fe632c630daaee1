"""``nbgrader export`` plugin: nbgrader's grade columns plus the outcome of each submission.

outcome is one of: graded, timed out, out of memory, crashed, unreadable, refused, grader error,
no submission.
An honest zero reads "graded" with score 0; a submission that could not run says why in ``cause``.
"""
import csv
import os

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin

from .nbgrader_plugin import course_root, load_report

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score", "outcome", "cause"]
SEVERITY = ["grader error", "refused", "unreadable", "crashed", "out of memory", "timed out", "graded"]


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
        self.log.info("Exported grades with outcomes to %s", dest)
