"""One training step of the trigger-word detector (assignment 5) in numpy against the same model in PyTorch.

Run with the benchmark venv (torch is never a course dependency):

    .venv-bench/bin/python benchmarks/bench_trigger.py [--threads N] [--rounds 3] [--repeats 3]

A step is one batch of m = 16 clips at the course's shapes, float32, CPU: the forward pass in training
mode (batch statistics, dropout 0.2), then the backward pass of the mean binary cross-entropy per output
step, giving the gradient of every weight. No input gradient (X is data), no optimizer update, no clip
making: on the numpy side exactly what data/trigger/train.py calls, ``detector_forward(X, params, state,
True, rng)`` then ``detector_loss_backward(Y, cache)`` (need_dx=False). Cases:

- "Conv1D": X (101, 16, 5511) -> 196 filters, kernel 15, stride 4 -> (196, 16, 1375), then the backward
  of sum(z * G) for a fixed random G, weight gradients only (what the detector's backward does for it);
- "2 GRUs": GRU(196 -> 128) then GRU(128 -> 128) over the 1,375 steps, backward of sum(a2 * G) with the
  weights' gradients and the first GRU's input gradient (the stack needs it for the layers below);
- "whole step": Conv1D -> batch norm -> ReLU -> dropout -> GRU(128) -> dropout -> batch norm -> GRU(128)
  -> dropout -> batch norm -> dropout -> Dense(1) per step -> sigmoid, with the loss above.

The PyTorch model is built from nn.Conv1d, nn.BatchNorm1d (momentum 0.01, eps 1e-3, as the course's
0.99 / 1e-3), nn.GRU, nn.Linear, nn.Dropout in training mode, loss BCEWithLogitsLoss (mean), as the course
computes it from the logits. One difference in the GRU: PyTorch applies the reset gate after the
recurrent matmul (r * (W_hn a + b_hn), one more bias per gate), the course before it (W_c [r * a; x]);
both do the same matmuls, so the work is the same.

One thread count for both: --threads N sets OPENBLAS_NUM_THREADS and OMP_NUM_THREADS in both workers and
torch.set_num_threads(N); without it, numpy's BLAS thread count (one per core by default). numpy and
PyTorch run in separate worker processes, one per framework and case, alternating over the rounds (as
bench_recurrent.py); each worker times `--repeats` calls after one warm-up call; a time is the median of
the per-round medians, a range their min-max, the ratio the median of the per-round ratios.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.bench_recurrent import blas_threads, matmul_peak, timings  # noqa: E402

M, N_FREQ, T_X, N_FILTERS, KERNEL, STRIDE, N_A, DROPOUT = 16, 101, 5511, 196, 15, 4, 128, 0.2
T_Y = (T_X - KERNEL) // STRIDE + 1                                    # 1375
CASES = ("Conv1D", "2 GRUs", "whole step")
TRAINING_STEPS = 1300                                                 # the committed run (data/trigger/TRAINING.md)


def inputs(rng):
    """The batch every case starts from: X (101, m, 5511) float32 (standardised features), Y (1, m, 1375) in {0, 1}."""
    X = rng.standard_normal((N_FREQ, M, T_X), dtype=np.float32)
    Y = (rng.random((1, M, T_Y)) < 0.08).astype(np.float32)          # about the dev set's share of ones
    return X, Y


# --------------------------------------------------------------------------- workers

def numpy_case(case, rng):
    from utils import trigger_model as tm
    from utils import trigger_parts as tp
    from utils.layers import conv1d_forward
    from utils.recurrent import gru_sequence_backward, gru_sequence_forward

    X, Y = inputs(rng)
    params = tm.detector_params(rng)
    if case == "Conv1D":
        W, b = params["conv"]["W"], params["conv"]["b"]
        G = rng.standard_normal((N_FILTERS, M, T_Y), dtype=np.float32)

        def run():
            _, cache = conv1d_forward(X, W, b, STRIDE)
            return tp._conv_weight_grads(G, cache)            # the detector's backward for its first layer
        return run, tp.count_detector_params(params, tm.detector_state(params))[0]
    if case == "2 GRUs":
        h = rng.standard_normal((N_FILTERS, M, T_Y), dtype=np.float32)
        G = rng.standard_normal((N_A, M, T_Y), dtype=np.float32)

        def run():
            a1, c1 = gru_sequence_forward(h, params["gru1"])
            _, c2 = gru_sequence_forward(a1, params["gru2"])
            g2 = gru_sequence_backward(G, c2)
            return gru_sequence_backward(g2["dx"], c1)
        return run, tp.count_detector_params(params, tm.detector_state(params))[0]
    state = tm.detector_state(params)

    def run():
        _, cache = tm.detector_forward(X, params, state, True, rng)
        return tm.detector_loss_backward(Y, cache)            # need_dx=False, as data/trigger/train.py
    return run, tp.count_detector_params(params, state)[0]


def torch_model():
    import torch
    from torch import nn

    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(N_FREQ, N_FILTERS, KERNEL, stride=STRIDE)
            self.bn1 = nn.BatchNorm1d(N_FILTERS, eps=1e-3, momentum=0.01)
            self.gru1 = nn.GRU(N_FILTERS, N_A)                              # (T, m, features)
            self.bn2 = nn.BatchNorm1d(N_A, eps=1e-3, momentum=0.01)
            self.gru2 = nn.GRU(N_A, N_A)
            self.bn3 = nn.BatchNorm1d(N_A, eps=1e-3, momentum=0.01)
            self.dense = nn.Linear(N_A, 1)
            self.drop = nn.Dropout(DROPOUT)

        @staticmethod
        def _bn(bn, h):
            """Batch norm of (T, m, n) over T and m: as (T m, n) rows."""
            return bn(h.reshape(-1, h.shape[-1])).reshape(h.shape)

        def forward(self, x):                                               # x (m, 101, 5511)
            h = self.drop(torch.relu(self.bn1(self.conv(x))))               # (m, 196, 1375)
            h, _ = self.gru1(h.permute(2, 0, 1))                            # (1375, m, 128)
            h = self._bn(self.bn2, self.drop(h))
            h, _ = self.gru2(h)
            h = self.drop(self._bn(self.bn3, self.drop(h)))
            return self.dense(h)                                            # logits (1375, m, 1)

    return Detector().train()


def torch_case(case, rng):
    import torch
    X, Y = inputs(rng)
    model = torch_model()
    count = sum(p.numel() for p in model.parameters())
    if case == "Conv1D":
        x = torch.from_numpy(np.ascontiguousarray(X.transpose(1, 0, 2)))   # (m, 101, 5511), no grad: data
        G = torch.randn(M, N_FILTERS, T_Y)

        def run():
            model.zero_grad(set_to_none=True)
            (model.conv(x) * G).sum().backward()
        return run, count
    if case == "2 GRUs":
        h = torch.randn(T_Y, M, N_FILTERS, requires_grad=True)
        G = torch.randn(T_Y, M, N_A)

        def run():
            model.zero_grad(set_to_none=True)
            h.grad = None
            a1, _ = model.gru1(h)
            a2, _ = model.gru2(a1)
            (a2 * G).sum().backward()
        return run, count
    x = torch.from_numpy(np.ascontiguousarray(X.transpose(1, 0, 2)))
    y = torch.from_numpy(np.ascontiguousarray(Y[0].T[:, :, None]))      # (1375, m, 1)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def run():
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
    return run, count


def worker(framework, case, threads, repeats):
    """Time one case with one framework; print a JSON dict {"times": seconds, "params": count[, "peak"]}."""
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
    make = numpy_case if framework == "numpy" else torch_case
    run, count = make(CASES[case], np.random.default_rng(0))
    out = {"times": timings(run, repeats, warmup=1), "params": count}
    if framework == "numpy":
        out["peak"] = matmul_peak(7)
    print(json.dumps(out))


def run_worker(framework, case, threads, repeats):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--case", str(case),
           "--threads", str(threads), "--repeats", str(repeats)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        sys.exit(f"{framework} worker for {CASES[case]} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="BLAS / OpenMP / torch threads for both (default: numpy's BLAS)")
    parser.add_argument("--worker", choices=["numpy", "torch"])
    parser.add_argument("--case", type=int)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.case, args.threads, args.repeats)
    try:
        import torch
    except ImportError:
        sys.exit("torch is missing: run this with the benchmark venv (see benchmarks/README.md)")
    threads = args.threads or blas_threads()
    load_before = os.getloadavg()
    med = {fw: [[] for _ in CASES] for fw in ("numpy", "torch")}   # per-round medians
    ratios, peaks, counts = [[] for _ in CASES], [], {}
    for r in range(args.rounds):
        for i in range(len(CASES)):
            order = ("numpy", "torch") if (r + i) % 2 == 0 else ("torch", "numpy")
            got = {fw: run_worker(fw, i, threads, args.repeats) for fw in order}
            for fw in order:
                med[fw][i].append(float(np.median(got[fw]["times"])))
                counts[fw] = got[fw]["params"]
            peaks.append(got["numpy"]["peak"])
            ratios[i].append(med["numpy"][i][-1] / med["torch"][i][-1])
    load_after = os.getloadavg()
    print(f"numpy {np.__version__}, torch {torch.__version__}, {threads} thread(s) for both "
          f"(OPENBLAS_NUM_THREADS=OMP_NUM_THREADS={threads}, torch.set_num_threads({threads})), float32, CPU")
    print(f"batch m = {M}, X ({N_FREQ}, {M}, {T_X}) -> T_y = {T_Y}; trainable parameters: numpy "
          f"{counts['numpy']:,}, torch {counts['torch']:,} (its GRUs have a second bias per gate)")
    print(f"{args.rounds} rounds x {args.repeats} repeats after a warm-up call; times: median of the per-round "
          f"medians, ranges: their min-max; ratio: median of the per-round ratios")
    print(f"float32 matmul peak (1024^3, numpy BLAS, {threads} thread(s)): {min(peaks):.0f}-{max(peaks):.0f} "
          f"GFLOP/s; load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after\n")
    header = (f"{'case':<12}{'numpy ms':>10}{'torch ms':>10}{'ratio':>7}{'ratio range':>13}"
              f"{'numpy range':>16}{'torch range':>16}")
    print(header)
    print("-" * len(header))
    for i, name in enumerate(CASES):
        t_np, t_pt = float(np.median(med["numpy"][i])), float(np.median(med["torch"][i]))
        r = f"{min(ratios[i]):.2f}-{max(ratios[i]):.2f}"
        rn = f"{1e3 * min(med['numpy'][i]):.0f}-{1e3 * max(med['numpy'][i]):.0f}"
        rt = f"{1e3 * min(med['torch'][i]):.0f}-{1e3 * max(med['torch'][i]):.0f}"
        print(f"{name:<12}{1e3 * t_np:>10.1f}{1e3 * t_pt:>10.1f}{float(np.median(ratios[i])):>7.2f}{r:>13}"
              f"{rn:>16}{rt:>16}")
    step = {fw: float(np.median(med[fw][-1])) for fw in ("numpy", "torch")}
    print(f"\n{TRAINING_STEPS:,} steps of batch {M} (forward + backward only): numpy "
          f"{TRAINING_STEPS * step['numpy'] / 60:.1f} min, torch {TRAINING_STEPS * step['torch'] / 60:.1f} min")


if __name__ == "__main__":
    main()
