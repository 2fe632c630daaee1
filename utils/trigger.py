"""Find the word "activate" in WAV files with the pretrained detector (data/trigger/weights.npz).

    python -m utils.trigger FILE.wav [FILE.wav ...] [--threshold 0.5]

Prints one line per file: the times in seconds where "activate" is detected (a detection is placed where
the detector's output first rises above the threshold, just after the word ends), or a message saying why
the file could not be read. Files of any sample rate (resampled to 44,100 Hz), mono or stereo (channels
averaged) and any length: audio is scanned in 10-second windows, the last one aligned to the end of the
file (only its detections after the previous window count); a file shorter than 10 s is padded with quiet
noise. A word cut in two by a window boundary can be missed. The exit status is 1 if any file failed.
"""
import argparse
import sys

import numpy as np

from utils import trigger_model as tm

MIN_GAP = 75                  # output steps (about 0.55 s) between two detections


def first_crossings(probs, threshold, min_gap=MIN_GAP):
    """Output steps where probs (T_y,) rises above threshold, at least min_gap steps after the previous one."""
    steps, last = [], -min_gap - 1
    above = np.asarray(probs) > threshold
    for t in np.flatnonzero(above & ~np.concatenate([[False], above[:-1]])):
        if t - last > min_gap:
            steps.append(int(t))
            last = t
    return steps


def windows(samples):
    """Split samples (n,) at RATE into 10-second windows. Returns (starts: list of sample offsets,
    clips: (len(starts), N_SAMPLES)); a short file is padded with quiet noise (a fixed seed)."""
    n, size = len(samples), tm.N_SAMPLES
    if n < size:
        pad = np.random.default_rng(0).standard_normal(size - n) * 1e-3
        return [0], np.concatenate([samples, pad])[None]
    starts = list(range(0, n - size + 1, size))
    if starts[-1] + size < n:
        starts.append(n - size)
    return starts, np.stack([samples[s:s + size] for s in starts])


def detect(samples, rate, params, state, threshold=0.5):
    """Times in seconds (sorted list of floats) where "activate" is detected in samples (n,) at ``rate`` Hz."""
    x = tm.to_rate(samples, rate)
    starts, clips = windows(x)
    X = np.stack([tm.clip_features(c) for c in clips], axis=1)               # (101, windows, 5511)
    probs = tm.predict(X, params, state)                                       # (1, windows, 1375)
    step_seconds = tm.CLIP_SECONDS / probs.shape[2]
    times, covered = [], 0.0
    for i, start in enumerate(starts):
        t0 = start / tm.RATE
        for step in first_crossings(probs[0, i], threshold):
            t = t0 + step * step_seconds
            if t >= covered and t <= len(x) / tm.RATE:
                times.append(round(t, 2))
        covered = t0 + tm.CLIP_SECONDS
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m utils.trigger", description="Find \"activate\" in WAV files.")
    ap.add_argument("files", nargs="+", metavar="FILE.wav")
    ap.add_argument("--threshold", type=float, default=0.5, help="detector output above which a word counts")
    args = ap.parse_args(argv)
    params, state = tm.load_detector()
    failed = 0
    for path in args.files:
        try:
            samples, rate = tm.load_wav(path)
            if samples.size == 0:
                raise ValueError(f"'{path}' holds no audio")
        except FileNotFoundError:
            print(f"{path}: error: no such file", file=sys.stderr, flush=True)
            failed += 1
            continue
        except (ValueError, OSError) as exc:
            print(f"{path}: error: cannot read it as a WAV file ({exc})", file=sys.stderr, flush=True)
            failed += 1
            continue
        times = detect(samples, rate, params, state, args.threshold)
        found = ", ".join(f"{t:.2f}" for t in times) if times else "no \"activate\" detected"
        print(f"{path}: {found}" + (" (seconds)" if times else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
