"""Assignment 1's reference (utils/rnn.py): seeded values, shapes, loops, gradient checks.

Every backward is checked through the scalar loss sum(a * G) (plus sum(c * H) for an LSTM cell),
G and H fixed random arrays, so the upstream gradients are exactly G and H. Expected relative
error in float64 with h = 1e-5: about 1e-9 to 1e-11 (threshold 1e-7).
"""
import numpy as np
import pytest

from utils import gradcheck, recurrent, rnn

N_X, N_A, N_Y, M, T = 3, 4, 2, 2, 3


def _params(kind, rng, n_x=N_X, n_a=N_A, n_y=N_Y):
    if kind == "rnn":
        return {"Wax": rng.standard_normal((n_a, n_x)), "Waa": rng.standard_normal((n_a, n_a)),
                "Wya": rng.standard_normal((n_y, n_a)), "ba": rng.standard_normal((n_a, 1)),
                "by": rng.standard_normal((n_y, 1))}
    gates = "fico" if kind == "lstm" else "urc"
    p = {}
    for g in gates:
        p["W" + g] = rng.standard_normal((n_a, n_a + n_x))
        p["b" + g] = rng.standard_normal((n_a, 1))
    p["Wy"], p["by"] = rng.standard_normal((n_y, n_a)), rng.standard_normal((n_y, 1))
    return p


def _grad_names(params):
    """The trainable names a backward returns gradients for (the output layer is excluded)."""
    return [k for k in params if k not in ("Wya", "Wy", "by")]


def test_rnn_cell_forward_seeded_value():
    """rnn_cell_forward reproduces the course's seeded a_next[4]."""
    np.random.seed(1)
    xt = np.random.randn(3, 10)
    a_prev = np.random.randn(5, 10)
    p = {"Waa": np.random.randn(5, 5), "Wax": np.random.randn(5, 3), "Wya": np.random.randn(2, 5),
         "ba": np.random.randn(5, 1), "by": np.random.randn(2, 1)}
    a_next, yt_pred, cache = rnn.rnn_cell_forward(xt, a_prev, p)
    expected = [0.59584544, 0.18141802, 0.61311866, 0.99808218, 0.85016201, 0.99980978,
                -0.18887155, 0.99815551, 0.6531151, 0.82872037]
    np.testing.assert_allclose(a_next[4], expected, rtol=0, atol=1e-8)
    assert a_next.shape == (5, 10) and yt_pred.shape == (2, 10)
    np.testing.assert_allclose(yt_pred.sum(axis=0), 1.0)
    assert len(cache) == 4 and cache[0] is a_next and cache[1] is a_prev and cache[2] is xt and cache[3] is p


def test_cell_shapes_and_cache_layouts():
    """Each cell returns the documented shapes and cache tuple."""
    rng = np.random.default_rng(0)
    xt, a_prev, c_prev = rng.standard_normal((N_X, M)), rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    p = _params("lstm", rng)
    a_next, c_next, yt, cache = rnn.lstm_cell_forward(xt, a_prev, c_prev, p)
    assert a_next.shape == c_next.shape == (N_A, M) and yt.shape == (N_Y, M)
    assert len(cache) == 10 and cache[8] is xt and cache[9] is p
    for gate in cache[4:8]:
        assert gate.shape == (N_A, M)
    ft, it, cct, ot = cache[4:8]
    np.testing.assert_allclose(c_next, ft * c_prev + it * cct)
    np.testing.assert_allclose(a_next, ot * np.tanh(c_next))
    p = _params("gru", rng)
    a_next, yt, cache = rnn.gru_cell_forward(xt, a_prev, p)
    assert a_next.shape == (N_A, M) and yt.shape == (N_Y, M) and len(cache) == 7
    _, _, _, u, r, cct, _ = cache
    np.testing.assert_allclose(a_next, u * cct + (1 - u) * a_prev)


def test_lstm_gates_match_the_formulas():
    """lstm_cell_forward's gates equal the textbook formulas written out directly."""
    rng = np.random.default_rng(1)
    xt, a_prev, c_prev = rng.standard_normal((N_X, M)), rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    p = _params("lstm", rng)
    concat = np.concatenate([a_prev, xt])
    sig = lambda z: 1 / (1 + np.exp(-z))
    _, _, _, cache = rnn.lstm_cell_forward(xt, a_prev, c_prev, p)
    np.testing.assert_allclose(cache[4], sig(p["Wf"] @ concat + p["bf"]), atol=1e-14)
    np.testing.assert_allclose(cache[5], sig(p["Wi"] @ concat + p["bi"]), atol=1e-14)
    np.testing.assert_allclose(cache[6], np.tanh(p["Wc"] @ concat + p["bc"]), atol=1e-14)
    np.testing.assert_allclose(cache[7], sig(p["Wo"] @ concat + p["bo"]), atol=1e-14)


def test_rnn_forward_equals_looping_the_cell():
    """rnn_forward gives the same a, y_pred and caches as calling rnn_cell_forward step by step."""
    rng = np.random.default_rng(2)
    x, a0, p = rng.standard_normal((N_X, M, T)), rng.standard_normal((N_A, M)), _params("rnn", rng)
    a, y_pred, (steps, x_back) = rnn.rnn_forward(x, a0, p)
    assert a.shape == (N_A, M, T) and y_pred.shape == (N_Y, M, T) and x_back is x and len(steps) == T
    a_t = a0
    for t in range(T):
        a_t, y_t, cache = rnn.rnn_cell_forward(x[:, :, t], a_t, p)
        np.testing.assert_allclose(a[:, :, t], a_t, atol=1e-14)
        np.testing.assert_allclose(y_pred[:, :, t], y_t, atol=1e-14)
        for got, want in zip(steps[t][:3], cache[:3]):
            np.testing.assert_allclose(got, want, atol=1e-14)


def test_lstm_forward_equals_looping_the_cell():
    """lstm_forward gives the same a, y, c as lstm_cell_forward step by step from c = 0."""
    rng = np.random.default_rng(3)
    x, a0, p = rng.standard_normal((N_X, M, T)), rng.standard_normal((N_A, M)), _params("lstm", rng)
    a, y, c, (steps, _) = rnn.lstm_forward(x, a0, p)
    assert a.shape == c.shape == (N_A, M, T) and y.shape == (N_Y, M, T) and len(steps) == T
    a_t, c_t = a0, np.zeros((N_A, M))
    for t in range(T):
        a_t, c_t, y_t, cache = rnn.lstm_cell_forward(x[:, :, t], a_t, c_t, p)
        for got, want in zip((a[:, :, t], c[:, :, t], y[:, :, t]), (a_t, c_t, y_t)):
            np.testing.assert_allclose(got, want, atol=1e-14)
        for got, want in zip(steps[t][:9], cache[:9]):
            np.testing.assert_allclose(got, want, atol=1e-14)


def test_float32_in_float32_out():
    """dtype follows the inputs: float32 in, float32 out."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N_X, M, T)).astype(np.float32)
    a0 = np.zeros((N_A, M), np.float32)
    p = {k: v.astype(np.float32) for k, v in _params("lstm", rng).items()}
    a, y, c, _ = rnn.lstm_forward(x, a0, p)
    assert a.dtype == y.dtype == c.dtype == np.float32


# --------------------------------------------------------------------------- gradient checks

def _check(loss, arrays, grads):
    gradcheck.assert_gradients(loss, arrays, grads)


def test_rnn_cell_backward_gradcheck():
    """rnn_cell_backward matches centred differences of sum(a_next * G)."""
    rng = np.random.default_rng(10)
    xt, a_prev, p = rng.standard_normal((N_X, M)), rng.standard_normal((N_A, M)), _params("rnn", rng)
    G = rng.standard_normal((N_A, M))
    loss = lambda: np.sum(rnn.rnn_cell_forward(xt, a_prev, p)[0] * G)
    g = rnn.rnn_cell_backward(G, rnn.rnn_cell_forward(xt, a_prev, p)[2])
    assert set(g) == {"dxt", "da_prev", "dWax", "dWaa", "dba"}
    arrays = {"xt": xt, "a_prev": a_prev, **{k: p[k] for k in _grad_names(p)}}
    _check(loss, arrays, {k: g["d" + k] for k in arrays})


def test_rnn_backward_gradcheck():
    """rnn_backward matches centred differences of sum(a * G) over all steps."""
    rng = np.random.default_rng(11)
    x, a0, p = rng.standard_normal((N_X, M, T)), rng.standard_normal((N_A, M)), _params("rnn", rng)
    G = rng.standard_normal((N_A, M, T))
    loss = lambda: np.sum(rnn.rnn_forward(x, a0, p)[0] * G)
    g = rnn.rnn_backward(G, rnn.rnn_forward(x, a0, p)[2])
    assert set(g) == {"dx", "da0", "dWax", "dWaa", "dba"}
    arrays = {"x": x, "a0": a0, **{k: p[k] for k in _grad_names(p)}}
    _check(loss, arrays, {k: g["d" + k] for k in arrays})


def test_lstm_cell_backward_gradcheck():
    """lstm_cell_backward matches centred differences of sum(a_next * G) + sum(c_next * H)."""
    rng = np.random.default_rng(12)
    xt, a_prev, c_prev = rng.standard_normal((N_X, M)), rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    p = _params("lstm", rng)
    G, H = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))

    def loss():
        a_next, c_next, _, _ = rnn.lstm_cell_forward(xt, a_prev, c_prev, p)
        return np.sum(a_next * G) + np.sum(c_next * H)

    g = rnn.lstm_cell_backward(G, H, rnn.lstm_cell_forward(xt, a_prev, c_prev, p)[3])
    assert set(g) == {"dxt", "da_prev", "dc_prev", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"}
    arrays = {"xt": xt, "a_prev": a_prev, "c_prev": c_prev, **{k: p[k] for k in _grad_names(p)}}
    _check(loss, arrays, {k: g["d" + k] for k in arrays})


@pytest.mark.parametrize("T_x", [1, 4])
def test_lstm_backward_gradcheck(T_x):
    """lstm_backward (carrying da_prev and dc_prev) matches centred differences of sum(a * G)."""
    rng = np.random.default_rng(13 + T_x)
    x, a0, p = rng.standard_normal((N_X, M, T_x)), rng.standard_normal((N_A, M)), _params("lstm", rng)
    G = rng.standard_normal((N_A, M, T_x))
    loss = lambda: np.sum(rnn.lstm_forward(x, a0, p)[0] * G)
    g = rnn.lstm_backward(G, rnn.lstm_forward(x, a0, p)[3])
    assert set(g) == {"dx", "da0", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"}
    arrays = {"x": x, "a0": a0, **{k: p[k] for k in _grad_names(p)}}
    _check(loss, arrays, {k: g["d" + k] for k in arrays})


def test_lstm_backward_needs_the_cell_state_path():
    """Dropping dc_prev between steps (the classic bug) changes dx at early steps: the test would see it."""
    rng = np.random.default_rng(20)
    x, a0, p = rng.standard_normal((N_X, M, T)), rng.standard_normal((N_A, M)), _params("lstm", rng)
    G = np.zeros((N_A, M, T))
    G[:, :, -1] = 1.0                                       # loss reads only the last hidden state
    steps, _ = rnn.lstm_forward(x, a0, p)[3]
    good = rnn.lstm_backward(G, (steps, x))["dx"][:, :, 0]
    da_prev, dc_prev = np.zeros((N_A, M)), np.zeros((N_A, M))
    for t in reversed(range(T)):                            # the buggy recursion: dc_prev reset each step
        g = rnn.lstm_cell_backward(G[:, :, t] + da_prev, np.zeros((N_A, M)), steps[t])
        da_prev = g["da_prev"]
    assert np.max(np.abs(good - g["dxt"])) > 1e-6


def test_gru_cell_backward_gradcheck():
    """gru_cell_backward matches centred differences of sum(a_next * G)."""
    rng = np.random.default_rng(14)
    xt, a_prev, p = rng.standard_normal((N_X, M)), rng.standard_normal((N_A, M)), _params("gru", rng)
    G = rng.standard_normal((N_A, M))
    loss = lambda: np.sum(rnn.gru_cell_forward(xt, a_prev, p)[0] * G)
    g = rnn.gru_cell_backward(G, rnn.gru_cell_forward(xt, a_prev, p)[2])
    assert set(g) == {"dxt", "da_prev", "dWu", "dbu", "dWr", "dbr", "dWc", "dbc"}
    arrays = {"xt": xt, "a_prev": a_prev, **{k: p[k] for k in _grad_names(p)}}
    _check(loss, arrays, {k: g["d" + k] for k in arrays})


def test_reference_backward_equals_fused_sequence_backward():
    """The A1 loops and the library's fused sequence backward give the same gradients (one maths)."""
    rng = np.random.default_rng(15)
    x, a0, p = rng.standard_normal((N_X, M, T)), rng.standard_normal((N_A, M)), _params("lstm", rng)
    G = rng.standard_normal((N_A, M, T))
    ref = rnn.lstm_backward(G, rnn.lstm_forward(x, a0, p)[3])
    _, cache = recurrent.lstm_sequence_forward(x, p, a0)
    fused = recurrent.lstm_sequence_backward(G, cache)
    for k, v in ref.items():
        np.testing.assert_allclose(fused[k], v, rtol=1e-12, atol=1e-12)
