"""The recurrent layer library (utils/recurrent.py): gradient checks, agreement, dtype, errors, counts.

Gradient checks use the loss sum(out * G) (+ sum(c_last * H) for an LSTM), so the upstream gradients
are exactly G and H; float64, h = 1e-5, threshold 1e-7 (a correct layer gives about 1e-9 to 1e-11).
"""
import ast
import pathlib

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


# --------------------------------------------------------------------------- the engine boundary

def test_rnn_recurrence_equals_the_sequence_layer():
    """rnn_recurrence_forward/_backward over Wax x<t> + ba give rnn_sequence_forward/_backward's states and grads."""
    rng = np.random.default_rng(11)
    p, x = _cell("rnn", rng), _inputs(rng, T_x=5)
    a0, G = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M, 5))
    out, cache = recurrent.rnn_sequence_forward(x, p, a0)
    lib = recurrent.rnn_sequence_backward(G, cache)
    Z = np.ascontiguousarray((np.einsum("ij,jmt->imt", p["Wax"], x) + p["ba"][:, :, None]).transpose(2, 0, 1))
    A = recurrent.rnn_recurrence_forward(Z, p["Waa"], a0)                     # (T_x + 1, n_a, m)
    assert A.shape == (6, N_A, M)
    np.testing.assert_array_equal(A[0], a0)
    np.testing.assert_allclose(A[1:].transpose(1, 2, 0), out, rtol=1e-12, atol=1e-13)
    dZ, da0 = recurrent.rnn_recurrence_backward(np.ascontiguousarray(G.transpose(2, 0, 1)), A, p["Waa"])
    assert dZ.shape == (5, N_A, M) and da0.shape == (N_A, M)
    dZ2 = dZ.transpose(1, 0, 2).reshape(N_A, -1)                               # (n_a, T_x m)
    np.testing.assert_allclose(da0, lib["da0"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dZ2 @ A[:-1].transpose(1, 0, 2).reshape(N_A, -1).T, lib["dWaa"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dZ2.sum(axis=1, keepdims=True), lib["dba"], rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        recurrent.rnn_recurrence_forward(Z, np.zeros((4, 4)), np.zeros((3, M)))  # a0 for n_a = 3


def test_lstm_sequence_gates_are_the_step_caches():
    """lstm_sequence_gates gives c and ft, it, cct, ot of every step as lstm_step_forward's caches hold them."""
    rng = np.random.default_rng(12)
    p, x = _cell("lstm", rng), _inputs(rng)
    a0, c0 = rng.standard_normal((N_A, M)), rng.standard_normal((N_A, M))
    out, cache = recurrent.lstm_sequence_forward(x, p, a0, c0)
    gates = recurrent.lstm_sequence_gates(cache)
    assert set(gates) == {"c", "ft", "it", "cct", "ot"} and all(v.shape == (N_A, M, T) for v in gates.values())
    a, c = a0, c0
    for t in range(T):
        a, c, step = recurrent.lstm_step_forward(x[:, :, t], a, c, p)
        _, c_next, _, _, ft, it, cct, ot = step[:8]
        for name, want in (("c", c_next), ("ft", ft), ("it", it), ("cct", cct), ("ot", ot)):
            np.testing.assert_allclose(gates[name][:, :, t], want, rtol=1e-12, atol=1e-13, err_msg=name)
    recurrent.lstm_sequence_backward(np.ones_like(out), cache)             # the accessor left the cache usable
    with pytest.raises(ValueError, match="already used"):
        recurrent.lstm_sequence_gates(cache)
    with pytest.raises(ValueError, match="lstm_sequence_forward"):
        recurrent.lstm_sequence_gates(recurrent.gru_sequence_forward(x, _cell("gru", rng))[1])


def _private_imports(source):
    """Private names (leading underscore, dunders aside) that ``source`` takes from utils modules:
    ``from utils.x import _y``, ``from utils import _y``, and ``x._y`` / ``utils.x._y`` on an imported utils module."""
    tree = ast.parse(source)
    modules, found = set(), []                       # local names bound to utils modules (or the package)
    private = lambda name: name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "utils"):
            for alias in node.names:
                if private(alias.name):
                    found.append(f"from {node.module} import {alias.name} (line {node.lineno})")
                elif node.module == "utils" or node.level:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "utils":
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                found.append(f"{ast.unparse(node)} (line {node.lineno})")
    return found


def test_the_boundary_scan_sees_every_form_of_private_import():
    """The scan below flags the ways a module can reach another utils module's private names."""
    snippet = ("from utils.recurrent import _buffer, fuse\nfrom utils import recurrent as r, layers\n"
               "import utils.recurrent\nfrom . import activations\n"
               "r._rnn_kernel(1)\nlayers._im2col\nutils.recurrent._FREE\nactivations._x\nr.fuse\nr.__name__\n"
               "self._own = 1\n")
    assert len(_private_imports(snippet)) == 5
    assert _private_imports("from utils import recurrent\nrecurrent.fuse({}, 'rnn')\nx._y = 2\n") == []


def test_no_utils_module_reaches_into_another_ones_private_names():
    """utils/ modules use each other's public names only (utils/recurrent.py's kernels and pool stay inside it)."""
    utils_dir = pathlib.Path(recurrent.__file__).parent
    offenders = {f.name: hits for f in sorted(utils_dir.glob("*.py"))
                 if (hits := _private_imports(f.read_text(encoding="utf-8")))}
    assert not offenders, f"private names used across utils modules: {offenders}"
