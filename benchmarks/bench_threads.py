"""BLAS threads per kind of work: the measurement behind utils/threads.py's POLICY (all "adaptive" now).

    .venv/bin/python benchmarks/bench_threads.py [--rounds 3] [--load both|quiet|busy]

Each case (a kind of work of utils at a shape the course uses) is timed in fresh processes with one BLAS
thread, with two (OPENBLAS_NUM_THREADS=1 or 2, so the policy steps aside) and with the policy itself (no
variable set), alternating over rounds; a figure is the median seconds per call over all rounds. "busy"
repeats everything beside one busy process per core (a student's browser, a neighbour on the server),
started by this script and stopped when it ends. The last column says which count was faster, quiet and
busy: POLICY must pick the faster one, and where they disagree the busy figure decides (a thread that
waits for a busy core costs far more than one idle core gains).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
from benchmarks import load  # noqa: E402
from benchmarks.bench_recurrent import numpy_case  # noqa: E402
from utils.threads import USER_VARIABLES  # noqa: E402

# name, kind (POLICY key), what
CASES = [
    ("jazz LSTM 90->64, m=60, T=30", "recurrent", ("lstm", 90, 64, 60, 30, False)),
    ("dates BiLSTM 37->32, m=100, T=30", "recurrent", ("lstm", 37, 32, 100, 30, True)),
    ("dates post-attention LSTM 64->64, m=100, T=10", "recurrent", ("lstm", 64, 64, 100, 10, False)),
    ("dinosaur RNN 27->50, m=1, T=12", "recurrent", ("rnn", 27, 50, 1, 12, False)),
    ("trigger GRU 196->128, m=16, T=1375", "recurrent", ("gru", 196, 128, 16, 1375, False)),
    ("jazz dense 64->90, m=60, T=30", "dense", (64, 90, 60, 30)),
    ("trigger dense 128->1, m=16, T=1375", "dense", (128, 1, 16, 1375)),
    ("trigger Conv1D 101->196, k=15, stride 4, m=16", "conv1d", (101, 196, 15, 4, 16, 5511)),
]
MODES = ("1", "2", "policy")


def make_case(index):
    """A function doing one forward + backward of case ``index`` (float32, seeded inputs)."""
    sys.path.insert(0, ROOT)
    from utils import layers, recurrent
    rng = np.random.default_rng(0)
    _, kind, spec = CASES[index]
    if kind == "recurrent":
        cell, n_x, n_a, m, T, bi = spec
        if cell != "rnn":                                   # the LSTM / GRU step of bench_recurrent.py
            return numpy_case(cell, n_x, n_a, m, T, bi, rng)
        s = 1 / np.sqrt(n_a)
        p = {"Waa": rng.uniform(-s, s, (n_a, n_a)).astype(np.float32),
             "Wax": rng.uniform(-s, s, (n_a, n_x)).astype(np.float32), "ba": np.zeros((n_a, 1), np.float32)}
        x = rng.standard_normal((n_x, m, T), dtype=np.float32)
        G = rng.standard_normal((n_a, m, T), dtype=np.float32)
        return lambda: recurrent.rnn_sequence_backward(G, recurrent.rnn_sequence_forward(x, p)[1])
    if kind == "dense":
        n_x, n_y, m, T = spec
        x = rng.standard_normal((n_x, m, T), dtype=np.float32)
        W, b = rng.standard_normal((n_y, n_x), dtype=np.float32), np.zeros((n_y, 1), np.float32)
        G = rng.standard_normal((n_y, m, T), dtype=np.float32)
        return lambda: layers.dense_backward(G, layers.dense_forward(x, W, b, "linear")[1])
    n_x, n_f, k, stride, m, T = spec
    x = rng.standard_normal((n_x, m, T), dtype=np.float32)
    W, b = 0.01 * rng.standard_normal((n_f, n_x, k), dtype=np.float32), np.zeros((n_f, 1), np.float32)
    T_out = layers.conv1d_output_length(T, k, stride)
    G = rng.standard_normal((n_f, m, T_out), dtype=np.float32)
    return lambda: layers.conv1d_backward(G, layers.conv1d_forward(x, W, b, stride)[1])


def worker(index, seconds):
    """Print JSON {"times": [...], "threads": n}: calls of case ``index`` for about ``seconds``."""
    from utils import threads
    run = make_case(index)
    run()                                                   # warm-up (buffers, caches)
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < seconds and len(times) < 200):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    kind = CASES[index][1]
    used = threads.count(kind) or int(os.environ.get("OPENBLAS_NUM_THREADS", "0"))
    print(json.dumps({"times": times, "threads": used}))


def measure(index, mode, seconds):
    env = {k: v for k, v in os.environ.items() if k not in USER_VARIABLES}
    if mode != "policy":
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = mode
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", str(index), "--seconds",
                          str(seconds)], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"worker for {CASES[index][0]} ({mode}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rounds, seconds, condition):
    results = {}
    with load.under(condition):
        for r in range(rounds):
            for i in range(len(CASES)):
                for mode in (MODES if r % 2 == 0 else MODES[::-1]):
                    res = measure(i, mode, seconds)
                    slot = results.setdefault((i, mode), {"times": [], "threads": res["threads"]})
                    slot["times"] += res["times"]
    return {k: (float(np.median(v["times"])), v["threads"]) for k, v in results.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0, help="time spent per case, mode and round")
    ap.add_argument("--load", choices=("both", "quiet", "busy"), default="both")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        sys.path.insert(0, ROOT)
        return worker(args.worker, args.seconds)
    sys.path.insert(0, ROOT)
    from utils import threads
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; POLICY = {threads.POLICY}")
    loads = load.conditions(args.load)
    tables = {condition: table(args.rounds, args.seconds, condition) for condition in loads}
    head = "".join(f"{condition + ' ' + (m + ' thr' if m != 'policy' else m):>15}" for condition in loads for m in MODES)
    print(f"\n{'case (ms per forward + backward)':<48}{head}   faster ({' / '.join(loads)})")
    for i, (name, kind, _) in enumerate(CASES):
        cells, best = "", []
        for condition in loads:
            t = tables[condition]
            cells += "".join(f"{1e3 * t[(i, m)][0]:>15.3f}" for m in MODES)
            best.append("1" if t[(i, "1")][0] <= t[(i, "2")][0] else "2")
        print(f"{name:<48}{cells}   {' / '.join(best)} (policy {kind}: {threads.POLICY[kind]})")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
