"""Time budget of assignment 3 (jazz_improvisation): the training run and the whole notebook.

    .venv/bin/python benchmarks/bench_jazz.py [--repeats 3] [--epochs 100] [--skip-notebook]

1. Training: the teacher notebook's own code (its solution cells, as a student would write them, and the
   locked djmodel_backward and train cells) for 100 epochs of Adam on the 60 x 30 training set of
   data/jazz (n_values = 89, n_a = 64, one full batch per epoch, learning rate 0.02); median of the
   repeats. Budget: 20 s. The loss must end below 0.7 x its start.
2. Notebook: source/jazz_improvisation/jazz_improvisation.ipynb executed top to bottom in a fresh kernel
   (with its support files, as in the release), timed per cell. Budget: 60 s.
The course's budgets are for a 2-core laptop; the numbers printed are this machine's. OpenBLAS threads
matter here (the matrices are small): the script prints the OPENBLAS_NUM_THREADS it ran with.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import bench_notebooks, load  # noqa: E402
from tools import course  # noqa: E402
from utils import activations, init, layers, losses, music, optim, recurrent  # noqa: E402

ASSIGNMENT = "jazz_improvisation"
PROVIDED = ("djmodel_backward", "train_helper")   # locked cells of the notebook that the training needs


def teacher_functions():
    """djmodel, music_inference_model, predict_and_sample, djmodel_backward and train from the teacher notebook."""
    ns = {"np": np, "activations": activations, "init": init, "layers": layers, "losses": losses,
          "optim": optim, "recurrent": recurrent}
    return course.teacher_namespace(ASSIGNMENT, ns, locked=PROVIDED)


def fresh_parameters(n_values, n_a=64, seed=0):
    rng = np.random.default_rng(seed)
    p = init.lstm_params(n_values, n_a, rng)
    p.update(init.dense_params(n_a, n_values, rng, names=("Wy", "by")))
    return p


def bench_training(repeats, epochs):
    ns = teacher_functions()
    X, Y, _ = music.build_dataset(os.path.join(ROOT, "data", "jazz"), T_x=30, m=60, seed=0)
    times, history = [], None
    for _ in range(repeats):
        p = fresh_parameters(X.shape[0])
        t0 = time.perf_counter()
        history = ns["train"](X, Y, p, epochs=epochs, learning_rate=0.02)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, history


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--skip-notebook", action="store_true")
    ap.add_argument("--load", choices=("quiet", "busy", "both"), default="quiet",
                    help="busy: beside one busy process per core (benchmarks/load.py)")
    args = ap.parse_args(argv)
    print(f"numpy {np.__version__}, {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")

    status = 0
    for condition in load.conditions(args.load):
        with load.under(condition):
            median, times, history = bench_training(args.repeats, args.epochs)
        print(f"training ({condition}), {args.epochs} epochs of Adam on 60 x 30, n_a = 64: median {median:.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)}; budget 20 s); "
              f"loss {history[0]:.3f} -> {history[-1]:.3f} ({history[-1] / history[0]:.2f} x start)")
        status = status or (0 if history[-1] < 0.7 * history[0] else 1)

    if not args.skip_notebook:
        print()
        status = status or (1 if bench_notebooks.report(ASSIGNMENT) else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
