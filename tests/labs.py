"""Run a companion lab (notebooks/<name>.ipynb) the way a student does, top to bottom in a fresh kernel, and
hand back what it computed.

Used by tests/test_lab_*.py. ``run_lab(name, checks)`` executes the lab in notebooks/ (its own folder, as Jupyter
does), then runs ``checks``, extra code cells the test appends, in the same kernel, so a test can check a
number the lab claims without running the lab twice. A check cell reports values with ``report(key, value)``
(JSON-serialisable); run_lab returns {key: value} and the lab's wall time in seconds.
"""
import json
import os
import time

import nbformat
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


def run_lab(name, checks=(), timeout=BUDGET * 3):
    """Execute notebooks/<name>.ipynb plus the code cells ``checks``; return (reports, seconds, notebook).
    A cell that raises fails with the lab's own traceback (nbclient's CellExecutionError)."""
    nb = nbformat.read(lab_path(name), as_version=4)
    n_lab = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    for code in checks:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": LABS}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    reports = {}
    for cell in nb.cells[n_lab:]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for line in out.get("text", "").splitlines():
                    if line.startswith(MARK + " "):
                        key, value = json.loads(line[len(MARK) + 1:])
                        reports[key] = value
    return reports, seconds, nb


__all__ = ["BUDGET", "CellExecutionError", "lab_path", "run_lab"]
