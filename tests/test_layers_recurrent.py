"""The recurrent layer library (utils/recurrent.py): gradient checks, agreement, dtype, errors, counts.

Gradient checks use the loss sum(out * G) (+ sum(c_last * H) for an LSTM), so the upstream gradients
are exactly G and H; float64, h = 1e-5, threshold 1e-7 (a correct layer gives about 1e-9 to 1e-11).
"""
import numpy as np
import pytest

from utils import gradcheck, init, io, recurrent

N_X, N_A, M, T = 3, 4, 2, 3
KINDS = ["rnn", "lstm", "gru"]
PARAMS = {"rnn": init.rnn_params, "lstm": init.lstm_params, "gru": init.gru_params}


def _cell(kind, rng, n_x=N_X, n_a=N_A, dtype=np.float64):
    p = PARAMS[kind](n_x, n_a, rng, dtype)
    for k in p:                                             # non-zero biases so every path is exercised
        if k.startswith("b"):
            p[k] = (p[k] + 0.3 * rng.standard_normal(p[k].shape)).astype(dtype)
    return p


def _inputs(rng, n_x=N_X, m=M, T_x=T):
    return rng.standard_normal((n_x, m, T_x))


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_equals_looping_steps(kind):
    """A sequence forward gives the states of the one-step function applied in a loop."""
    rng = np.random.default_rng(0)
    p, x = _cell(kind, rng), _inputs(rng)
    a0, c0 = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    forward, _ = recurrent.SEQUENCE[kind]
    out, cache = forward(x, p, a0, c0) if kind == "lstm" else forward(x, p, a0)
    a, c = a0, c0
    for t in range(T):
        if kind == "lstm":
            a, c, _ = recurrent.lstm_step_forward(x[:, :, t], a, c, p)
        else:
            a, _ = getattr(recurrent, f"{kind}_step_forward")(x[:, :, t], a, p)
        np.testing.assert_allclose(out[:, :, t], a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache["a_last"], a, rtol=1e-12, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(cache["c_last"], c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_sequence_gradcheck(kind, return_sequences):
    """Sequence backward (weights, x, a0, c0, and c_last for an LSTM) matches centred differences."""
    rng = np.random.default_rng(1)
    p, x = _cell(kind, rng), _inputs(rng)
    a0, c0 = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    G = rng.standard_normal((N_A, M, T) if return_sequences else (N_A, M))
    H = rng.standard_normal((N_A, M))
    forward, backward = recurrent.SEQUENCE[kind]

    def run():
        if kind == "lstm":
            return forward(x, p, a0, c0, return_sequences=return_sequences)
        return forward(x, p, a0, return_sequences=return_sequences)

    def loss():
        out, cache = run()
        return np.sum(out * G) + (np.sum(cache["c_last"] * H) if kind == "lstm" else 0.0)

    out, cache = run()
    grads = backward(G, cache, dc_last=H) if kind == "lstm" else backward(G, cache)
    arrays = {"x": x, "a0": a0, **p}
    if kind == "lstm":
        arrays["c0"] = c0
    assert set(grads) == {"d" + k for k in arrays}
    gradcheck.assert_gradients(loss, arrays, {k: grads["d" + k] for k in arrays})


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_gradcheck(kind, return_sequences):
    """Bidirectional backward (both cells and x) matches centred differences."""
    rng = np.random.default_rng(2)
    params = {"fwd": _cell(kind, rng), "bwd": _cell(kind, rng)}
    x = _inputs(rng)
    G = rng.standard_normal((2 * N_A, M, T) if return_sequences else (2 * N_A, M))
    loss = lambda: np.sum(recurrent.bidirectional_forward(x, params, kind, return_sequences)[0] * G)
    grads = recurrent.bidirectional_backward(G, recurrent.bidirectional_forward(x, params, kind, return_sequences)[1])
    arrays, analytic = {"x": x}, {"x": grads["dx"]}
    for side in ("fwd", "bwd"):
        for k, v in params[side].items():
            arrays[f"{side}_{k}"], analytic[f"{side}_{k}"] = v, grads["d" + side]["d" + k]
    gradcheck.assert_gradients(loss, arrays, analytic)


@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_halves(kind):
    """Top half = the forward cell on x; bottom half = the backward cell on x reversed, re-reversed."""
    rng = np.random.default_rng(3)
    params = {"fwd": _cell(kind, rng), "bwd": _cell(kind, rng)}
    x = _inputs(rng, T_x=5)
    out, _ = recurrent.bidirectional_forward(x, params, kind)
    forward, _ = recurrent.SEQUENCE[kind]
    np.testing.assert_allclose(out[:N_A], forward(x, params["fwd"])[0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(out[N_A:], forward(x[:, :, ::-1], params["bwd"])[0][:, :, ::-1],
                               rtol=1e-12, atol=1e-13)
    last, _ = recurrent.bidirectional_forward(x, params, kind, return_sequences=False)
    np.testing.assert_allclose(last, np.concatenate([out[:N_A, :, -1], out[N_A:, :, 0]]), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_follows_inputs_and_agrees(kind):
    """float32 inputs and parameters give float32 outputs and gradients, close to float64."""
    rng = np.random.default_rng(4)
    p64, x64 = _cell(kind, rng, n_x=6, n_a=8), _inputs(rng, n_x=6, m=5, T_x=7)
    p32, x32 = {k: v.astype(np.float32) for k, v in p64.items()}, x64.astype(np.float32)
    forward, backward = recurrent.SEQUENCE[kind]
    out64, c64 = forward(x64, p64)
    out32, c32 = forward(x32, p32)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    g64, g32 = backward(np.ones_like(out64), c64), backward(np.ones_like(out32), c32)
    for k in g64:
        assert g32[k].dtype == np.float32, k
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-4)


def test_deterministic_and_outputs_not_reused():
    """Same inputs give bit-identical results; pooled buffers never overwrite a returned array."""
    rng = np.random.default_rng(5)
    p, x = _cell("lstm", rng), _inputs(rng)
    G = rng.standard_normal((N_A, M, T))
    out1, cache1 = recurrent.lstm_sequence_forward(x, p)
    g1 = recurrent.lstm_sequence_backward(G, cache1)
    keep_out, keep_g = out1.copy(), {k: v.copy() for k, v in g1.items()}
    out2, cache2 = recurrent.lstm_sequence_forward(2 * x, p)          # reuses the pooled buffers
    recurrent.lstm_sequence_backward(G, cache2)
    out3, cache3 = recurrent.lstm_sequence_forward(x, p)
    g3 = recurrent.lstm_sequence_backward(G, cache3)
    assert np.array_equal(out1, keep_out) and np.array_equal(out3, keep_out)
    for k in keep_g:
        assert np.array_equal(g1[k], keep_g[k]) and np.array_equal(g3[k], keep_g[k]), k


def test_a_cache_backpropagates_once():
    """A second backward on the same cache is refused (its buffers went back to the pool)."""
    rng = np.random.default_rng(6)
    out, cache = recurrent.gru_sequence_forward(_inputs(rng), _cell("gru", rng))
    recurrent.gru_sequence_backward(np.ones_like(out), cache)
    with pytest.raises(ValueError, match="already used"):
        recurrent.gru_sequence_backward(np.ones_like(out), cache)


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_shapes_raise_clear_errors(kind):
    """Wrong x, a0 or da shapes raise ValueError naming the shape received."""
    rng = np.random.default_rng(7)
    p = _cell(kind, rng)
    forward, backward = recurrent.SEQUENCE[kind]
    with pytest.raises(ValueError, match=r"\(5, 2, 3\)"):
        forward(np.zeros((5, 2, 3)), p)                              # n_x should be 3
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        forward(np.zeros((3, 2)), p)                                 # no time axis
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        forward(np.zeros((3, 2, 3)), p, np.zeros((4, 5)))            # a0 for 5 examples
    out, cache = forward(np.zeros((3, 2, 3)), p)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        backward(np.zeros((4, 2)), cache)                            # da should be (4, 2, 3)
    step = getattr(recurrent, f"{kind}_step_forward")
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        step(np.zeros((2, 2)), np.zeros((4, 2)), *(() if kind != "lstm" else (np.zeros((4, 2)),)), p)


def test_wrong_parameters_raise_clear_errors():
    """A missing gate raises KeyError naming it; mismatched gate shapes raise ValueError."""
    rng = np.random.default_rng(8)
    p = _cell("lstm", rng)
    with pytest.raises(KeyError, match="Wo"):
        recurrent.lstm_sequence_forward(_inputs(rng), {k: v for k, v in p.items() if k != "Wo"})
    bad = dict(p, Wi=np.zeros((N_A, N_A + N_X + 1)))
    with pytest.raises(ValueError, match="Wi"):
        recurrent.lstm_sequence_forward(_inputs(rng), bad)
    with pytest.raises(KeyError, match="fwd"):
        recurrent.bidirectional_forward(_inputs(rng), {"forward": p, "bwd": p})


def test_zero_weight_removes_its_contribution():
    """Zeroing the candidate weights and bias of an LSTM leaves c = 0 and a = 0 from zero states."""
    rng = np.random.default_rng(9)
    p = _cell("lstm", rng)
    p["Wc"][:], p["bc"][:] = 0.0, 0.0
    out, cache = recurrent.lstm_sequence_forward(_inputs(rng), p)
    assert np.all(out == 0) and np.all(cache["c_last"] == 0)


def test_parameter_counts_the_standard_way():
    """LSTM 4 n_a (n_a + n_x + 1), GRU 3 n_a (n_a + n_x + 1), and the course's layer sizes."""
    rng = np.random.default_rng(10)
    for n_x, n_a in [(90, 64), (37, 32), (64, 64)]:
        assert io.count_params(init.lstm_params(n_x, n_a, rng)) == io.lstm_param_count(n_x, n_a) \
            == 4 * n_a * (n_a + n_x + 1)
    assert io.lstm_param_count(90, 64) == 39680                       # jazz LSTM
    assert io.bidirectional_param_count(io.lstm_param_count(37, 32)) == 17920   # dates pre-attention
    assert io.count_params(init.gru_params(196, 128, rng)) == io.gru_param_count(196, 128) == 124800
    assert io.count_params(init.rnn_params(27, 50, rng)) == io.rnn_param_count(27, 50) == 3900
