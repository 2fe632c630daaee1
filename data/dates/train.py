"""Train the date-translation model (utils/nmt.py) on data/dates/train.tsv; write data/dates/weights.npz.

    cd /work/main && OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python -m data.dates.train [--epochs N]

float32, Adam (utils.optim) with global-norm clipping, minibatches of 100 drawn from a seeded numpy Generator,
learning rate lr / (1 + epoch / decay_epochs). Every --checkpoint-seconds (and at the end of every epoch
after that time) it writes data/dates/checkpoint.npz: parameters, Adam's moments and step count, the
number of finished epochs, the Generator's state and the history so far. Started again, it resumes from
there (same settings required); --fresh ignores the checkpoint. At the end it writes weights.npz (float32
parameters only), TRAINING.md and training.json (run time, epochs, loss, exact match on the 1,000 test dates
overall and per format family), and removes the checkpoint.

The test set is only evaluated for the log (every --eval-every epochs) and at the end; nothing is chosen
by it (the epoch count is fixed in advance).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from utils import dates, io, nmt, optim  # noqa: E402

HERE = Path(__file__).resolve().parent
DTYPE = np.float32


def arrays(pairs, human_vocab, machine_vocab):
    """Index arrays X (m, T_x) and Y (m, T_y) of (human, iso, family) triples."""
    X = nmt.encode_texts([h for h, _, _ in pairs], human_vocab, nmt.T_X)
    Y = nmt.encode_texts([iso for _, iso, _ in pairs], machine_vocab, nmt.T_Y)
    return X, Y


def evaluate(params, pairs, human_vocab, inv_machine_vocab):
    """(exact match overall, dict family -> (correct, total), mistakes: list of (human, iso, predicted, family))."""
    predicted = nmt.translate_texts([h for h, _, _ in pairs], params, human_vocab, inv_machine_vocab)
    overall, _ = nmt.match_rate(predicted, [iso for _, iso, _ in pairs])
    families, mistakes = {}, []
    for (h, iso, fam), p in zip(pairs, predicted):
        ok, n = families.get(fam, (0, 0))
        families[fam] = (ok + (p == iso), n + 1)
        if p != iso:
            mistakes.append((h, iso, p, fam))
    return overall, dict(sorted(families.items())), mistakes


def save_checkpoint(path, params, opt, epoch, rng, history, elapsed, settings):
    flat = {"params/" + k: v for k, v in io.flatten(params).items()}
    for path_key in opt.m:
        flat["adam_m/" + path_key] = opt.m[path_key]
        flat["adam_v/" + path_key] = opt.v[path_key]
    meta = {"epoch": epoch, "adam_t": opt.t, "rng": rng.bit_generator.state, "history": history,
            "elapsed": elapsed, "settings": settings}
    flat["meta"] = np.array(json.dumps(meta))
    tmp = str(path) + ".tmp.npz"
    np.savez(tmp, **flat)
    os.replace(tmp, path)


def load_checkpoint(path, opt, rng, settings):
    """Returns (params, epoch, history, elapsed) and restores opt and rng in place; None if settings differ."""
    with np.load(path, allow_pickle=False) as data:
        flat = {k: data[k] for k in data.files}
    meta = json.loads(str(flat.pop("meta")))
    if meta["settings"] != settings:
        print(f"checkpoint {path} was made with other settings {meta['settings']}; starting afresh", flush=True)
        return None
    params = io.unflatten({k[len("params/"):]: v for k, v in flat.items() if k.startswith("params/")})
    opt.m = {k[len("adam_m/"):]: v for k, v in flat.items() if k.startswith("adam_m/")}
    opt.v = {k[len("adam_v/"):]: v for k, v in flat.items() if k.startswith("adam_v/")}
    opt.t = meta["adam_t"]
    state = meta["rng"]
    rng.bit_generator.state = state
    return params, meta["epoch"], meta["history"], meta["elapsed"]


def family_table(train_fam, test_fam):
    lines = ["| family | test exact match | test | train exact match | train |", "|---|---|---|---|---|"]
    for fam in sorted(test_fam):
        ok, n = test_fam[fam]
        tok, tn = train_fam.get(fam, (0, 0))
        lines.append(f"| {fam} | {100 * ok / n:.1f}% | {ok}/{n} | {100 * tok / max(tn, 1):.2f}% | {tok}/{tn} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--decay-epochs", type=float, default=15.0)
    parser.add_argument("--clip-norm", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--checkpoint", default=str(HERE / "checkpoint.npz"))
    parser.add_argument("--checkpoint-seconds", type=float, default=120.0)
    parser.add_argument("--out", default=str(HERE))
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    args = parser.parse_args(argv)
    settings = {k: getattr(args, k) for k in ("epochs", "batch", "lr", "decay_epochs", "clip_norm", "seed")}
    out = Path(args.out)

    human_vocab, machine_vocab, inv_machine_vocab = dates.load_vocab()
    train, test = dates.load_pairs("train"), dates.load_pairs("test")
    Xi, Yi = arrays(train, human_vocab, machine_vocab)
    n_h, m = len(human_vocab), len(train)

    rng = np.random.default_rng(args.seed)
    opt = optim.Adam(lr=args.lr, clip_norm=args.clip_norm)
    params, epoch, history, elapsed = None, 0, [], 0.0
    if os.path.isfile(args.checkpoint) and not args.fresh:
        loaded = load_checkpoint(args.checkpoint, opt, rng, settings)
        if loaded is not None:
            params, epoch, history, elapsed = loaded
            print(f"resumed from {args.checkpoint} after epoch {epoch} ({elapsed:.0f} s of training so far)",
                  flush=True)
    if params is None:
        rng = np.random.default_rng(args.seed)
        opt = optim.Adam(lr=args.lr, clip_norm=args.clip_norm)
        params = nmt.initialize(n_h, rng, dtype=DTYPE)
    print(f"n_h = {n_h}, parameters = {io.count_params(params)}, m = {m}, batch = {args.batch}", flush=True)

    last_save = time.perf_counter()
    batch_ms = []                                  # forward + loss + backward of each batch of 100, this session
    while epoch < args.epochs:
        start = time.perf_counter()
        opt.lr = args.lr / (1 + epoch / args.decay_epochs)
        order = rng.permutation(m)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, m, args.batch):
            idx = order[i:i + args.batch]
            X = nmt.one_hot(Xi[idx], n_h, DTYPE)
            tick = time.perf_counter()
            Y_hat, _, cache = nmt.forward(X, params)
            value, dlogits = nmt.loss(cache, Yi[idx])
            grads = nmt.backward(dlogits, cache)
            if len(idx) == 100:
                batch_ms.append(1000 * (time.perf_counter() - tick))
            grads.pop("dX")
            opt.step(params, grads)
            total += value * len(idx)
            correct += int(np.sum(np.all(Y_hat.argmax(axis=0) == Yi[idx], axis=1)))
            seen += len(idx)
        epoch += 1
        elapsed += time.perf_counter() - start
        record = {"epoch": epoch, "loss": total / seen, "train_exact": correct / seen, "lr": opt.lr,
                  "elapsed": round(elapsed, 1)}
        if epoch % args.eval_every == 0 or epoch == args.epochs:
            record["test_exact"] = evaluate(params, test, human_vocab, inv_machine_vocab)[0]
        history.append(record)
        print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()), flush=True)
        if time.perf_counter() - last_save >= args.checkpoint_seconds and epoch < args.epochs:
            save_checkpoint(args.checkpoint, params, opt, epoch, rng, history, elapsed, settings)
            last_save = time.perf_counter()

    io.save_params(str(out / "weights.npz"), nmt.cast(params, DTYPE))
    final, _, _ = dates.load_model(out / "weights.npz")              # judge what was written
    test_exact, test_fam, mistakes = evaluate(final, test, human_vocab, inv_machine_vocab)
    train_exact, train_fam, _ = evaluate(final, train, human_vocab, inv_machine_vocab)
    figures = {"settings": settings, "n_h": n_h, "parameters": io.count_params(final), "epochs": epoch,
               "training_seconds": round(elapsed, 1), "final_loss": history[-1]["loss"],
               "fwd_bwd_ms_per_batch_of_100": {"median": round(float(np.median(batch_ms)), 1) if batch_ms else None,
                                               "min": round(float(np.min(batch_ms)), 1) if batch_ms else None,
                                               "batches": len(batch_ms)},
               "train_exact_match": train_exact, "test_exact_match": test_exact,
               "test_per_family": {k: {"correct": a, "total": b} for k, (a, b) in test_fam.items()},
               "train_per_family": {k: {"correct": a, "total": b} for k, (a, b) in train_fam.items()},
               "test_mistakes": [{"human": h, "iso": iso, "predicted": p, "family": f} for h, iso, p, f in mistakes],
               "history": history}
    with open(out / "training.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(figures, f, indent=1)
        f.write("\n")
    timing = figures["fwd_bwd_ms_per_batch_of_100"]
    table = family_table(train_fam, test_fam)
    wrong = "\n".join(f"| `{h}` | {iso} | {p} | {f} |" for h, iso, p, f in mistakes[:50]) or "| (none) | | | |"
    md = f"""# Training the date-translation model

Made by `data/dates/train.py` (settings {json.dumps(settings)}), float32, numpy only, one BLAS thread.

| figure | value |
|---|---|
| parameters | {io.count_params(final):,} (n_h = {n_h}) |
| epochs | {epoch} of {m:,} examples, batches of {args.batch} |
| training time | {elapsed / 60:.1f} min ({elapsed:.0f} s, training loop only; 2-core machine shared with other jobs) |
| forward + loss + backward, one batch of 100 | median {timing['median']} ms, fastest {timing['min']} ms (over the {timing['batches']:,} batches timed in the last session) |
| final training loss | {history[-1]['loss']:.5f} (mean cross-entropy per output character) |
| exact match, train (10,000) | {100 * train_exact:.2f}% |
| exact match, test (1,000 held-out dates) | **{100 * test_exact:.2f}%** |

## Exact match per format family

{table}

## Test mistakes

| human | true | predicted | family |
|---|---|---|---|
{wrong}
"""
    with open(out / "TRAINING.md", "w", encoding="utf-8", newline="\n") as f:
        f.write(md)
    print(f"test exact match {100 * test_exact:.2f}%, train {100 * train_exact:.2f}%")
    print(table)
    if os.path.isfile(args.checkpoint):
        os.remove(args.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
