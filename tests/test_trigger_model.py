"""Tests of utils.trigger_model: parameter counts, shapes, the whole detector's gradients, the spectrogram,
training examples and the event scores."""
from pathlib import Path

import numpy as np
import pytest

from utils import gradcheck
from utils import trigger_model as tm

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(n_x=4, n_f=5, kernel=3, n_a=3)      # a detector small enough for centred differences


def small_setup(seed=0, m=3, T_x=23):
    rng = np.random.default_rng(seed)
    params = tm.detector_params(rng, dtype=np.float64, **SMALL)
    for layer in params.values():                  # move gammas, betas and biases off their initial values
        for name, a in layer.items():
            if name in ("gamma", "beta") or name.startswith("b"):
                a += 0.3 * rng.standard_normal(a.shape)
    X = rng.standard_normal((SMALL["n_x"], m, T_x))
    return params, tm.detector_state(params), X, rng


def flat_arrays(params, grads, training):
    """name -> param array and name -> its gradient for every leaf. In training the conv bias is left out:
    batch norm subtracts the batch mean right after it, so its gradient is exactly zero (checked here) and
    centred differences give rounding noise only."""
    arrays, analytic = {}, {}
    for layer, d in params.items():
        for name, a in d.items():
            arrays[f"{layer}/{name}"] = a
            analytic[f"{layer}/{name}"] = grads["d" + layer]["d" + name]
    if training:
        assert np.max(np.abs(analytic.pop("conv/b"))) < 1e-12
        del arrays["conv/b"]
    return arrays, analytic


def test_parameter_counts_at_course_sizes():
    """521,657 trainable parameters (course GRU: one bias per gate) and 904 batch-norm statistics."""
    params = tm.detector_params(np.random.default_rng(0))
    state = tm.detector_state(params)
    assert tm.count_detector_params(params, state) == (521_657, 904)
    assert (tm.N_FREQ, tm.T_X, tm.T_Y) == (101, 5511, 1375)


@pytest.mark.parametrize("training", [True, False])
def test_whole_detector_gradients_float64(training):
    """Backward of the whole stack (conv, batch norms, ReLU, dropout, two GRUs, dense, sigmoid) against
    centred differences, for every parameter and the input."""
    params, state, X, rng = small_setup(seed=1 if training else 2)
    R = rng.standard_normal((1, X.shape[1], tm.conv1d_output_length(X.shape[2], SMALL["kernel"], 2)))
    if not training:                               # running statistics away from their initial values
        for s in state.values():
            s["mean"] += 0.2 * rng.standard_normal(s["mean"].shape)
            s["var"] *= np.exp(0.3 * rng.standard_normal(s["var"].shape))

    def loss():
        probs, _ = tm.detector_forward(X, params, state, training, np.random.default_rng(7), stride=2,
                                       dropout=0.3)
        return float(np.sum(probs * R))

    probs, cache = tm.detector_forward(X, params, state, training, np.random.default_rng(7), stride=2, dropout=0.3)
    assert probs.shape == R.shape
    grads = tm.detector_backward(R, cache)
    arrays, analytic = flat_arrays(params, grads, training)
    arrays["X"], analytic["X"] = X, grads["dX"]
    gradcheck.assert_gradients(loss, arrays, analytic, max_entries=12, rng=rng)


def test_loss_gradients_from_logits():
    """detector_loss_backward (binary cross-entropy per step, from the logits) against centred differences;
    the training path without dX gives the same weight gradients."""
    params, state, X, rng = small_setup(seed=3)
    T_y = tm.conv1d_output_length(X.shape[2], SMALL["kernel"], 2)
    Y = (rng.random((1, X.shape[1], T_y)) < 0.3).astype(np.float64)

    def loss():
        _, cache = tm.detector_forward(X, params, state, True, np.random.default_rng(4), stride=2, dropout=0.2)
        return tm.detector_loss_backward(Y, cache)[0]

    _, cache = tm.detector_forward(X, params, state, True, np.random.default_rng(4), stride=2, dropout=0.2)
    value, grads = tm.detector_loss_backward(Y, cache, need_dx=True)
    assert value == pytest.approx(loss(), rel=1e-12)
    arrays, analytic = flat_arrays(params, grads, True)
    gradcheck.assert_gradients(loss, arrays, analytic, max_entries=8, rng=rng)
    _, cache = tm.detector_forward(X, params, state, True, np.random.default_rng(4), stride=2, dropout=0.2)
    _, without_dx = tm.detector_loss_backward(Y, cache)
    assert "dX" not in without_dx
    np.testing.assert_allclose(without_dx["dconv"]["dW"], grads["dconv"]["dW"], rtol=1e-12, atol=1e-15)


def test_forward_shapes_dtype_and_inference_determinism():
    """Course shapes give (1, m, 1375) float32 probabilities; inference ignores rng and leaves the state alone."""
    rng = np.random.default_rng(0)
    params = tm.detector_params(rng)
    state = tm.detector_state(params)
    X = rng.standard_normal((101, 2, 5511)).astype(np.float32)
    before = {k: v["mean"].copy() for k, v in state.items()}
    p1, _ = tm.detector_forward(X, params, state, False, None)
    p2, _ = tm.detector_forward(X, params, state, False, np.random.default_rng(9))
    assert p1.shape == (1, 2, 1375) and p1.dtype == np.float32
    np.testing.assert_array_equal(p1, p2)
    for k, v in state.items():
        np.testing.assert_array_equal(v["mean"], before[k])
    assert np.all((p1 > 0) & (p1 < 1))


# --------------------------------------------------------------------------- spectrogram and examples

def test_power_spectrogram_matches_mlab_and_finds_a_tone():
    """(101, 5511) for 10 s at 44.1 kHz, equal to matplotlib.mlab.specgram, and a pure tone peaks in its bin."""
    from matplotlib import mlab
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(tm.N_SAMPLES)
    p = tm.power_spectrogram(x)
    ref = mlab.specgram(x, NFFT=200, Fs=tm.RATE, noverlap=120)[0]
    assert p.shape == ref.shape == (101, 5511)
    np.testing.assert_allclose(p, ref, rtol=1e-10, atol=1e-14 * ref.max())
    tone = np.sin(2 * np.pi * 30 * tm.RATE / 200 * np.arange(tm.N_SAMPLES) / tm.RATE)   # bin 30 exactly
    assert np.all(np.argmax(tm.power_spectrogram(tone), axis=0) == 30)
    f = tm.clip_features(x)
    assert f.shape == (101, 5511) and f.dtype == np.float32


def toy_clips(rng):
    background = 0.01 * rng.standard_normal(tm.N_SAMPLES)
    activates = [0.5 * np.sin(np.arange(n) * 0.05) for n in (20000, 30000)]
    negatives = [0.5 * np.sin(np.arange(n) * 0.11) for n in (15000, 25000)]
    return background, activates, negatives


def test_training_example_labels_and_segments():
    """Labels: 50 ones after each "activate" (fewer only at the end of the clip), none for other words;
    segments never overlap; the same seed gives the same example."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        bg, acts, negs = toy_clips(rng)
        x, y, segs = tm.make_training_example(bg, acts, negs, rng)
        assert x.shape == (101, 5511) and y.shape == (1, 1375)
        for i, (s, e, _) in enumerate(segs):
            assert 0 <= s <= e < tm.N_SAMPLES
            assert not tm.segments_overlap((s, e), segs[:i] + segs[i + 1:])
        expected = np.zeros((1, 1375), np.float32)
        for s, e, act in segs:
            if act:
                end = int(e * 1375 / tm.N_SAMPLES)
                expected[0, end + 1:end + 51] = 1
        np.testing.assert_array_equal(y, expected)
        n_act = sum(act for *_, act in segs)
        assert y.sum() <= 50 * n_act
    a = tm.make_training_example(bg, acts, negs, np.random.default_rng(3))
    b = tm.make_training_example(bg, acts, negs, np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[2] == b[2]
    _, y, segs = tm.make_training_example(bg, acts, negs, np.random.default_rng(1), n_activates=0, n_negatives=3)
    assert y.sum() == 0 and len(segs) == 3


def test_label_ones_clipped_at_the_end_and_placement_gives_up():
    """An "activate" ending in the last steps gets fewer than 50 ones; no room left gives None."""
    y = tm.label_ones(np.zeros((1, 1375)), tm.N_SAMPLES - 1)
    assert y.sum() == 0
    y = tm.label_ones(np.zeros((1, 1375)), int(1360 * tm.N_SAMPLES / 1375) + 10)
    assert y.sum() == 1374 - 1360
    rng = np.random.default_rng(0)
    assert tm.place_clip(100, 60, [(0, 99, True)], rng) is None
    assert tm.place_clip(100, 101, [], rng) is None
    assert tm.place_clip(100, 40, [(0, 49, True)], rng) in [(s, s + 39) for s in range(50, 61)]


def test_band_limit_empties_the_band_above_the_recording_rate():
    """band_limit keeps the length and removes what a recording at that rate could not hold."""
    x = np.random.default_rng(0).standard_normal(tm.N_SAMPLES)
    y = tm.band_limit(x, 16000)
    assert y.shape == x.shape
    p = tm.power_spectrogram(y)                       # bin k is k * 220.5 Hz: 8 kHz is bin 36
    assert p[50:].mean() < 1e-5 * p[:30].mean()      # above 11 kHz: leakage of the Hann window only
    x_full, y_full, _ = tm.make_training_example(0.01 * x, [x[:9000]], [], np.random.default_rng(2), n_negatives=0)
    x_band, y_band, _ = tm.make_training_example(0.01 * x, [x[:9000]], [], np.random.default_rng(2), n_negatives=0,
                                                 band_limit_prob=1.0)
    np.testing.assert_array_equal(y_band, y_full)       # the same words, labels and (low) band
    assert x_band[60:].mean() < x_full[60:].mean() - 1


def test_event_scores():
    """A run ending within 0.5 s after an "activate" end is a true positive, once; others are false."""
    probs = np.zeros(1375)
    end_sample = int(400 * tm.N_SAMPLES / 1375) + 5                  # output step 400
    probs[401:451] = 0.9                                             # the right place
    probs[700:720] = 0.8                                             # nothing there
    assert tm.detection_runs(probs, 0.5) == [(401, 450), (700, 719)]
    assert tm.score_detections(probs, [end_sample]) == (1, 1, 0)
    assert tm.score_detections(np.zeros(1375), [end_sample]) == (0, 0, 1)
    late = np.zeros(1375)
    late[480:500] = 0.9                                              # ends 99 steps (0.72 s) after
    assert tm.score_detections(late, [end_sample]) == (0, 1, 1)
    f = tm.evaluate(probs[None, None], np.zeros((1, 1, 1375)), [[(0, end_sample, True)]])
    assert (f["precision"], f["recall"]) == (0.5, 1.0) and f["f1"] == pytest.approx(2 / 3)


def test_load_wav_stereo_uint8_and_bad_files(tmp_path):
    """Stereo is averaged, uint8 and int16 scale to [-1, 1]; a text file is a ValueError naming it."""
    from scipy.io import wavfile
    wavfile.write(tmp_path / "s.wav", 8000, np.array([[16384, -16384], [32767, 32767]], np.int16))
    x, rate = tm.load_wav(tmp_path / "s.wav")
    assert rate == 8000 and x.shape == (2,)
    np.testing.assert_allclose(x, [0.0, 32767 / 32768])
    wavfile.write(tmp_path / "u.wav", 8000, np.array([128, 255, 0], np.uint8))
    np.testing.assert_allclose(tm.load_wav(tmp_path / "u.wav")[0], [0.0, 127 / 128, -1.0])
    (tmp_path / "t.wav").write_text("not audio")
    with pytest.raises(ValueError, match="t.wav"):
        tm.load_wav(tmp_path / "t.wav")
    with pytest.raises(FileNotFoundError):
        tm.load_wav(tmp_path / "missing.wav")
    np.testing.assert_allclose(len(tm.to_rate(np.zeros(22050), 22050)), 44100)


def test_pretrained_weights_load():
    """data/trigger/weights.npz holds float32 parameters and batch-norm statistics of the course's shapes."""
    params, state = tm.load_detector()
    assert tm.count_detector_params(params, state) == (521_657, 904)
    assert all(a.dtype == np.float32 for d in params.values() for a in d.values())


# --------------------------------------------------------------------------- command line

def speech_file(path, rate=22050, seconds=14.0, stereo=True):
    """A WAV of dev-set speech: a dev background, "activate" at 2 s and 11 s, "activity" at 6 s.
    Returns the end times (seconds) of the two "activate" words."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly
    dev = tm.load_split(str(ROOT / "data" / "trigger"), "dev")
    n = int(seconds * tm.RATE)
    x = np.resize(dev["backgrounds"][2], n).copy()
    ends = []
    for start, word in ((2.0, dev["activates"][0]), (6.0, dev["negatives"][1]), (11.0, dev["activates"][5])):
        s = int(start * tm.RATE)
        x[s:s + len(word)] += word
        if word is not dev["negatives"][1]:
            ends.append((s + len(word)) / tm.RATE)
    x = resample_poly(x, rate, tm.RATE)
    data = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
    wavfile.write(path, rate, np.stack([data, data], axis=1) if stereo else data)
    return ends


def test_command_line_reports_every_file_and_fails_on_bad_ones(tmp_path):
    """python -m utils.trigger prints a line per readable file (any rate, stereo, longer than 10 s), a clear
    message for a missing and for an unreadable file, goes on with the others, and exits with status 1."""
    import subprocess
    import sys
    good = tmp_path / "speech.wav"
    speech_file(good)
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not a WAV file")
    missing = tmp_path / "missing.wav"
    done = subprocess.run([sys.executable, "-m", "utils.trigger", str(missing), str(bad), str(good)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert f"{missing}: error: no such file" in done.stderr
    assert f"{bad}: error: cannot read it as a WAV file" in done.stderr
    line = done.stdout.strip()
    assert line.startswith(f"{good}: ") and line.endswith("(seconds)"), line
    times = [float(t) for t in line[len(f"{good}: "):-len("(seconds)")].split(",")]
    ends = speech_file(tmp_path / "again.wav")
    assert len(times) == len(ends)                     # the two "activate", not "activity" between them
    for t, end in zip(times, ends):
        assert end - 0.2 <= t <= end + 0.5, (times, ends)
    done = subprocess.run([sys.executable, "-m", "utils.trigger", str(good)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == ""


def test_windows_cover_any_length():
    """Audio under 10 s is padded to one window; longer audio gets 10-second windows, the last one ending
    with the audio."""
    from utils import trigger
    starts, clips = trigger.windows(np.zeros(3 * tm.RATE))
    assert starts == [0] and clips.shape == (1, tm.N_SAMPLES)
    starts, clips = trigger.windows(np.arange(25 * tm.RATE, dtype=np.float64))
    assert starts == [0, 10 * tm.RATE, 15 * tm.RATE] and clips.shape == (3, tm.N_SAMPLES)
    assert clips[-1, -1] == 25 * tm.RATE - 1
    assert trigger.first_crossings(np.array([0, 0.9, 0.9, 0, 0.8] + [0] * 80 + [0.9]), 0.5) == [1, 85]
