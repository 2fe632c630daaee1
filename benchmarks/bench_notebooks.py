"""Time each teacher notebook top to bottom (budget: 60 s each on a 2-core machine).

    .venv/bin/python benchmarks/bench_notebooks.py [assignment ...]
"""
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools import course  # noqa: E402


def main(names):
    for a in names or course.assignments():
        with tempfile.TemporaryDirectory() as tmp:
            course.sync_support(a, tmp)
            nb = nbformat.read(os.path.join(course.ROOT, "source", a, a + ".ipynb"), as_version=4)
            client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}})
            t0 = time.perf_counter()
            client.execute()
            print(f"{a:22s} {time.perf_counter() - t0:6.1f} s (kernel start included; budget 60 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
