"""Assignment 3 (jazz_improvisation): the teacher's functions train, generate and make sound.

The functions come from the teacher notebook (its solution cells and the locked djmodel_backward and
train cells, as benchmarks/bench_jazz.py runs them); the data is the course corpus in data/jazz.
"""
import os

import mido
import numpy as np
import pytest
from scipy.io import wavfile

from benchmarks import bench_jazz
from utils import gradcheck, init, io, losses, music, recurrent


@pytest.fixture(scope="module")
def ns():
    return bench_jazz.teacher_functions()


@pytest.fixture(scope="module")
def data():
    return music.build_dataset(os.path.join(bench_jazz.ROOT, "data", "jazz"), T_x=30, m=60, seed=0)


@pytest.fixture(scope="module")
def trained(ns, data):
    X, Y, _ = data
    p = bench_jazz.fresh_parameters(X.shape[0])
    history = ns["train"](X, Y, p, epochs=100, learning_rate=0.02)
    return p, history


def _tiny(seed, n_values=6, n_a=4, m=3, T=5):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, n_values, size=(m, T + 1))
    X = np.eye(n_values)[tokens[:, :-1]].transpose(2, 0, 1)
    Y = np.eye(n_values)[tokens[:, 1:]].transpose(2, 0, 1)
    p = init.lstm_params(n_values, n_a, rng)
    p.update(Wy=rng.standard_normal((n_values, n_a)), by=rng.standard_normal((n_values, 1)))
    return X, Y, rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m)), p


def test_parameter_count_with_n_a_64(data):
    n_values = data[0].shape[0]
    assert n_values == 89
    p = bench_jazz.fresh_parameters(n_values)
    assert io.count_params(p) == 4 * 64 * (64 + 89 + 1) + 89 * (64 + 1) == 45209
    assert io.lstm_param_count(90, 64) + io.dense_param_count(64, 90) == 45530   # the original course's 90 values


def test_djmodel_is_one_shared_cell_and_dense_layer(ns):
    X, Y, a0, c0, p = _tiny(0)
    loss, cache = ns["djmodel"](X, Y, a0, c0, p)
    states, _ = recurrent.lstm_sequence_forward(X, p, a0, c0)
    logits = np.einsum("vn,nmt->vmt", p["Wy"], states) + p["by"][:, :, None]
    want, dlogits = losses.softmax_cross_entropy(logits, Y)
    assert np.isclose(loss, want, rtol=1e-10) and np.allclose(cache[2], dlogits, rtol=1e-10, atol=1e-12)


def test_djmodel_backward_matches_centred_differences(ns):
    X, Y, a0, c0, p = _tiny(1)
    grads = ns["djmodel_backward"](ns["djmodel"](X, Y, a0, c0, p)[1])
    assert set(grads) == {"d" + k for k in p}
    errors = gradcheck.check_gradients(lambda: ns["djmodel"](X, Y, a0, c0, p)[0], p,
                                       {k: grads["d" + k] for k in p})
    assert max(errors.values()) < 1e-7, errors


def test_sampling_is_reproducible_and_argmax_is_greedy(ns):
    _, _, a0, c0, p = _tiny(2)
    x0 = np.eye(6)[:, [0, 3, 5]]
    probs, idx = ns["music_inference_model"](x0, a0, c0, p, 8)
    assert np.array_equal(idx, probs.argmax(axis=0))
    runs = [ns["music_inference_model"](x0, a0, c0, p, 8, temperature=1.3, rng=np.random.default_rng(5))[1]
            for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])
    results, idx2 = ns["predict_and_sample"](p, x0, a0, c0, 8, temperature=1.3, rng=np.random.default_rng(5))
    assert np.array_equal(idx2, runs[0]) and np.array_equal(results.argmax(axis=0), idx2)
    assert results.dtype.kind == "f" and np.allclose(results.sum(axis=0), 1)


def test_100_epochs_lower_the_loss_well_below_its_start(trained, data):
    _, history = trained
    assert len(history) == 100
    assert abs(history[0] - np.log(data[0].shape[0])) < 0.3     # an untrained model is close to uniform
    assert history[-1] < 0.25 * history[0]                        # measured: 4.49 -> 0.09, i.e. 0.02 x start


def test_generated_solo_is_midi_and_audible(ns, trained, data, tmp_path):
    p, _ = trained
    X, _, vocab = data
    x0 = X[:, :1, 0]
    zeros = np.zeros((64, 1))
    _, idx = ns["predict_and_sample"](p, x0, zeros, zeros, 40, temperature=1.0, rng=np.random.default_rng(0))
    tokens = [vocab[int(i)] for i in idx[0]]
    _, chords, info = music.load_midi(os.path.join(bench_jazz.ROOT, "data", "jazz", "ii_V_I_C.mid"))
    notes, solo_chords = music.tokens_to_notes(tokens, chords, seed=0)
    assert notes, "the solo should contain notes"
    midi_path, wav_path = tmp_path / "solo.mid", tmp_path / "solo.wav"
    music.write_midi(midi_path, notes, solo_chords, bpm=info["bpm"])
    mid = mido.MidiFile(midi_path)                                    # parses back
    melody, _, _ = music.load_midi(midi_path)
    assert len(melody) == len(notes)
    music.midi_to_wav(midi_path, wav_path)
    rate, samples = wavfile.read(wav_path)
    assert len(samples) == round(mid.length * rate) and mid.length > 5
    assert np.abs(samples).max() > 1000                               # not silent
