"""Non-recurrent layers and losses (utils/layers.py, utils/losses.py): gradient checks, maths, errors.

Gradient checks: float64, h = 1e-5, threshold 1e-7, through sum(out * G) for a fixed random G.
"""
import numpy as np
import pytest

from utils import gradcheck, layers, losses, nmt


def _check(loss, arrays, grads, **kw):
    gradcheck.assert_gradients(loss, arrays, grads, **kw)


@pytest.mark.parametrize("activation", layers.ACTIVATIONS)
@pytest.mark.parametrize("shape", [(3, 2, 4), (3, 5)])
def test_dense_gradcheck(activation, shape):
    """Time-distributed dense (each activation, with or without a time axis) matches centred differences."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 1))
    G = rng.standard_normal((4,) + shape[1:])
    loss = lambda: np.sum(layers.dense_forward(x, W, b, activation)[0] * G)
    g = layers.dense_backward(G, layers.dense_forward(x, W, b, activation)[1])
    _check(loss, {"x": x, "W": W, "b": b}, {"x": g["dx"], "W": g["dW"], "b": g["db"]})


def test_dense_acts_per_time_step():
    """Dense on (n_in, m, T_x) equals the 2-D dense applied at each step; softmax columns sum to 1."""
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    y, _ = layers.dense_forward(x, W, b, "softmax")
    for t in range(4):
        np.testing.assert_allclose(y[:, :, t], layers.dense_forward(x[:, :, t], W, b, "softmax")[0])
    np.testing.assert_allclose(y.sum(axis=0), 1.0)


@pytest.mark.parametrize("k,stride", [(1, 1), (3, 1), (3, 2), (4, 3)])
def test_conv1d_gradcheck(k, stride):
    """Conv1D (kernel k, stride, valid padding) matches centred differences."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 11))
    W, b = rng.standard_normal((4, 3, k)), rng.standard_normal((4, 1))
    z, cache = layers.conv1d_forward(x, W, b, stride)
    G = rng.standard_normal(z.shape)
    loss = lambda: np.sum(layers.conv1d_forward(x, W, b, stride)[0] * G)
    g = layers.conv1d_backward(G, cache)
    _check(loss, {"x": x, "W": W, "b": b}, {"x": g["dx"], "W": g["dW"], "b": g["db"]})


def test_conv1d_matches_the_definition():
    """Conv1D equals the sum over channels and taps written with explicit loops."""
    rng = np.random.default_rng(3)
    x, W, b = rng.standard_normal((2, 3, 10)), rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 1))
    z, _ = layers.conv1d_forward(x, W, b, 2)
    T_out = (10 - 3) // 2 + 1
    want = np.zeros((5, 3, T_out))
    for t in range(T_out):
        for j in range(3):
            want[:, :, t] += W[:, :, j] @ x[:, :, 2 * t + j]
    np.testing.assert_allclose(z, want + b[:, :, None], rtol=1e-12, atol=1e-12)


def test_conv1d_trigger_word_shape():
    """Trigger word: 101 frequencies x 5511 steps, 196 filters, kernel 15, stride 4 -> 196 x 1375 steps."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((101, 2, 5511)).astype(np.float32)
    W, b = (0.01 * rng.standard_normal((196, 101, 15))).astype(np.float32), np.zeros((196, 1), np.float32)
    z, cache = layers.conv1d_forward(x, W, b, stride=4)
    assert z.shape == (196, 2, 1375) and z.dtype == np.float32
    assert layers.conv1d_output_length(5511, 15, 4) == 1375
    g = layers.conv1d_backward(np.ones_like(z), cache)
    assert g["dx"].shape == x.shape and g["dW"].shape == W.shape and g["dx"].dtype == np.float32


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 6)])
def test_batchnorm_gradcheck(training, shape):
    """Batch norm in training mode (through the batch statistics) and inference mode matches centred differences."""
    rng = np.random.default_rng(5)
    x = 2.0 + rng.standard_normal(shape)
    gamma, beta = rng.standard_normal((3, 1)), rng.standard_normal((3, 1))
    state = {"mean": rng.standard_normal((3, 1)), "var": 1 + rng.random((3, 1))}
    G = rng.standard_normal(shape)
    frozen = lambda: {k: v.copy() for k, v in state.items()}              # the loss must not move the stats
    loss = lambda: np.sum(layers.batchnorm_forward(x, gamma, beta, frozen(), training)[0] * G)
    g = layers.batchnorm_backward(G, layers.batchnorm_forward(x, gamma, beta, frozen(), training)[1])
    _check(loss, {"x": x, "gamma": gamma, "beta": beta}, {"x": g["dx"], "gamma": g["dgamma"], "beta": g["dbeta"]})


def test_batchnorm_statistics():
    """Training output has per-feature mean 0 and variance ~1; running stats move by (1 - momentum)."""
    rng = np.random.default_rng(6)
    x = 5.0 + 3.0 * rng.standard_normal((4, 50, 20))
    state = layers.batchnorm_state(4)
    y, _ = layers.batchnorm_forward(x, np.ones((4, 1)), np.zeros((4, 1)), state, training=True, momentum=0.9)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1.0, rtol=1e-3)
    np.testing.assert_allclose(state["mean"][:, 0], 0.1 * x.mean(axis=(1, 2)))
    y_inf, _ = layers.batchnorm_forward(x, np.ones((4, 1)), np.zeros((4, 1)), state, training=False)
    np.testing.assert_allclose(y_inf, (x - state["mean"][:, :, None]) / np.sqrt(state["var"][:, :, None] + 1e-3))


def test_dropout_modes_and_determinism():
    """Dropout zeroes about `rate` of the entries and rescales; same seed same mask; inference is identity."""
    x = np.ones((20, 50, 10), np.float32)
    y1, c1 = layers.dropout_forward(x, 0.3, np.random.default_rng(7), training=True)
    y2, _ = layers.dropout_forward(x, 0.3, np.random.default_rng(7), training=True)
    assert np.array_equal(y1, y2) and y1.dtype == np.float32
    assert abs(np.mean(y1 == 0) - 0.3) < 0.02
    np.testing.assert_allclose(y1[y1 != 0], 1 / 0.7, rtol=1e-6)
    np.testing.assert_allclose(layers.dropout_backward(np.ones_like(x), c1)["dx"], y1)
    y_inf, c_inf = layers.dropout_forward(x, 0.3, np.random.default_rng(7), training=False)
    assert y_inf is x and layers.dropout_backward(x, c_inf)["dx"] is x
    with pytest.raises(TypeError):
        layers.dropout_forward(x, 0.3, 7, training=True)


def test_dropout_gradcheck():
    """Dropout with a fixed mask (same seed every call) matches centred differences."""
    rng = np.random.default_rng(12)
    x, G = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    run = lambda: layers.dropout_forward(x, 0.4, np.random.default_rng(13), training=True)
    g = layers.dropout_backward(G, run()[1])
    _check(lambda: np.sum(run()[0] * G), {"x": x}, {"x": g["dx"]})


def test_attention_pieces_gradcheck():
    """Repeat, concatenate, softmax over time and weighted sum each match centred differences."""
    rng = np.random.default_rng(8)
    s, a, e = rng.standard_normal((3, 2)), rng.standard_normal((4, 2, 5)), rng.standard_normal((1, 2, 5))
    G3, G4 = rng.standard_normal((3, 2, 5)), rng.standard_normal((7, 2, 5))
    g = layers.repeat_backward(G3, layers.repeat_forward(s, 5)[1])
    _check(lambda: np.sum(layers.repeat_forward(s, 5)[0] * G3), {"s": s}, {"s": g["ds"]})
    r = rng.standard_normal((3, 2, 5))
    g = layers.concat_backward(G4, layers.concat_forward([r, a])[1])
    _check(lambda: np.sum(layers.concat_forward([r, a])[0] * G4), {"r": r, "a": a}, dict(zip("ra", g["dxs"])))
    Ge = rng.standard_normal((1, 2, 5))
    g = layers.softmax_time_backward(Ge, layers.softmax_time_forward(e)[1])
    _check(lambda: np.sum(layers.softmax_time_forward(e)[0] * Ge), {"e": e}, {"e": g["de"]})
    alphas = layers.softmax_time_forward(e)[0]
    Gc = rng.standard_normal((4, 2))
    g = layers.weighted_sum_backward(Gc, layers.weighted_sum_forward(alphas, a)[1])
    _check(lambda: np.sum(layers.weighted_sum_forward(alphas, a)[0] * Gc), {"alphas": alphas, "a": a},
           {"alphas": g["dalphas"], "a": g["da"]})


def test_attention_step_gradcheck_and_weights():
    """The composed attention step matches centred differences; its weights sum to 1 over time."""
    rng = np.random.default_rng(9)
    a, s_prev = rng.standard_normal((6, 3, 5)), rng.standard_normal((4, 3))
    p = {"W1": rng.standard_normal((7, 10)), "b1": rng.standard_normal((7, 1)),
         "W2": rng.standard_normal((1, 7)), "b2": np.full((1, 1), 0.5)}
    context, cache = nmt.attention_step_forward(a, s_prev, p)
    assert context.shape == (6, 3)
    np.testing.assert_allclose(cache["alphas"].sum(axis=2), 1.0)
    G = rng.standard_normal((6, 3))
    g = nmt.attention_step_backward(G, cache)
    loss = lambda: np.sum(nmt.attention_step_forward(a, s_prev, p)[0] * G)
    arrays = {"a": a, "s_prev": s_prev, **p}
    _check(loss, arrays, {k: g["d" + k] for k in arrays})


@pytest.mark.parametrize("onehot", [False, True])
def test_softmax_cross_entropy(onehot):
    """Gradient check of the sequence softmax loss; an all-zero model costs exactly log V per step."""
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((5, 3, 4))
    ids = rng.integers(0, 5, (3, 4))
    labels = np.eye(5)[ids].transpose(2, 0, 1) if onehot else ids
    loss, d = losses.softmax_cross_entropy(logits, labels)
    _check(lambda: losses.softmax_cross_entropy(logits, labels)[0], {"z": logits}, {"z": d})
    assert np.isclose(losses.softmax_cross_entropy(np.zeros((5, 3, 4)), labels)[0], np.log(5))


def test_binary_losses():
    """Gradient checks of the per-step binary losses; logits and probability forms agree."""
    rng = np.random.default_rng(11)
    z, y = rng.standard_normal((1, 3, 6)), (rng.random((1, 3, 6)) > 0.5).astype(float)
    loss, dz = losses.sigmoid_cross_entropy(z, y)
    _check(lambda: losses.sigmoid_cross_entropy(z, y)[0], {"z": z}, {"z": dz})
    p = 1 / (1 + np.exp(-z))
    loss_p, dp = losses.binary_cross_entropy(p, y)
    assert np.isclose(loss, loss_p)
    _check(lambda: losses.binary_cross_entropy(p, y)[0], {"p": p}, {"p": dp})
    big = np.array([[[1000.0, -1000.0]]])
    assert np.isfinite(losses.sigmoid_cross_entropy(big, np.array([[[0.0, 1.0]]]))[0])


def test_layer_shape_errors():
    """Wrong input shapes raise ValueError naming the shape received."""
    W, b = np.zeros((4, 3)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"\(5, 2, 3\)"):
        layers.dense_forward(np.zeros((5, 2, 3)), W, b)
    with pytest.raises(ValueError, match=r"\(5, 2, 30\)"):
        layers.conv1d_forward(np.zeros((5, 2, 30)), np.zeros((4, 3, 2)), b)
    with pytest.raises(ValueError, match=r"\(3, 2, 1\)"):
        layers.conv1d_forward(np.zeros((3, 2, 1)), np.zeros((4, 3, 2)), b)  # shorter than the kernel
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        layers.batchnorm_forward(np.zeros((2, 4)), np.ones((3, 1)), np.zeros((3, 1)), layers.batchnorm_state(3), True)
    with pytest.raises(ValueError, match=r"\(4, 2, 3\)"):
        layers.weighted_sum_forward(np.zeros((1, 2, 5)), np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        losses.softmax_cross_entropy(np.zeros((5, 3, 4)), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="activation"):
        layers.dense_forward(np.zeros((3, 2)), W, b, "swish")
