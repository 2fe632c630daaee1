"""The provided parts of the trigger-word detector (assignment 5, trigger_word).

The assignment's graded functions (overlap test, clip insertion, labels, spectrogram, training examples,
the detector's forward pass, chime positions, event scores) are not here: utils/trigger_model.py has its own
versions and is never shipped with the assignment. This module has what the assignment gives:

    load_wav(path) / to_rate(samples, rate)   audio files as float samples in [-1, 1] at RATE
    load_clips(folder)                        every WAV of a folder, in sorted file order
    pick_words(activates, negatives, rng)     which word clips go into one training example
    mix(background, clips, segments)          the audio of a training example, from its segments (ms)
    log_features(power)                       (101, T_x) power spectrogram -> the detector's input, float32
    detector_params / detector_state          parameters and batch-norm statistics, and their counts
    detector_backward(dprobs, cache)          the backward pass of the whole stack, given the forward cache
    detector_loss_backward(Y, cache)          binary cross-entropy per output step, and its gradients
    load_detector()                           the pretrained weights (data/trigger/weights.npz)
    chime()                                   the sound played where the word is heard
    runs(row)                                 the runs of True in a boolean row, as (first, last) pairs
    clip_figure(...)                          waveform, spectrogram, labels and the detector's output

The detector (every shape is (features, examples, time)):

    X (101, m, 5511) -> Conv1D(196 filters, kernel 15, stride 4) -> batch norm -> ReLU -> dropout
      -> GRU(128) -> dropout -> batch norm -> GRU(128) -> dropout -> batch norm -> dropout
      -> Dense(1) at every step -> sigmoid: probabilities (1, m, 1375), T_y = (5511 - 15) // 4 + 1

Parameters: {"conv": {W (196, 101, 15), b (196, 1)}, "bn1": {gamma, beta (196, 1)}, "gru1": GRU cell
196 -> 128 (Wu, bu, Wr, br, Wc, bc), "bn2": (128, 1), "gru2": GRU cell 128 -> 128, "bn3": (128, 1),
"dense": {W (1, 128), b (1, 1)}}; batch-norm state: {"bn1": {mean, var (196, 1)}, "bn2": ..., "bn3": ...}.

The forward cache ``detector_backward`` reads (what the assignment's model_forward returns)::

    {"layers": {"conv", "bn1", "relu", "drop1", "gru1", "drop2", "bn2", "gru2", "drop3", "bn3", "drop4",
                "dense"}: the cache of each library layer (utils.layers, utils.recurrent), by name,
     "logits": (1, m, T_y) before the sigmoid, "probs": (1, m, T_y)}
"""
import os

import numpy as np

from utils import threads
from utils.init import batchnorm_params, conv1d_params, dense_params, gru_params
from utils.layers import (activation_backward, batchnorm_backward, batchnorm_state, conv1d_backward,
                          conv1d_output_length, dense_backward, dropout_backward)
from utils.losses import sigmoid_cross_entropy
from utils.recurrent import gru_sequence_backward

RATE = 44100                                                  # samples per second
CLIP_SECONDS = 10
CLIP_MS = 1000 * CLIP_SECONDS                                 # 10,000 ms
N_SAMPLES = RATE * CLIP_SECONDS                               # 441,000
NFFT, NOVERLAP = 200, 120
N_FREQ = NFFT // 2 + 1                                        # 101
T_X = (N_SAMPLES - NOVERLAP) // (NFFT - NOVERLAP)             # 5511
N_FILTERS, KERNEL, STRIDE, N_A = 196, 15, 4, 128
T_Y = conv1d_output_length(T_X, KERNEL, STRIDE)               # 1375
ONES_AFTER = 50                                               # output steps labelled 1 after an "activate"
MAX_TRIES = 100                                               # random positions tried before a word is left out
DROPOUT = 0.2
# The detector reads standardised log10 power (measured on 40 training examples: mean -9.4, std 1.3).
LOG_FLOOR, LOG_MEAN, LOG_STD = 1e-14, -9.4, 1.3
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "trigger")
WEIGHTS = os.path.join(DATA, "weights.npz")
LAYERS = ("conv", "bn1", "gru1", "bn2", "gru2", "bn3", "dense")


# --------------------------------------------------------------------------- audio

def load_wav(path):
    """Read a WAV file as float64 mono samples in [-1, 1].

    Returns (samples (n,), rate). Stereo (or more) channels are averaged; int16, int32, uint8 and float
    files are accepted. Raises ValueError (with the path) for a file that is not a readable WAV.
    """
    from scipy.io import wavfile
    try:
        rate, data = wavfile.read(path)
    except (ValueError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"'{path}' is not a readable WAV file ({exc})") from exc
    if data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        x = data.astype(np.float64) / float(-np.iinfo(data.dtype).min)
    else:
        x = data.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    return x, int(rate)


def to_rate(samples, rate, target=RATE):
    """Resample float samples (n,) from ``rate`` to ``target`` Hz (polyphase); returns (n * target / rate,)."""
    if rate == target:
        return np.asarray(samples, np.float64)
    from scipy.signal import resample_poly
    g = np.gcd(int(rate), int(target))
    return resample_poly(np.asarray(samples, np.float64), target // g, int(rate) // g)


def load_clips(folder):
    """Every .wav file of ``folder`` (sorted by name) as float64 samples at RATE: a list of (n_i,) arrays."""
    names = sorted(f for f in os.listdir(folder) if f.endswith(".wav"))
    return [to_rate(*load_wav(os.path.join(folder, f))) for f in names]


def pick_words(activates, negatives, rng, max_activates=4, max_negatives=3):
    """The words of one training example: 0..max_activates "activate" clips and 0..max_negatives others.

    activates, negatives: lists of clips (n_i,); rng: numpy Generator. Draws the two counts, then the clips
    (with replacement). Returns (list of activate clips, list of negative clips).
    """
    n_act = int(rng.integers(0, max_activates + 1))
    n_neg = int(rng.integers(0, max_negatives + 1))
    chosen_act = [activates[int(i)] for i in rng.integers(0, len(activates), size=n_act)]
    chosen_neg = [negatives[int(i)] for i in rng.integers(0, len(negatives), size=n_neg)]
    return chosen_act, chosen_neg


def mix(background, clips, segments, rate=RATE):
    """The audio of a training example: background (n,) with clips[i] added from millisecond segments[i][0]
    (sample segments[i][0] * rate // 1000). clips: list of (n_i,) arrays, one per (start, end) of segments.
    Returns a new float64 array (n,)."""
    if len(clips) != len(segments) or any(np.ndim(c) != 1 for c in clips):
        raise ValueError(f"mix: give one 1-D clip per segment, got {len(clips)} clips and {len(segments)} segments")
    out = np.array(background, dtype=np.float64)
    for clip, (start, _) in zip(clips, segments):
        first = int(start) * rate // 1000
        out[first:first + len(clip)] += clip
    return out


def log_features(power):
    """The detector's input from a power spectrogram (n_freq, T_x): standardised log10 power, float32."""
    logp = np.log10(np.asarray(power, np.float64) + LOG_FLOOR)
    return ((logp - LOG_MEAN) / LOG_STD).astype(np.float32)


def runs(row):
    """Runs of True in a 1-D boolean array: a list of (first, last) indices, both included."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(row, dtype=np.int8).ravel(), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def chime(seconds=0.4, rate=RATE):
    """A soft two-tone bell (n,) float64 in [-0.5, 0.5], decaying over ``seconds``."""
    t = np.arange(int(seconds * rate)) / rate
    bell = np.sin(2 * np.pi * 1320.0 * t) + 0.5 * np.sin(2 * np.pi * 1980.0 * t)
    return 0.5 * bell / 1.5 * np.exp(-t / (seconds / 5))


# --------------------------------------------------------------------------- the model's parameters

def detector_params(rng, n_x=N_FREQ, n_f=N_FILTERS, kernel=KERNEL, n_a=N_A, dtype=np.float32):
    """Initial parameters (module docstring for the layout); rng: numpy Generator. Glorot / orthogonal
    weights, zero biases, batch-norm gamma 1 and beta 0."""
    return {"conv": conv1d_params(n_x, n_f, kernel, rng, dtype), "bn1": batchnorm_params(n_f, dtype),
            "gru1": gru_params(n_f, n_a, rng, dtype), "bn2": batchnorm_params(n_a, dtype),
            "gru2": gru_params(n_a, n_a, rng, dtype), "bn3": batchnorm_params(n_a, dtype),
            "dense": dense_params(n_a, 1, rng, dtype)}


def detector_state(params):
    """Batch-norm running statistics for params: {"bn1": {mean, var (n_f, 1)}, "bn2": ..., "bn3": ...}."""
    return {k: batchnorm_state(params[k]["gamma"].shape[0], params[k]["gamma"].dtype) for k in ("bn1", "bn2", "bn3")}


def count_detector_params(params, state):
    """(trainable, non_trainable) entry counts: 521,657 and 904 at the course's sizes."""
    trainable = sum(int(np.size(a)) for layer in params.values() for a in layer.values())
    fixed = sum(int(np.size(a)) for layer in state.values() for a in layer.values())
    return trainable, fixed


def load_detector(path=WEIGHTS):
    """The pretrained detector written by data/trigger/train.py: returns (params, state), float32."""
    from utils.io import load_params
    template = detector_params(np.random.default_rng(0))
    flat = load_params(path, expected={"params": template, "state": detector_state(template)})
    return flat["params"], flat["state"]


# --------------------------------------------------------------------------- the backward pass

@threads.policy("conv1d")
def _conv_weight_grads(dz, conv_cache):
    """dW, db of conv1d_forward without its input gradient (the input is data): dz (n_f, m, T_out)."""
    _, W, cols, _ = conv_cache
    dz2 = dz.reshape(W.shape[0], -1)
    return {"dW": (dz2 @ cols.T).reshape(W.shape), "db": dz2.sum(axis=1, keepdims=True)}


CACHE_LAYERS = ("conv", "bn1", "relu", "drop1", "gru1", "drop2", "bn2", "gru2", "drop3", "bn3", "drop4", "dense")


def detector_backward(dprobs, cache, need_dx=True, dlogits=None):
    """Backward pass of the detector's forward pass (each cache can be used once: the GRU buffers are recycled).

    dprobs (1, m, T_y): gradient of the probabilities (ignored when dlogits (1, m, T_y) is given);
    cache: the forward cache (module docstring). need_dx: also return dX (n_x, m, T_x) (skip it in
    training: X is data).
    Returns {"dconv": {dW, db}, "dbn1": {dgamma, dbeta}, "dgru1": {dWu, ...}, ..., "ddense": {dW, db}}
    and "dX" when need_dx.
    """
    if not isinstance(cache, dict) or not isinstance(cache.get("layers"), dict) or \
            any(k not in cache["layers"] for k in CACHE_LAYERS):
        raise KeyError(f"detector_backward: the cache should be a dict with 'layers' (keys {list(CACHE_LAYERS)}), "
                       f"'logits' and 'probs'")
    c = cache["layers"]
    if dlogits is None:
        probs = cache["probs"]
        dlogits = dprobs * probs * (1 - probs)
    grads = {}
    g = dense_backward(dlogits, c["dense"])
    grads["ddense"] = {"dW": g["dW"], "db": g["db"]}
    dh = dropout_backward(g["dx"], c["drop4"])["dx"]
    g = batchnorm_backward(dh, c["bn3"])
    grads["dbn3"] = {"dgamma": g["dgamma"], "dbeta": g["dbeta"]}
    dh = dropout_backward(g["dx"], c["drop3"])["dx"]
    g = gru_sequence_backward(dh, c["gru2"])
    grads["dgru2"] = {k: v for k, v in g.items() if k not in ("dx", "da0")}
    g = batchnorm_backward(g["dx"], c["bn2"])
    grads["dbn2"] = {"dgamma": g["dgamma"], "dbeta": g["dbeta"]}
    dh = dropout_backward(g["dx"], c["drop2"])["dx"]
    g = gru_sequence_backward(dh, c["gru1"])
    grads["dgru1"] = {k: v for k, v in g.items() if k not in ("dx", "da0")}
    dh = dropout_backward(g["dx"], c["drop1"])["dx"]
    dh = activation_backward(dh, c["relu"])["dz"]
    g = batchnorm_backward(dh, c["bn1"])
    grads["dbn1"] = {"dgamma": g["dgamma"], "dbeta": g["dbeta"]}
    if need_dx:
        g = conv1d_backward(g["dx"], c["conv"])
        grads["dX"] = g["dx"]
    else:
        g = _conv_weight_grads(g["dx"], c["conv"])
    grads["dconv"] = {"dW": g["dW"], "db": g["db"]}
    return grads


def detector_loss_backward(Y, cache, need_dx=False):
    """Mean binary cross-entropy per output step and its gradients, computed stably from the logits.

    Y (1, m, T_y) labels in {0, 1}; cache: the forward cache. Returns (loss, grads as ``detector_backward``).
    """
    logits = cache["logits"]
    loss, dlogits = sigmoid_cross_entropy(logits, np.asarray(Y, logits.dtype))
    return loss, detector_backward(None, cache, need_dx=need_dx, dlogits=dlogits.astype(logits.dtype))


# --------------------------------------------------------------------------- figures

def clip_figure(samples, power=None, y=None, probs=None, chimes=(), title=None, rate=RATE):
    """A Figure of one clip on a shared time axis (seconds): the waveform, the log power spectrogram (if
    power (n_freq, T_x) is given), the labels y (T_y,) and the detector's output probs (T_y,) (if given),
    with vertical lines at the chime steps. Not registered with pyplot."""
    from matplotlib.figure import Figure
    samples = np.asarray(samples, np.float64)
    duration = len(samples) / rate
    rows = [r for r, v in (("wave", samples), ("spec", power), ("y", y), ("p", probs)) if v is not None]
    heights = {"wave": 1.0, "spec": 1.6, "y": 0.7, "p": 1.0}
    fig = Figure(figsize=(9, 1.1 * sum(heights[r] for r in rows) + 0.5), dpi=72, layout="constrained")
    axes = fig.subplots(len(rows), 1, sharex=True, gridspec_kw={"height_ratios": [heights[r] for r in rows]})
    axes = np.atleast_1d(axes)
    for ax, row in zip(axes, rows):
        if row == "wave":
            blocks = min(len(samples), 1500)                       # the envelope: min and max of 1,500 blocks
            edges = np.linspace(0, len(samples), blocks + 1).astype(int)
            low = np.minimum.reduceat(samples, edges[:-1])
            high = np.maximum.reduceat(samples, edges[:-1])
            ax.fill_between(edges[:-1] / rate, low, high, color="tab:blue", linewidth=0)
            ax.set_ylabel("amplitude")
        elif row == "spec":
            ax.imshow(np.log10(np.asarray(power) + LOG_FLOOR), origin="lower", aspect="auto", cmap="magma",
                      extent=(0, duration, 0, rate / 2000))
            ax.set_ylabel("kHz")
        else:
            v = np.ravel(y if row == "y" else probs)
            t = (np.arange(len(v)) + 0.5) * duration / len(v)
            ax.plot(t, v, color="tab:green" if row == "y" else "tab:red", linewidth=1.2)
            ax.set_ylim(-0.05, 1.05)
            ax.set_ylabel("label" if row == "y" else "output")
            for s in chimes:
                ax.axvline((s + 0.5) * duration / len(v), color="k", linestyle="--", linewidth=0.8)
    axes[-1].set_xlabel("time (s)")
    if title:
        axes[0].set_title(title)
    return fig
