"""Forward + backward time of the course's numpy LSTM / GRU against torch.nn.LSTM / torch.nn.GRU.

Run with the benchmark venv (torch is never a course dependency):

    .venv-bench/bin/python benchmarks/bench_recurrent.py [--rounds 5] [--repeats 7]

CPU, float32, one thread count for both: numpy's BLAS threads, passed to torch.set_num_threads.
numpy and torch run in separate worker processes (torch's idle OpenMP threads would otherwise
compete with OpenBLAS), one process per framework and shape, alternating for several rounds so
that a busy spell on this shared machine hits both; times are medians over all repeats (after a
warm-up) and the ratio is the median of the per-round ratios.
A step is: forward over the whole sequence, then backward of sum(outputs * G) with gradients for
the weights and the input x. GFLOP/s counts the matmuls only (forward 2 m T k n_a (n_a + n_x) per
direction for k gates, backward twice that) and is compared with this machine's measured float32
matmul peak (1024^3 products, numpy's BLAS).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, kind, n_x, n_a, m, T, bidirectional
SHAPES = [
    ("jazz LSTM", "lstm", 90, 64, 60, 30, False),
    ("dates pre-attn BiLSTM", "lstm", 37, 32, 100, 30, True),
    ("dates post-attn LSTM", "lstm", 64, 64, 100, 10, False),
    ("trigger GRU", "gru", 196, 128, 16, 1375, False),
]
GATE_COUNT = {"lstm": 4, "gru": 3}


def blas_threads():
    """Threads numpy's BLAS uses: numpy's own report when it has one, else the environment, else cores."""
    try:
        from threadpoolctl import threadpool_info
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    except Exception:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var])
    return os.cpu_count()           # OpenBLAS's default: one thread per core


def timings(fn, repeats, warmup=2):
    """Seconds per call of fn(), `repeats` of them after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def matmul_peak(repeats):
    """Measured float32 matmul GFLOP/s (square 1024 products, numpy's BLAS)."""
    rng = np.random.default_rng(0)
    n = 1024
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    return 2 * n ** 3 / float(np.median(timings(lambda: a @ b, repeats))) / 1e9


def flops(kind, n_x, n_a, m, T, bi):
    forward = 2 * m * T * GATE_COUNT[kind] * n_a * (n_a + n_x)
    return 3 * forward * (2 if bi else 1)


# --------------------------------------------------------------------------- workers

def numpy_case(kind, n_x, n_a, m, T, bi, rng):
    sys.path.insert(0, ROOT)
    from utils import recurrent

    def cell():
        s = 1 / np.sqrt(n_a)
        p = {}
        for g in ("fico" if kind == "lstm" else "urc"):
            p["W" + g] = rng.uniform(-s, s, (n_a, n_a + n_x)).astype(np.float32)
            p["b" + g] = np.zeros((n_a, 1), np.float32)
        return p

    x = rng.standard_normal((n_x, m, T), dtype=np.float32)
    G = rng.standard_normal(((2 if bi else 1) * n_a, m, T), dtype=np.float32)
    if bi:
        params = {"fwd": cell(), "bwd": cell()}

        def run():
            _, cache = recurrent.bidirectional_forward(x, params, kind)
            return recurrent.bidirectional_backward(G, cache)
        return run
    params = cell()
    forward, backward = recurrent.SEQUENCE[kind]

    def run():
        _, cache = forward(x, params)
        return backward(G, cache)
    return run


def torch_case(kind, n_x, n_a, m, T, bi, rng):
    import torch
    layer = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(n_x, n_a, bidirectional=bi)
    x = torch.randn(T, m, n_x, requires_grad=True)
    G = torch.randn(T, m, (2 if bi else 1) * n_a)

    def run():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        (out * G).sum().backward()
    return run


def worker(framework, shape_index, threads, repeats):
    """Time one shape with one framework; print a JSON dict {"times": seconds, "peak": GFLOP/s}."""
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
    name, kind, n_x, n_a, m, T, bi = SHAPES[shape_index]
    make = numpy_case if framework == "numpy" else torch_case
    reps = max(2, repeats // 2) if T > 500 else repeats
    out = {"times": timings(make(kind, n_x, n_a, m, T, bi, np.random.default_rng(0)), reps,
                                 warmup=1 if T > 500 else 3)}
    if framework == "numpy":
        out["peak"] = matmul_peak(repeats)
    print(json.dumps(out))


def run_worker(framework, shape_index, threads, repeats):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--shape", str(shape_index),
           "--threads", str(threads), "--repeats", str(repeats)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--worker", choices=["numpy", "torch"])
    parser.add_argument("--shape", type=int)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.shape, args.threads, args.repeats)
    try:
        import torch
    except ImportError:
        sys.exit("torch is missing: run this with the benchmark venv (see benchmarks/README.md)")
    threads = blas_threads()
    times = {fw: [[] for _ in SHAPES] for fw in ("numpy", "torch")}
    ratios, peaks = [[] for _ in SHAPES], []
    for r in range(args.rounds):
        for i in range(len(SHAPES)):
            order = ("numpy", "torch") if (r + i) % 2 == 0 else ("torch", "numpy")
            got = {fw: run_worker(fw, i, threads, args.repeats) for fw in order}
            for fw in order:
                times[fw][i].extend(got[fw]["times"])
            peaks.append(got["numpy"]["peak"])
            ratios[i].append(np.median(got["numpy"]["times"]) / np.median(got["torch"]["times"]))
    peak = float(np.median(peaks))
    print(f"numpy {np.__version__}, torch {torch.__version__}, {threads} threads for both "
          f"(numpy's BLAS; torch.set_num_threads({threads})), float32, CPU")
    print(f"{args.rounds} rounds, each timing both frameworks on every shape ({args.repeats} repeats after a "
          f"warm-up); times are medians over all repeats, ratio is the median of the per-round ratios")
    print(f"float32 matmul peak (1024^3, numpy BLAS): {peak:.1f} GFLOP/s\n")
    header = (f"{'shape':<24}{'numpy ms':>10}{'torch ms':>10}{'ratio':>8}{'(rounds min-max)':>18}"
              f"{'numpy GFLOP/s':>15}{'% peak':>8}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for i, (name, kind, n_x, n_a, m, T, bi) in enumerate(SHAPES):
        t_np, t_pt = float(np.median(times["numpy"][i])), float(np.median(times["torch"][i]))
        ratio = float(np.median(ratios[i]))
        gf = flops(kind, n_x, n_a, m, T, bi) / t_np / 1e9
        worst = max(worst, ratio)
        spread = f"{min(ratios[i]):.2f}-{max(ratios[i]):.2f}"
        print(f"{name:<24}{1e3 * t_np:>10.2f}{1e3 * t_pt:>10.2f}{ratio:>8.2f}{spread:>18}{gf:>15.1f}"
              f"{100 * gf / peak:>7.0f}%")
    print(f"\nworst ratio numpy / torch: {worst:.2f} (target: at most 1.5)")


if __name__ == "__main__":
    main()
