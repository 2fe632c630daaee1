"""Time each teacher notebook top to bottom (budget: 60 s each on a 2-core machine).

    .venv/bin/python benchmarks/bench_notebooks.py [assignment ...]

The notebook runs in a fresh kernel inside a temporary folder holding its support files, as in
the release. ``time_notebook`` is also used by the per-assignment benchmarks.
"""
import os
import shutil
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from grading import notebook as nbk  # noqa: E402
from tools import course  # noqa: E402


def time_notebook(assignment):
    """Execute source/<assignment> top to bottom; return (total s, [(s, grade_id) per cell], cells with errors)."""
    work = tempfile.mkdtemp(prefix=f"bench-{assignment}-")
    try:
        course.sync_support(assignment, work)
        nb = nbformat.read(os.path.join(course.ROOT, "source", assignment, assignment + ".ipynb"), as_version=4)
        stamps = []
        client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": work}})
        client.on_cell_executed = lambda cell, **kw: stamps.append(
            (time.perf_counter(), nbk.grade_id(cell) or "?"))
        t0 = time.perf_counter()
        client.execute()
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cells, prev = [], t0
    for t, gid in stamps:
        cells.append((t - prev, gid))
        prev = t
    errors = [c for c in nb.cells if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    return total, cells, len(errors)


def report(assignment, slowest=5):
    """Print the total and the slowest cells of one notebook; return the number of cells with errors."""
    total, cells, errors = time_notebook(assignment)
    print(f"{assignment}: top to bottom in a fresh kernel {total:.2f} s (kernel start included; budget 60 s), "
          f"{errors} cells with errors")
    for seconds, gid in sorted(cells, reverse=True)[:slowest]:
        print(f"  {seconds:6.2f} s  {gid}")
    return errors


if __name__ == "__main__":
    sys.exit(1 if sum(report(a) for a in sys.argv[1:] or course.assignments()) else 0)
