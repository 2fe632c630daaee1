"""How much of the numpy LSTM's time is the cell's elementwise maths, and how much is everything else.

Runs in the course venv (no PyTorch needed):

    .venv/bin/python benchmarks/bench_lstm_floor.py [--repeats 300]

For each LSTM shape in bench_recurrent.SHAPES, built by bench_recurrent.numpy_case, it times forward +
backward twice, in alternating rounds:
- "full": utils/recurrent.py as it is;
- "floor": the same code with the three LSTM cell kernels (forward step, derivative factors, backward
  step) replaced by stand-ins that do no elementwise maths but keep the backward step's recurrent
  matmul. What remains is every matmul, the layout copies, the buffer pool and the Python bookkeeping.
The floor is what no rewrite of the elementwise numpy code can go below; "full - floor" is what the
elementwise calls cost. The floor's outputs are meaningless; only its time is used.
"""
import argparse
import contextlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.bench_recurrent import SHAPES, numpy_case, timings  # noqa: E402
from utils import recurrent  # noqa: E402


@contextlib.contextmanager
def without_cell_maths():
    """Swap the LSTM cell kernels for stand-ins without elementwise work (restored on exit).

    The floor computes on whatever the pooled buffers hold (after a full run: finite stale values).
    No np.errstate here: it makes every numpy call slower (about 0.15 ms per forward + backward at
    T = 1), which would inflate the floor."""
    saved = recurrent._lstm_kernel, recurrent._lstm_factors, recurrent._lstm_kernel_backward

    def factors(G, C_prev, TC):
        return recurrent._buffer(G.shape, G.dtype), recurrent._buffer(TC.shape, G.dtype)

    def step_backward(da, dc, P, OD, f, WaT, dz):
        return WaT @ recurrent._flat(dz), dc

    recurrent._lstm_kernel = lambda *args: None
    recurrent._lstm_factors, recurrent._lstm_kernel_backward = factors, step_backward
    try:
        yield
    finally:
        recurrent._lstm_kernel, recurrent._lstm_factors, recurrent._lstm_kernel_backward = saved


def median_ms(fn, repeats):
    return 1e3 * float(np.median(timings(fn, repeats, warmup=5)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=300, help="timed calls per round (default 300)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating full/floor rounds (default 3)")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.rounds < 1:
        ap.error("--repeats and --rounds must be at least 1")
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, float32, forward + backward, medians over {args.rounds} rounds "
          f"of {args.repeats} calls\n")
    print(f"{'shape':24s}{'full ms':>9s}{'floor ms':>10s}{'elementwise ms':>16s}{'share':>7s}")
    print("-" * 66)
    for name, kind, *shape in SHAPES:
        if kind != "lstm":
            continue
        step = numpy_case(kind, *shape, rng)
        full, floor = [], []
        for _ in range(args.rounds):
            full.append(median_ms(step, args.repeats))
            with without_cell_maths():
                floor.append(median_ms(step, args.repeats))
        f, fl = float(np.median(full)), float(np.median(floor))
        print(f"{name:24s}{f:9.2f}{fl:10.2f}{f - fl:16.2f}{(f - fl) / f:7.0%}")
    recurrent.release_buffers()


if __name__ == "__main__":
    main()
