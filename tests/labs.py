"""Run a companion lab (notebooks/<name>.ipynb) the way a student does, top to bottom in a fresh kernel, and
hand back what it computed.

Used by tests/test_lab_*.py. ``run_lab(name, checks)`` executes the lab in notebooks/ (its own folder, as Jupyter
does), then runs ``checks``, extra code cells the test appends, in the same kernel, so a test can check a
number the lab claims without running the lab twice. A check cell reports values with ``report(key, value)``
(JSON-serialisable); run_lab returns {key: value}, the lab's wall time in seconds and the executed notebook.

Under xdist a module's tests may land on both workers (pytest 9.2 + xdist 3.8 do not keep an xdist_group together),
so each worker's module fixture would run the lab: run_lab shares one run per test run between the workers through
a file lock, as tests/autograde_class.py does for the graded classes.
"""
import fcntl
import hashlib
import json
import os
import tempfile
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABS = os.path.join(ROOT, "notebooks")
BUDGET = 60          # seconds a lab may take (issue 15): measured by benchmarks/bench_notebooks.py, not asserted
MARK = "__lab_report__"

REPORT = f"""
import json as _json
def report(key, value):
    print({MARK!r}, _json.dumps([key, value]))
"""


def lab_path(name):
    return os.path.join(LABS, name + ".ipynb")


def reports_of(nb, first=0):
    """{key: value} of every report() line in the outputs of cells[first:] (a cell's stdout joined first: the
    kernel may flush one printed line in two pieces)."""
    reports = {}
    for cell in nb.cells[first:]:
        text = "".join(out.get("text", "") for out in cell.get("outputs", [])
                       if out.get("output_type") == "stream" and out.get("name") == "stdout")
        for line in text.splitlines():
            if line.startswith(MARK + " "):
                key, value = json.loads(line[len(MARK) + 1:])
                reports[key] = value
    return reports


def _execute(name, checks, timeout):
    nb = nbformat.read(lab_path(name), as_version=4)
    n_lab = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    for code in checks:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": LABS}})
    start = time.perf_counter()
    client.execute()
    return reports_of(nb, n_lab), time.perf_counter() - start, nb


def run_lab(name, checks=(), timeout=BUDGET * 3):
    """Execute notebooks/<name>.ipynb plus the code cells ``checks``; return (reports, seconds, notebook).
    A cell that raises fails with the lab's own traceback (nbclient's CellExecutionError). Under xdist the
    first worker to ask runs the lab, and the other reads its result (a failed run is not shared)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        return _execute(name, checks, timeout)
    key = hashlib.sha256(json.dumps([name, list(checks)]).encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"course-labs-{run}")
    os.makedirs(folder, exist_ok=True)
    done = os.path.join(folder, f"{name}-{key}.json")
    with open(os.path.join(folder, f"{name}-{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(done):
            with open(done) as f:
                saved = json.load(f)
            return saved["reports"], saved["seconds"], nbformat.reads(saved["notebook"], as_version=4)
        reports, seconds, nb = _execute(name, checks, timeout)
        with open(done + ".tmp", "w") as f:
            json.dump({"reports": reports, "seconds": seconds, "notebook": nbformat.writes(nb)}, f)
        os.replace(done + ".tmp", done)
    return reports, seconds, nb


def lab_fixture(name, checks=()):
    """A module-scoped fixture for a test module: (reports, seconds, notebook) of one run of the lab with ``checks``.
    Use as ``lab = lab_fixture("bleu", [CHECK])``."""
    @pytest.fixture(scope="module")
    def lab():
        reports, seconds, nb = run_lab(name, checks)
        print(f"\n{name}: ran in {seconds:.1f} s")
        return reports, seconds, nb
    return lab


def record_run(lab, record_property, keys=()):
    """Record the lab's wall time in the test report (measured, never asserted) and check that the check cells
    reported ``keys``; return the reports."""
    reports, seconds, _ = lab
    record_property("lab_seconds", round(seconds, 2))
    missing = set(keys) - set(reports)
    assert not missing, f"the check cells did not report {sorted(missing)}; got keys {sorted(reports)}"
    return reports


__all__ = ["BUDGET", "CellExecutionError", "lab_fixture", "lab_path", "record_run", "reports_of", "run_lab"]
