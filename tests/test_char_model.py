"""utils/char_model.py (the character model of assignment 2) and utils/plots.py.

The model is checked three ways: against a plain loop written from the equations, against the
layer library it is built on (utils/recurrent.py's RNN over one-hot inputs), and by centred
differences (float64, h = 1e-5; a correct gradient gives about 1e-9 to 1e-11, threshold 1e-7).
Training tests assert margins, never exact names or loss values, so they hold on any BLAS.
"""
import os

import numpy as np
import pytest
from matplotlib.figure import Figure

from utils import char_model, gradcheck, plots, recurrent
from utils.activations import softmax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def text():
    with open(os.path.join(ROOT, "data", "dinos.txt")) as f:
        return f.read()


@pytest.fixture(scope="module")
def names(text):
    return text.lower().splitlines()


def _params(rng, n_a, V, scale=0.7):
    return {"Wax": scale * rng.standard_normal((n_a, V)), "Waa": scale * rng.standard_normal((n_a, n_a)),
            "Wya": scale * rng.standard_normal((V, n_a)), "ba": scale * rng.standard_normal((n_a, 1)),
            "by": scale * rng.standard_normal((V, 1))}


def _one_hot(X, V):
    """(V, 1, T_x): column t is the one-hot vector of X[t], zeros for None."""
    x = np.zeros((V, 1, len(X)))
    for t, c in enumerate(X):
        if c is not None:
            x[c, 0, t] = 1.0
    return x


def _plain_forward(X, Y, a0, p):
    """The model written straight from its equations, one step at a time."""
    V = p["by"].shape[0]
    x, a, loss, states = _one_hot(X, V), a0, 0.0, []
    for t in range(len(X)):
        a = np.tanh(p["Wax"] @ x[:, :, t] + p["Waa"] @ a + p["ba"])
        y = softmax(p["Wya"] @ a + p["by"])
        loss -= np.log(y[Y[t], 0])
        states.append(a)
    return loss, np.stack(states, axis=2)


# ------------------------------------------------------------------ data helpers

def test_vocabulary_is_the_sorted_characters_of_the_text(text, names):
    """The vocabulary is sorted(set(text.lower())): the newline then a-z, 27 characters."""
    char_to_ix, ix_to_char = char_model.vocabulary(names)
    chars = sorted(set(text.lower()))
    assert len(chars) == 27 and chars[0] == "\n" and "".join(chars[1:]) == "abcdefghijklmnopqrstuvwxyz"
    assert char_to_ix == {c: i for i, c in enumerate(chars)}
    assert ix_to_char == dict(enumerate(chars))


def test_encode_shifts_the_name_by_one(names):
    """X starts with None (the zero input), Y is X shifted left with the newline at the end."""
    char_to_ix, _ = char_model.vocabulary(names)
    X, Y = char_model.encode("Mei", char_to_ix)
    m, e, i, nl = (char_to_ix[c] for c in "mei\n")
    assert X == [None, m, e, i] and Y == [m, e, i, nl]


def test_to_name_drops_the_newline_and_capitalises(names):
    char_to_ix, ix_to_char = char_model.vocabulary(names)
    assert char_model.to_name([char_to_ix[c] for c in "zby\n"], ix_to_char) == "Zby"
    assert char_model.to_name([char_to_ix["\n"]], ix_to_char) == ""


def test_initialize_parameters_shapes_and_draw_order():
    """Small weights drawn in the order Wax, Waa, Wya; zero biases; the same seed gives the same weights."""
    p = char_model.initialize_parameters(6, 9, np.random.default_rng(3))
    assert {k: v.shape for k, v in p.items()} == {"Wax": (6, 9), "Waa": (6, 6), "Wya": (9, 6), "ba": (6, 1),
                                                  "by": (9, 1)}
    assert not p["ba"].any() and not p["by"].any()
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(p["Wax"], 0.01 * rng.standard_normal((6, 9)))
    np.testing.assert_array_equal(p["Waa"], 0.01 * rng.standard_normal((6, 6)))
    np.testing.assert_array_equal(p["Wya"], 0.01 * rng.standard_normal((9, 6)))


def test_smooth_and_initial_loss():
    assert char_model.smooth(10.0, 20.0) == pytest.approx(10.01)
    assert char_model.smooth(10.0, 20.0, beta=0.5) == pytest.approx(15.0)
    assert char_model.initial_loss(27, ["ab", "abcd"]) == pytest.approx(np.log(27) * 4)


# ------------------------------------------------------------------ forward / backward

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forward_matches_the_equations(seed):
    """Loss and states equal a plain step-by-step loop, also with a zero input in the middle."""
    rng = np.random.default_rng(seed)
    n_a, V = int(rng.integers(2, 9)), int(rng.integers(3, 12))
    p = _params(rng, n_a, V)
    T = int(rng.integers(1, 9))
    X = [None] + [int(c) for c in rng.integers(0, V, T - 1)]
    if T > 3:
        X[2] = None
    Y = [int(c) for c in rng.integers(0, V, T)]
    a0 = rng.standard_normal((n_a, 1))
    loss, a, _ = char_model.forward(X, Y, a0, p)
    want_loss, want_a = _plain_forward(X, Y, a0, p)
    assert isinstance(loss, float)
    assert a.shape == (n_a, 1, T)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(a, want_a, rtol=1e-12, atol=1e-14)


def test_forward_and_backward_agree_with_the_layer_library():
    """The recurrence is utils/recurrent.py's RNN on one-hot inputs; so are its gradients."""
    rng = np.random.default_rng(4)
    n_a, V, T = 5, 8, 6
    p = _params(rng, n_a, V)
    X = [None] + [int(c) for c in rng.integers(0, V, T - 1)]
    Y = X[1:] + [0]
    a0 = rng.standard_normal((n_a, 1))
    _, a, cache = char_model.forward(X, Y, a0, p)
    grads = char_model.backward(cache)
    states, seq_cache = recurrent.rnn_sequence_forward(_one_hot(X, V), p, a0)
    np.testing.assert_allclose(a, states, rtol=1e-12, atol=1e-14)
    # upstream gradient of every state through the softmax layer
    probs = softmax(p["Wya"] @ states[:, 0, :] + p["by"])                  # (V, T)
    probs[Y, np.arange(T)] -= 1.0
    lib = recurrent.rnn_sequence_backward((p["Wya"].T @ probs)[:, None, :], seq_cache)
    for k in ("dWax", "dWaa", "dba"):
        np.testing.assert_allclose(grads[k], lib[k], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_backward_passes_the_gradient_check(seed):
    """Every parameter, every entry: centred differences in float64, relative error < 1e-7."""
    rng = np.random.default_rng(10 + seed)
    n_a, V = 4, 6
    p = _params(rng, n_a, V)
    X = [None, 2, 5, 2, 0, 3]
    Y = X[1:] + [1]
    a0 = 0.5 * rng.standard_normal((n_a, 1))
    grads = char_model.backward(char_model.forward(X, Y, a0, p)[2])
    assert set(grads) == {"dWax", "dWaa", "dWya", "dba", "dby"}
    errors = gradcheck.check_gradients(lambda: char_model.forward(X, Y, a0, p)[0], p,
                                       {k: grads["d" + k] for k in p})
    assert max(errors.values()) < gradcheck.TOLERANCE, errors


def test_forward_does_not_change_its_inputs():
    rng = np.random.default_rng(5)
    p = _params(rng, 4, 6)
    before = {k: v.copy() for k, v in p.items()}
    a0 = rng.standard_normal((4, 1))
    a0_before = a0.copy()
    char_model.backward(char_model.forward([None, 1, 2], [1, 2, 0], a0, p)[2])
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])
    np.testing.assert_array_equal(a0, a0_before)


def test_forward_rejects_bad_inputs():
    p = _params(np.random.default_rng(0), 4, 6)
    with pytest.raises(ValueError, match="same length"):
        char_model.forward([None, 1], [1], np.zeros((4, 1)), p)
    with pytest.raises(ValueError, match=r"\(n_a, 1\)"):
        char_model.forward([None, 1], [1, 0], np.zeros((5, 1)), p)


def test_a_uniform_model_pays_log_V_per_step():
    """With Wya = 0 and by = 0 every character has probability 1/V, whatever the state."""
    rng = np.random.default_rng(6)
    p = _params(rng, 5, 27)
    p["Wya"][:], p["by"][:] = 0.0, 0.0
    loss, _, _ = char_model.forward([None, 3, 4, 5], [3, 4, 5, 0], np.zeros((5, 1)), p)
    assert loss == pytest.approx(4 * np.log(27), rel=1e-12)


def test_the_model_can_learn_one_name_by_heart(names):
    """Plain SGD with clipping on a single name drives its loss towards zero."""
    char_to_ix, _ = char_model.vocabulary(names)
    p = char_model.initialize_parameters(16, len(char_to_ix), np.random.default_rng(0))
    X, Y = char_model.encode("tyrannosaurus", char_to_ix)
    a0 = np.zeros((16, 1))
    first = char_model.forward(X, Y, a0, p)[0]
    for _ in range(400):
        loss, _, cache = char_model.forward(X, Y, a0, p)
        for k, g in char_model.backward(cache).items():
            p[k[1:]] -= 0.1 * np.clip(g, -5, 5)
    assert first > 40 and char_model.forward(X, Y, a0, p)[0] < 0.5


# The training recipe (22,000 names, n_a = 50, lr 0.01, clip 5) lowering the loss is checked on the model that
# notebooks/sampling_and_beam_search.ipynb trains with it (tests/test_lab_sampling_and_beam_search.py).


# ------------------------------------------------------------------ plots

def test_moving_average_is_bias_corrected():
    np.testing.assert_allclose(plots.moving_average([3.0] * 5, 0.9), 3.0)
    np.testing.assert_allclose(plots.moving_average([1.0, 3.0], 0.5), [1.0, (0.5 * 0.5 + 0.5 * 3.0) / 0.75])
    with pytest.raises(ValueError):
        plots.moving_average([1.0], 1.0)


@pytest.mark.parametrize("kwargs", [{}, {"smoothing": 0.9}, {"levels": {"baseline": 2.0}, "logy": True}])
def test_loss_curve_returns_a_figure(kwargs):
    fig = plots.loss_curve(np.linspace(3, 1, 50), **kwargs)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert len(fig.axes[0].lines) == (2 if kwargs.get("smoothing") else 1) + len(kwargs.get("levels", {}))


def test_loss_curve_takes_several_histories():
    fig = plots.loss_curve({"train": [3, 2, 1], "dev": [3, 2.5, 2.2]}, title=None)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["train", "dev"]
    assert ax.get_legend() is not None
    with pytest.raises(ValueError, match="1-D"):
        plots.loss_curve(np.zeros((2, 2)))
