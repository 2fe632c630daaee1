"""A competing load for the benchmarks: one busy process per core, as a student's browser or a neighbour on a
shared server would be. Used by bench_threads.py, bench_notebooks.py and bench_jazz.py (--load busy).

    with busy_cores(): ...       # every core kept busy by another process until the block ends
"""
import contextlib
import os
import subprocess
import sys


@contextlib.contextmanager
def busy_cores(n=None):
    """Run the block beside ``n`` (default: one per core) processes that spin; they are killed afterwards."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n or os.cpu_count() or 1)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()


def conditions(load):
    """The load conditions of a --load choice: "quiet", "busy" or "both"."""
    return {"quiet": ("quiet",), "busy": ("busy",), "both": ("quiet", "busy")}[load]


def under(condition):
    """A context for one condition: busy_cores() for "busy", nothing for "quiet"."""
    return busy_cores() if condition == "busy" else contextlib.nullcontext()
