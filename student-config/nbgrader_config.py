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

# Validate's report, made short. nbgrader prints the whole source and the whole traceback of every failing cell:
# 863 lines for a blank rnn_step_by_step, where the one line that matters (the message) sits at the bottom of
# each block. Here a failing cell is named by its first line (a test cell's first line says what it checks) and
# its error by the exception's last line and any hint after it.
import re as _re  # noqa: E402

from nbconvert.filters import strip_ansi as _strip_ansi  # noqa: E402
from nbgrader import validator as _validator  # noqa: E402

_EXCEPTION_LINE = _re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")


def _short_error(self, source, error):
    title = next((line.strip().strip('"').strip() for line in source.splitlines() if line.strip()), "(empty cell)")
    lines = [line.rstrip() for line in _strip_ansi(error).splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    message = lines[starts[-1]:] if starts else lines[-3:]
    if message and message[0].startswith("NotImplementedError"):
        message = ["not answered yet (the function still raises NotImplementedError)"]
    self.stream.write("\n" + "-" * 60 + "\n")
    self.stream.write("Failed: " + title[:120] + "\n")
    self.stream.write("\n".join("    " + line[:300] for line in message[:6]) + "\n")


_validator.Validator._print_error = _short_error
