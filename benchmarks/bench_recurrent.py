"""Forward + backward time of the course's numpy LSTM / GRU against torch.nn.LSTM / torch.nn.GRU.

Run with the benchmark venv (torch is never a course dependency):

    /work/main/.venv-bench/bin/python benchmarks/bench_recurrent.py [--repeats 7]

CPU, float32, the same thread count for both (numpy's BLAS threads). Each timing is the median of
several repeats after a warm-up; the machine is shared, so the medians still move a few per cent.
GFLOP/s counts the matmuls only (forward 2 m T k n_a (n_a + n_x) per direction, backward twice that)
and is compared with this machine's float32 matmul peak, measured here.
"""
import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from utils import recurrent  # noqa: E402

# name, kind, n_x, n_a, m, T, bidirectional
SHAPES = [
    ("jazz LSTM", "lstm", 90, 64, 60, 30, False),
    ("dates pre-attn BiLSTM", "lstm", 37, 32, 100, 30, True),
    ("dates post-attn LSTM", "lstm", 64, 64, 100, 10, False),
    ("trigger GRU", "gru", 196, 128, 16, 1375, False),
]
GATE_COUNT = {"lstm": 4, "gru": 3}


def blas_threads():
    """Threads numpy's BLAS uses (threadpoolctl when present, else the usual environment variables)."""
    try:
        from threadpoolctl import threadpool_info
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    except Exception:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if os.environ.get(var):
                return int(os.environ[var])
        return os.cpu_count()


def median_time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def matmul_peak(repeats):
    """Measured float32 matmul GFLOP/s (square 1024 products, numpy's BLAS)."""
    rng = np.random.default_rng(0)
    n = 1024
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    t = median_time(lambda: a @ b, repeats)
    return 2 * n ** 3 / t / 1e9


def cell_params(kind, n_x, n_a, rng):
    gates = "fico" if kind == "lstm" else "urc"
    scale = 1 / np.sqrt(n_a)
    p = {}
    for g in gates:
        p["W" + g] = (rng.uniform(-scale, scale, (n_a, n_a + n_x))).astype(np.float32)
        p["b" + g] = np.zeros((n_a, 1), np.float32)
    return p


def numpy_step(kind, n_x, n_a, m, T, bi, rng):
    x = rng.standard_normal((n_x, m, T), dtype=np.float32)
    out_rows = 2 * n_a if bi else n_a
    G = rng.standard_normal((out_rows, m, T), dtype=np.float32)
    if bi:
        params = {"fwd": cell_params(kind, n_x, n_a, rng), "bwd": cell_params(kind, n_x, n_a, rng)}

        def run():
            out, cache = recurrent.bidirectional_forward(x, params, kind)
            return recurrent.bidirectional_backward(G, cache)
    else:
        params = cell_params(kind, n_x, n_a, rng)
        forward, backward = recurrent.SEQUENCE[kind]

        def run():
            out, cache = forward(x, params)
            return backward(G, cache)
    return run


def torch_step(torch, kind, n_x, n_a, m, T, bi):
    layer_cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    layer = layer_cls(n_x, n_a, bidirectional=bi)
    x = torch.randn(T, m, n_x, requires_grad=True)
    G = torch.randn(T, m, (2 if bi else 1) * n_a)

    def run():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        (out * G).sum().backward()
    return run


def flops(kind, n_x, n_a, m, T, bi):
    k = GATE_COUNT[kind]
    forward = 2 * m * T * k * n_a * (n_a + n_x)
    return 3 * forward * (2 if bi else 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    threads = blas_threads()
    try:
        import torch
    except ImportError:
        sys.exit("torch is missing: run this with the benchmark venv (see benchmarks/README.md)")
    torch.set_num_threads(threads)
    peak = matmul_peak(args.repeats)
    print(f"numpy {np.__version__}, torch {torch.__version__}, threads {threads} (numpy BLAS = torch), "
          f"float32, median of {args.repeats}")
    print(f"float32 matmul peak (1024^3, numpy BLAS): {peak:.1f} GFLOP/s\n")
    header = f"{'shape':<24}{'numpy ms':>10}{'torch ms':>10}{'ratio':>8}{'numpy GFLOP/s':>15}{'% peak':>8}"
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    worst = 0.0
    for name, kind, n_x, n_a, m, T, bi in SHAPES:
        t_np = median_time(numpy_step(kind, n_x, n_a, m, T, bi, rng), args.repeats)
        t_pt = median_time(torch_step(torch, kind, n_x, n_a, m, T, bi), args.repeats)
        gf = flops(kind, n_x, n_a, m, T, bi) / t_np / 1e9
        worst = max(worst, t_np / t_pt)
        print(f"{name:<24}{1e3 * t_np:>10.2f}{1e3 * t_pt:>10.2f}{t_np / t_pt:>8.2f}{gf:>15.1f}{100 * gf / peak:>7.0f}%")
    print(f"\nworst ratio numpy / torch: {worst:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
