"""nbgrader settings of a student's JupyterLab (make student / python -m tools.student).

JupyterLab started by tools/student.py reads this folder as its JUPYTER_CONFIG_DIR, so nbgrader's
Assignment List and Validate button find the course here; the instructor's nbgrader_config.py at the
course root is not used by the student side. The exchange is a folder of the student's workspace
(tools/student.py creates it): the Assignment List lists the course's releases from it, and its
Submit button leaves a timestamped copy of the assignment there (a local copy, not a hand-in).
"""
import os

WORKSPACE = os.environ.get("COURSE_STUDENT_WORKSPACE") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "student")

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "sequence-models"
c.Exchange.root = os.path.join(WORKSPACE, ".nbgrader", "exchange")
c.Exchange.cache = os.path.join(WORKSPACE, ".nbgrader", "cache")
c.Execute.timeout = 120          # per cell, when the Validate button runs the notebook
c.Execute.kernel_name = "python3"
