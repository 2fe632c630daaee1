"""The trigger-word detector of assignment 5 (``trigger_word``), its data pipeline and its scores.

This module is the library twin of assignment 5's graded functions, under other names, and the
assignment-5 release does not ship it (it would hold the answers). The training script
(data/trigger/train.py) and the instructors' command line (utils/trigger.py) use it.

Audio is float samples in [-1, 1] at RATE = 44,100 Hz; a clip is CLIP_SECONDS = 10 s, N_SAMPLES = 441,000.

    power_spectrogram(samples)           (101, 5511): what matplotlib.mlab.specgram(NFFT=200, Fs=44100,
                                         noverlap=120) returns for a 10-second clip
    clip_features(samples)               (101, 5511) float32: the model's input, a standardised log10 of it
    make_training_example(bg, acts, negs, rng)   x (101, 5511), y (1, 1375), segments
    detector_params / detector_state     parameters and batch-norm statistics
    detector_forward(X, params, state, training, rng)   X (101, m, 5511) -> probabilities (1, m, 1375), cache
    detector_backward(dprobs, cache)     gradients ``d`` + name, nested like params
    detector_loss_backward(Y, cache)     binary cross-entropy per step and its gradients (from the logits)
    detection_runs / score_detections    events (runs of frames above a threshold) and precision/recall/F1

The model: Conv1D(196 filters, kernel 15, stride 4) -> batch norm -> ReLU -> dropout -> GRU(128, sequences)
-> dropout -> batch norm -> GRU(128, sequences) -> dropout -> batch norm -> dropout -> dense(1) at every step
-> sigmoid. T_y = (5511 - 15) // 4 + 1 = 1375. Trainable parameters: 521,657 (the course GRU has one bias per
gate; a Keras GRU with reset_after has a second recurrent bias and 523,329); non-trainable: 904 (the batch
norms' running means and variances).
"""
import os

import numpy as np

from utils.activations import sigmoid
from utils.layers import (activation_forward, batchnorm_forward, conv1d_forward, conv1d_output_length,  # noqa: F401
                          dense_forward, dropout_forward)
from utils.recurrent import gru_sequence_forward
# The parts shared with assignment 5's release live in utils/trigger_parts.py (one copy of each).
from utils.trigger_parts import (CLIP_SECONDS, DROPOUT, KERNEL, LAYERS, LOG_FLOOR, LOG_MEAN, LOG_STD,  # noqa: F401
                                 N_A, N_FILTERS, N_FREQ, N_SAMPLES, NFFT, NOVERLAP, ONES_AFTER, RATE, STRIDE,
                                 T_X, T_Y, WEIGHTS, count_detector_params, detector_backward, detector_loss_backward,
                                 detector_params, detector_state, load_detector, load_wav, log_features, to_rate)

# --------------------------------------------------------------------------- audio

def power_spectrogram(samples, nfft=NFFT, noverlap=NOVERLAP, rate=RATE):
    """One-sided power spectral density of overlapping Hann-windowed frames, as matplotlib.mlab.specgram.

    samples (n,) float; frames of nfft samples every nfft - noverlap samples, no padding.
    Returns (nfft // 2 + 1, (n - noverlap) // (nfft - noverlap)): (101, 5511) for a 10-second clip at 44.1 kHz.
    """
    x = np.asarray(samples, np.float64)
    hop = nfft - noverlap
    n_frames = (len(x) - noverlap) // hop
    frames = np.lib.stride_tricks.as_strided(x, (n_frames, nfft), (x.strides[0] * hop, x.strides[0]),
                                             writeable=False)
    window = np.hanning(nfft)
    spectrum = np.fft.rfft(frames * window, axis=1)                   # (n_frames, nfft // 2 + 1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2) / (rate * np.sum(window ** 2))
    power[:, 1:(nfft + 1) // 2] *= 2.0                                # one-sided: fold the negative frequencies
    return power.T


def clip_features(samples):
    """The detector's input for a clip: standardised log10 power, float32 (101, T_x); samples (n,) at RATE."""
    return log_features(power_spectrogram(samples))


def samples_to_step(sample, n_samples=N_SAMPLES, t_y=T_Y):
    """Output step of a sample index: int(sample * T_y / n_samples)."""
    return int(sample * t_y / n_samples)


# --------------------------------------------------------------------------- training examples

def segments_overlap(segment, previous):
    """True when segment (start, end) (inclusive sample indices) shares a sample with any of previous."""
    start, end = segment
    return any(start <= p_end and end >= p_start for p_start, p_end, *_ in previous)


def place_clip(n_background, n_clip, previous, rng, tries=100):
    """A random (start, end) for a clip of n_clip samples in n_background samples, clear of previous.

    previous: list of (start, end, ...) tuples; rng: numpy Generator. Returns None when ``tries`` draws
    all overlap (or the clip is longer than the background).
    """
    if n_clip > n_background:
        return None
    for _ in range(tries):
        start = int(rng.integers(0, n_background - n_clip + 1))
        segment = (start, start + n_clip - 1)
        if not segments_overlap(segment, previous):
            return segment
    return None


def label_ones(y, end_sample, n_samples=N_SAMPLES):
    """Set y[0, s + 1 : s + 1 + ONES_AFTER] = 1 where s is the output step of end_sample (clipped at T_y).

    y (1, T_y), changed in place and returned.
    """
    s = samples_to_step(end_sample, n_samples, y.shape[1])
    y[0, s + 1:s + 1 + ONES_AFTER] = 1.0
    return y


def db(value):
    return 10.0 ** (value / 20.0)


BAND_LIMIT_RATES = (8000, 11025, 16000, 22050)


def band_limit(samples, rate):
    """What a recording at ``rate`` Hz holds: samples (n,) at RATE resampled to rate and back, (n,)."""
    x = to_rate(to_rate(samples, RATE, rate), rate, RATE)
    return np.pad(x, (0, max(len(samples) - len(x), 0)))[:len(samples)]


def make_training_example(background, activates, negatives, rng, n_activates=None, n_negatives=None,
                          background_gain_db=(-12.0, 6.0), word_gain_db=(-16.0, 0.0), band_limit_prob=0.0,
                          features=True):
    """One 10-second training clip: a background with random "activate" and other words on top.

    background (N_SAMPLES,) float; activates, negatives: lists of word clips (n_i,) float; rng: numpy
    Generator (the only randomness). n_activates defaults to a draw from 0..4, n_negatives from 0..3. Gains are
    drawn uniformly in decibels. Words never overlap (one that finds no room is left out). With probability
    band_limit_prob the clip is band-limited as if recorded at one of BAND_LIMIT_RATES (so that the
    detector also hears files of lower sample rates, resampled).
    Returns x (101, T_x) float32 (clip_features; the samples (N_SAMPLES,) if features is False),
    y (1, T_y) float32 with ONES_AFTER ones after each "activate", and segments: list of
    (start, end, is_activate) in samples, inclusive, in insertion order.
    """
    clip = np.array(background[:N_SAMPLES], np.float64) * db(rng.uniform(*background_gain_db))
    if len(clip) < N_SAMPLES:
        raise ValueError(f"make_training_example: the background should have {N_SAMPLES} samples, got {len(clip)}")
    n_act = int(rng.integers(0, 5)) if n_activates is None else n_activates
    n_neg = int(rng.integers(0, 4)) if n_negatives is None else n_negatives
    chosen = [(activates[int(rng.integers(len(activates)))], True) for _ in range(n_act)]
    chosen += [(negatives[int(rng.integers(len(negatives)))], False) for _ in range(n_neg)]
    y = np.zeros((1, T_Y), np.float32)
    segments = []
    for word, is_activate in chosen:
        place = place_clip(N_SAMPLES, len(word), segments, rng)
        if place is None:
            continue
        start, end = place
        clip[start:end + 1] += word * db(rng.uniform(*word_gain_db))
        segments.append((start, end, is_activate))
        if is_activate:
            label_ones(y, end)
    if band_limit_prob and rng.random() < band_limit_prob:
        clip = band_limit(clip, int(rng.choice(BAND_LIMIT_RATES)))
    clip = np.clip(clip, -1.0, 1.0)
    return (clip_features(clip) if features else clip), y, segments


def load_split(root, split):
    """The clips of one split made by data/trigger/make_clips.py.

    root: the data/trigger folder; split: "train" or "dev". Returns dict activates, negatives, backgrounds:
    lists of float64 sample arrays at RATE, in sorted file order.
    """
    out = {}
    for kind in ("activates", "negatives", "backgrounds"):
        folder = os.path.join(root, split, kind)
        names = sorted(f for f in os.listdir(folder) if f.endswith(".wav"))
        out[kind] = [load_wav(os.path.join(folder, f))[0] for f in names]
    return out


# --------------------------------------------------------------------------- the model

def detector_forward(X, params, state, training, rng, stride=STRIDE, dropout=DROPOUT):
    """Forward pass of the detector.

    X (n_x, m, T_x); params from ``detector_params``; state from ``detector_state`` (updated in place when
    training); training: batch statistics and dropout if True, running statistics and no dropout if False;
    rng: numpy Generator for the dropout masks (unused when not training).
    Returns probabilities (1, m, T_y), T_y = (T_x - kernel) // stride + 1, and a cache for the backward pass.
    """
    X = np.asarray(X)
    p = params
    caches = {}
    z, caches["conv"] = conv1d_forward(X, p["conv"]["W"], p["conv"]["b"], stride)
    h, caches["bn1"] = batchnorm_forward(z, p["bn1"]["gamma"], p["bn1"]["beta"], state["bn1"], training)
    h, caches["relu"] = activation_forward(h, "relu")
    h, caches["drop1"] = dropout_forward(h, dropout, rng, training)
    h, caches["gru1"] = gru_sequence_forward(h, p["gru1"])
    h, caches["drop2"] = dropout_forward(h, dropout, rng, training)
    h, caches["bn2"] = batchnorm_forward(h, p["bn2"]["gamma"], p["bn2"]["beta"], state["bn2"], training)
    h, caches["gru2"] = gru_sequence_forward(h, p["gru2"])
    h, caches["drop3"] = dropout_forward(h, dropout, rng, training)
    h, caches["bn3"] = batchnorm_forward(h, p["bn3"]["gamma"], p["bn3"]["beta"], state["bn3"], training)
    h, caches["drop4"] = dropout_forward(h, dropout, rng, training)
    logits, caches["dense"] = dense_forward(h, p["dense"]["W"], p["dense"]["b"], "linear")
    probs = sigmoid(logits)
    return probs, {"layers": caches, "logits": logits, "probs": probs}


def predict(X, params, state, batch=16):
    """Probabilities (1, m, T_y) for features X (n_x, m, T_x), in inference mode, batch examples at a time."""
    out = []
    for i in range(0, X.shape[1], batch):
        probs, _ = detector_forward(X[:, i:i + batch], params, state, False, None)
        out.append(probs)
    return np.concatenate(out, axis=1)


# --------------------------------------------------------------------------- scores

def detection_runs(probs, threshold):
    """Runs of consecutive steps with probs > threshold. probs (T_y,). Returns list of (first, last) steps."""
    above = np.concatenate([[False], np.asarray(probs) > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def score_detections(probs, activate_ends, threshold=0.5, window_seconds=0.5):
    """Event counts of one clip: a detection (a run above threshold) is true when its last step lies within
    window_seconds after the output step of an unmatched "activate" end (each end matches at most once).

    probs (T_y,); activate_ends: end samples of the "activate" words. Returns (true_pos, false_pos, false_neg).
    """
    t_y = len(probs)
    window = int(round(window_seconds * t_y / CLIP_SECONDS))
    ends = sorted(samples_to_step(e, N_SAMPLES, t_y) for e in activate_ends)
    matched = [False] * len(ends)
    tp = fp = 0
    for _, last in detection_runs(probs, threshold):
        hit = next((i for i, e in enumerate(ends) if not matched[i] and e <= last <= e + window), None)
        if hit is None:
            fp += 1
        else:
            matched[hit] = True
            tp += 1
    return tp, fp, matched.count(False)


def evaluate(probs, Y, segments, threshold=0.5):
    """Dev-set figures. probs, Y (1, m, T_y); segments: per example the list from make_training_example.

    Returns dict frame_accuracy, precision, recall, f1, true_pos, false_pos, false_neg.
    """
    frame_accuracy = float(np.mean((probs > threshold) == (Y > 0.5)))
    tp = fp = fn = 0
    for i, segs in enumerate(segments):
        a, b, c = score_detections(probs[0, i], [end for _, end, act in segs if act], threshold)
        tp, fp, fn = tp + a, fp + b, fn + c
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"frame_accuracy": frame_accuracy, "precision": precision, "recall": recall, "f1": f1,
            "true_pos": tp, "false_pos": fp, "false_neg": fn}
