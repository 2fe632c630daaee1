"""nbgrader settings of the course. Plain nbgrader commands pick this file up from the course root.

The autograder is the course's own (grading/): every score is decided outside the student's
process, in a sandbox per submission, in parallel. See README, "Grading".
"""
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from grading.nbgrader_plugin import configure  # noqa: E402

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "sequence-models"
c.CourseDirectory.root = ROOT
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.Execute.timeout = 120          # per cell, used by nbgrader's own execution (validate)
c.Execute.kernel_name = "python3"
c.ClearMetadataPreprocessor.enabled = False

configure(
    c,
    course_root=ROOT,
    cell_timeout=60,          # seconds one cell of a submission may run
    case_timeout=60,          # seconds one hidden check may run
    submission_timeout=600,   # seconds for a whole submission, all restarts included
    memory_mb=3072,           # address-space cap of the student's process
    processes=64,             # process cap inside the sandbox
    workers=None,             # parallel submissions (None: all cores)
    seed_scope="submission",  # fresh hidden inputs per submission; "run": one seed per grading run (less CPU)
    allow_unsandboxed=False,  # True only where the host cannot sandbox, knowingly
    dask_scheduler=None,      # "tcp://host:8786": sandboxed runs on a Dask cluster (README: "Grading on several machines")
)
