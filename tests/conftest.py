import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("MPLBACKEND", "Agg")
# One BLAS thread per process: `make test` runs three pytest workers on two cores, and each starts kernels, graders
# and clusters of its own. A second BLAS thread per process only waits for a core, spinning: measured on the whole
# suite, 670 s of CPU and 314-353 s with BLAS's default, 543 s of CPU and 278 s with one thread. Set before numpy
# is imported anywhere (the xdist workers and every process the tests start inherit it); a value the caller set
# wins. tests/test_threads.py removes the variables where it tests the policy that reads them.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def gradebook_template(tmp_path_factory):
    """copy_into(course_root): an empty nbgrader gradebook, made once per test run (tests/autograde_class.py)."""
    from tests import autograde_class
    return lambda course_root: autograde_class.copy_gradebook(tmp_path_factory, course_root)


def pytest_collection_finish(session):
    """Under xdist, each worker starts grading its share of the classes tests/test_autograde.py needs, in the
    background, while it runs other tests (xdist's loadgroup does not keep a class's tests on one worker with
    this pytest, so without this one worker would idle on the other's lock)."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not worker or not count or session.config.option.collectonly:
        return
    from tests import autograde_class
    needed = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "graded" in params:
            needed.add(params["graded"])
        elif "mechanisms" in getattr(item, "fixturenames", ()):
            needed.add(autograde_class.MECHANISMS_ON)
    if needed:
        share = autograde_class.share_out(needed, int(count))[int(worker.lstrip("gw"))]
        factory = session.config._tmp_path_factory
        factory.getbasetemp()          # made here, before the thread: two threads making it at once collide
        autograde_class.grade_in_background(share, factory)


def pytest_configure(config):
    """The controller of an xdist run picks the run's id itself (xdist would make one up otherwise), so that it
    knows which shared folder of tests/labs.py to remove at the end."""
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER") \
            and getattr(config.option, "testrunuid", "unset") is None:
        import uuid
        config.option.testrunuid = uuid.uuid4().hex


def pytest_sessionfinish(session):
    run = getattr(session.config.option, "testrunuid", None)
    if run and not os.environ.get("PYTEST_XDIST_WORKER"):
        import shutil
        import tempfile
        shutil.rmtree(os.path.join(tempfile.gettempdir(), f"course-labs-{run}"), ignore_errors=True)
