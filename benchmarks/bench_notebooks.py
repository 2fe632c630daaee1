"""Time each teacher notebook top to bottom (budget: 60 s each on a 2-core machine, quiet or busy).

    .venv/bin/python benchmarks/bench_notebooks.py [assignment ...] [--labs] [--load quiet|busy|both] [--runs 3]

The notebook runs in a fresh kernel inside a temporary folder holding its support files, as in
the release. With --load busy (or both) it runs again beside one busy process per core, started here
and stopped when done (benchmarks/load.py): a student's laptop with a browser open, a shared server.
Each figure is the median of --runs runs, with their range. ``time_notebook`` is also used by the
per-assignment benchmarks.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import load  # noqa: E402
from grading import notebook as nbk  # noqa: E402
from tools import course  # noqa: E402


LABS = os.path.join(course.ROOT, "notebooks")


def labs():
    """The companion labs as names for time_notebook: "notebooks/<lab>"."""
    return sorted("notebooks/" + n[:-len(".ipynb")] for n in os.listdir(LABS) if n.endswith(".ipynb"))


def time_notebook(assignment, grader_cells=False):
    """Execute source/<assignment> (or the lab "notebooks/<lab>") top to bottom; return (total s,
    [(s, grade_id) per cell], cells with errors). grader_cells: only the cells the autograder runs (no test
    cells, no skip-when-grading demonstrations). A lab runs in notebooks/ itself, as a student runs it."""
    work = tempfile.mkdtemp(prefix=f"bench-{os.path.basename(assignment)}-")
    try:
        if assignment.startswith("notebooks/"):
            path, where = os.path.join(course.ROOT, assignment + ".ipynb"), LABS
        else:
            course.sync_support(assignment, work)
            path, where = os.path.join(course.ROOT, "source", assignment, assignment + ".ipynb"), work
        nb = nbformat.read(path, as_version=4)
        if grader_cells:
            nb.cells = [nb.cells[c["index"]] for c in nbk.exec_cells(nb)]
        stamps = []
        client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": where}})
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignments", nargs="*", help="assignment ids or labs as notebooks/<lab> (default: every assignment)")
    ap.add_argument("--labs", action="store_true", help="also time every companion lab in notebooks/")
    ap.add_argument("--load", choices=("quiet", "busy", "both"), default="quiet")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--grader-cells", action="store_true",
                    help="also time the cells the autograder runs (demonstrations and test cells left out)")
    args = ap.parse_args()
    names = (args.assignments or course.assignments()) + (labs() if args.labs else [])
    if args.grader_cells:
        for a in names:
            full = statistics.median(time_notebook(a)[0] for _ in range(args.runs))
            graded = statistics.median(time_notebook(a, grader_cells=True)[0] for _ in range(args.runs))
            print(f"{a}: whole notebook {full:.1f} s, the cells the grader runs {graded:.1f} s "
                  f"({full / graded:.1f}x less), medians of {args.runs}", flush=True)
        return 0
    if args.load == "quiet" and args.runs == 1:
        return 1 if sum(report(a) for a in names) else 0
    errors, rows = 0, {}
    for condition in load.conditions(args.load):
        with load.under(condition):
            for run in range(args.runs):
                for a in names:
                    total, _, bad = time_notebook(a)
                    errors += bad
                    rows.setdefault(a, {}).setdefault(condition, []).append(total)
                    print(f"  {condition} run {run + 1}: {a} {total:.1f} s", flush=True)
    conds = load.conditions(args.load)
    print(f"\n{'notebook (s, median of ' + str(args.runs) + ' runs [range])':<44}" + "".join(f"{c:>22}" for c in conds))
    for a in names:
        cells = "".join(f"{statistics.median(rows[a][c]):>9.1f} [{min(rows[a][c]):.1f}-{max(rows[a][c]):.1f}]".rjust(22)
                        for c in conds)
        print(f"{a:<44}{cells}")
    print(f"{errors} cells with errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
