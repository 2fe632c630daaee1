"""Time budget of assignment 2 (dinosaur_island): the training run and the whole notebook.

    .venv/bin/python benchmarks/bench_dinosaur.py [--repeats 3] [--iterations 22000] [--skip-notebook]

1. Training: the teacher's own ``model`` (its solution cells, run as a student would run them) for
   22,000 iterations with n_a = 50 on data/dinos.txt; median of the repeats. Budget: 30 s.
   The per-iteration split (forward, backward, clip + update) is measured with utils.char_model.
2. Notebook: source/dinosaur_island/dinosaur_island.ipynb executed top to bottom in a fresh kernel
   (with its support files, as in the release), timed per cell. Budget: 60 s.
The course's budgets are for a 2-core laptop; the numbers printed are this machine's.
"""
import argparse
import contextlib
import io
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import bench_notebooks  # noqa: E402
from tools import course  # noqa: E402
from utils import activations, char_model  # noqa: E402

ASSIGNMENT = "dinosaur_island"


def teacher_functions():
    """clip, sample, optimize, model as defined by the teacher notebook's solution cells."""
    return course.teacher_namespace(ASSIGNMENT, {"np": np, "activations": activations, "char_model": char_model})


def load():
    with open(os.path.join(ROOT, "data", "dinos.txt")) as f:
        names = f.read().lower().splitlines()
    return names, char_model.vocabulary(names)[0]


def bench_training(repeats, iterations):
    ns, (names, char_to_ix) = teacher_functions(), load()
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = ns["model"](names, char_to_ix, num_iterations=iterations, n_a=50, seed=0)
        times.append(time.perf_counter() - t0)
    losses = result[2]
    return statistics.median(times), times, losses[0], losses[-1]


def bench_split(iterations=5000):
    """Microseconds per iteration of forward, backward and clip + update (utils.char_model directly)."""
    names, char_to_ix = load()
    p = char_model.initialize_parameters(50, len(char_to_ix), np.random.default_rng(0))
    pairs = [char_model.encode(n, char_to_ix) for n in names]
    a_prev = np.zeros((50, 1))
    spent = {"forward": 0.0, "backward": 0.0, "clip + update": 0.0}
    for j in range(iterations):
        X, Y = pairs[j % len(pairs)]
        t0 = time.perf_counter()
        loss, a, cache = char_model.forward(X, Y, a_prev, p)
        t1 = time.perf_counter()
        grads = char_model.backward(cache)
        t2 = time.perf_counter()
        for k in p:
            g = grads["d" + k]
            np.clip(g, -5, 5, out=g)
            p[k] -= 0.01 * g
        t3 = time.perf_counter()
        a_prev = a[:, :, -1]
        spent["forward"] += t1 - t0
        spent["backward"] += t2 - t1
        spent["clip + update"] += t3 - t2
    steps = sum(len(pairs[j % len(pairs)][0]) for j in range(iterations)) / iterations
    return {k: v / iterations * 1e6 for k, v in spent.items()}, steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=22000)
    ap.add_argument("--skip-notebook", action="store_true")
    args = ap.parse_args(argv)
    print(f"numpy {np.__version__}, {os.cpu_count()} cores, python {sys.version.split()[0]}")

    split, steps = bench_split()
    print(f"\nper iteration ({steps:.1f} steps per name on average): "
          + ", ".join(f"{k} {v:.0f} us" for k, v in split.items()))

    median, times, first, last = bench_training(args.repeats, args.iterations)
    print(f"training, {args.iterations} iterations, n_a = 50: median {median:.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)}; budget 30 s) "
          f"smoothed loss {first:.2f} -> {last:.2f}")

    if not args.skip_notebook:
        print()
        return 1 if bench_notebooks.report(ASSIGNMENT) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
