"""Instructor-side grading for the course: nothing here is shipped to students.

plan         the data-only language in which a check asks a submission to call its functions
runner       runs inside the sandbox: executes a submission's cells, then the plans
sandbox      starts the runner in a namespace sandbox with resource limits
core         grades one submission: job, sandbox run, retries, verdicts against the teacher's reference
nbgrader_plugin  hooks all of this into plain ``nbgrader autograde``
export       grades.csv with the outcome of every submission
specs/<id>.py    the hidden checks of each assignment
"""
