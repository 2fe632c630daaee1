"""Recurrent layers (RNN, LSTM, GRU): one step, a whole sequence, bidirectional.

Shapes use the course notation: x (n_x, m, T_x); states a0, c0, a_prev, c_prev (n_a, m); outputs
(n_a, m, T_x), or the last state (n_a, m). Parameters keep the course names, each gate's W of shape
(n_a, n_a + n_x) acting on [a_prev; xt] (a_prev on top), each b (n_a, 1):
LSTM Wf, bf, Wi, bi, Wc, bc, Wo, bo; GRU Wu, bu, Wr, br, Wc, bc; RNN Waa (n_a, n_a), Wax (n_a, n_x), ba.
Gradient dicts are keyed ``d`` + name. dtype follows the inputs (float64 for checks, float32 for speed).

Public API (``__all__``); every other module uses only these names:

- one step: ``rnn_step_forward``/``_backward``, ``lstm_step_forward``/``_backward``,
  ``gru_step_forward``/``_backward``; their caches are plain tuples of arrays;
- a whole sequence: ``rnn_sequence_forward``/``_backward``, ``lstm_sequence_forward``/``_backward``,
  ``gru_sequence_forward``/``_backward`` (also in ``SEQUENCE[kind]``), and ``bidirectional_forward``/
  ``_backward``. Their caches are opaque dicts: read only the documented keys ``a_last`` and ``c_last``,
  or use the accessor ``lstm_sequence_gates``. A sequence cache can be back-propagated once: the
  backward hands its buffers back to a pool, and a second backward with the same cache raises
  ValueError (run the forward again);
- an RNN recurrence over input terms the caller computed itself (utils/char_model.py gathers columns of
  Wax for one-hot characters): ``rnn_recurrence_forward``/``_backward``;
- parameters: ``fuse``/``unfuse``, ``GATES``; memory: ``release_buffers``, ``POOL_LIMIT_BYTES``.

Everything with a leading underscore (the step kernels, their derivative factors, the buffer pool, the
shared sequence loops) is private to this module; tests/test_layers_recurrent.py checks that no module
in utils/ uses another module's private names.

How it is fast, and still one piece of maths:

- ``fuse`` stacks a cell's gate matrices into one W (k n_a, n_a + n_x) (row blocks in the internal
  orders of ``GATES``), so a step is one matmul; sigmoid rows are pre-halved so that one tanh call
  activates every gate, using sigmoid(z) = (1 + tanh(z / 2)) / 2;
- the input projection of all time steps is one matmul before the loop, the weight gradients one
  matmul over all steps after it; the derivative factors of every step are computed in bulk;
- a bidirectional layer runs both directions in the same loop (batched matmuls over a leading
  direction axis), halving the number of numpy calls per step;
- sequence buffers come from a small pool and go back to it when backward is done (hence a sequence
  cache can be back-propagated once).

The step kernels (``_*_kernel`` and ``_*_kernel_backward``) are the only place where the cell
equations are written. Every public function here calls them: the one-step functions (which
assignment 1's reference, utils/rnn.py, wraps), the sequence functions and the RNN recurrence
(which utils/char_model.py runs).
"""
import numpy as np

from utils import threads
from utils.activations import sigmoid_backward_into, tanh_backward_into

__all__ = ["GATES", "POOL_LIMIT_BYTES", "SEQUENCE", "bidirectional_backward", "bidirectional_forward", "fuse",
           "gru_sequence_backward", "gru_sequence_forward", "gru_step_backward", "gru_step_forward",
           "lstm_sequence_backward", "lstm_sequence_forward", "lstm_sequence_gates", "lstm_step_backward",
           "lstm_step_forward", "release_buffers", "rnn_recurrence_backward", "rnn_recurrence_forward",
           "rnn_sequence_backward", "rnn_sequence_forward", "rnn_step_backward", "rnn_step_forward", "unfuse"]

# Internal row-block order of the fused matrices: sigmoid gates first, then the tanh candidate.
GATES = {"rnn": ("aa",), "lstm": ("o", "f", "i", "c"), "gru": ("r", "u", "c")}
_SIGMOID_BLOCKS = {"rnn": 0, "lstm": 3, "gru": 2}


# --------------------------------------------------------------------------- buffer pool

_FREE = {}                   # (shape, dtype) -> list of arrays no caller holds any more
POOL_LIMIT_BYTES = 256 * 2 ** 20


def _buffer(shape, dtype):
    """An uninitialised array from the pool (or new). shape: tuple; dtype: numpy dtype."""
    stack = _FREE.get((tuple(shape), np.dtype(dtype)))
    return stack.pop() if stack else np.empty(shape, dtype)


def _recycle(*arrays):
    """Give arrays back to the pool: at most 4 per shape and dtype, POOL_LIMIT_BYTES in all."""
    held = sum(a.nbytes for stack in _FREE.values() for a in stack)
    for a in arrays:
        stack = _FREE.setdefault((a.shape, a.dtype), [])
        if len(stack) < 4 and held + a.nbytes <= POOL_LIMIT_BYTES and not any(a is s for s in stack):
            stack.append(a)
            held += a.nbytes


def release_buffers():
    """Empty the buffer pool (its memory goes back to numpy)."""
    _FREE.clear()


# --------------------------------------------------------------------------- parameters

def fuse(params, kind):
    """Stack a cell's named parameters into one matrix.

    params: dict of course-named arrays (module docstring); kind: "rnn", "lstm" or "gru".
    Returns W (k n_a, n_a + n_x) whose first n_a columns act on a_prev, and b (k n_a, 1).
    Raises KeyError for a missing name and ValueError naming the shapes when they disagree.
    """
    if kind == "rnn":
        for key in ("Waa", "Wax", "ba"):
            if key not in params:
                raise KeyError(f"rnn parameters need '{key}', got keys {sorted(params)}")
        Waa, Wax, ba = (np.asarray(params[k]) for k in ("Waa", "Wax", "ba"))
        n_a = Waa.shape[0]
        if Waa.shape != (n_a, n_a) or Wax.ndim != 2 or Wax.shape[0] != n_a or ba.shape != (n_a, 1):
            raise ValueError(f"rnn parameters need Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1); got "
                             f"Waa {Waa.shape}, Wax {Wax.shape}, ba {ba.shape}")
        return np.concatenate([Waa, Wax], axis=1), ba
    names = GATES[kind]
    for g in names:
        for key in ("W" + g, "b" + g):
            if key not in params:
                raise KeyError(f"{kind} parameters need '{key}', got keys {sorted(params)}")
    first = np.shape(params["W" + names[0]])
    n_a = first[0]
    for g in names:
        W, b = np.shape(params["W" + g]), np.shape(params["b" + g])
        if len(W) != 2 or W != first or W[1] <= n_a or b != (n_a, 1):
            raise ValueError(f"{kind} parameters need every W (n_a, n_a + n_x) and b (n_a, 1); got "
                             f"W{g} {W}, b{g} {b} (W{names[0]} is {first})")
    W = np.concatenate([params["W" + g] for g in names], axis=0)
    b = np.concatenate([params["b" + g] for g in names], axis=0)
    return W, b


def unfuse(dW, db, kind):
    """Split fused gradients into course names (the inverse of ``fuse``).

    dW (k n_a, n_a + n_x); db (k n_a, 1). Returns dict dW* (n_a, n_a + n_x), db* (n_a, 1)
    (RNN: dWaa (n_a, n_a), dWax (n_a, n_x), dba (n_a, 1)), as views of dW and db.
    """
    if kind == "rnn":
        n_a = dW.shape[0]
        return {"dWaa": dW[:, :n_a], "dWax": dW[:, n_a:], "dba": db}
    names = GATES[kind]
    n_a = dW.shape[0] // len(names)
    grads = {}
    for j, g in enumerate(names):                  # views of dW and db: callers pass fresh arrays
        grads["dW" + g] = dW[j * n_a:(j + 1) * n_a]
        grads["db" + g] = db[j * n_a:(j + 1) * n_a]
    return grads


def _gate_scale(kind, n_a, dtype):
    """(k n_a, 1): 0.5 on the sigmoid gates' rows, 1 on the tanh rows. Pre-scaling W and b by it lets the
    kernels apply one tanh to every row, with sigmoid(z) = (1 + tanh(z / 2)) / 2."""
    scale = np.ones((len(GATES[kind]) * n_a, 1), dtype=dtype)
    scale[:_SIGMOID_BLOCKS[kind] * n_a] = 0.5
    return scale


def _float_dtype(*arrays):
    dt = np.result_type(*arrays)
    return dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64)


def _check_input(fn, x, ndim, n_x):
    x = np.asarray(x)
    want = "(n_x, m, T_x)" if ndim == 3 else "(n_x, m)"
    if x.ndim != ndim or x.shape[0] != n_x or (ndim == 3 and x.shape[2] < 1):
        raise ValueError(f"{fn}: x should have shape {want} with n_x = {n_x} (from the parameters), "
                         f"got shape {x.shape}")
    return x


def _check_state(fn, name, s, n_a, m, dtype):
    if s is None:
        return np.zeros((n_a, m), dtype=dtype)
    s = np.asarray(s)
    if s.shape != (n_a, m):
        raise ValueError(f"{fn}: {name} should have shape (n_a, m) = ({n_a}, {m}), got {s.shape}")
    return s


# --------------------------------------------------------------------------- step kernels
# n = n_a. Gates are (..., k, n, m): the leading axes (none for one step, the direction axis in a
# sequence) broadcast. g: on entry the step's input projection plus bias (sigmoid rows halved), on
# exit the activated gates. Wa (..., k n, n): recurrent columns of W times ``_gate_scale``. States a_prev,
# c_prev, a_next, c_next, tanh_c are (..., n, m); outputs are written in place.

def _rnn_kernel(g, a_prev, Wa, a_next):
    """a_next = tanh(Waa a_prev + Wax xt + ba); g (..., 1, n, m) holds Wax xt + ba."""
    z = g[..., 0, :, :]
    z += Wa @ a_prev
    np.tanh(z, out=a_next)


def _lstm_kernel(g, a_prev, c_prev, Wa, c_next, tanh_c, a_next):
    """One LSTM step; g (..., 4, n, m) becomes [o, f, i, cct]. Wa None: g already holds the recurrent part."""
    if Wa is not None:
        g += (Wa @ a_prev).reshape(g.shape)
    np.tanh(g, out=g)
    s = g[..., :3, :, :]                            # sigmoid = (1 + tanh(z / 2)) / 2
    s *= 0.5
    s += 0.5
    o, f, i, cc = g[..., 0, :, :], g[..., 1, :, :], g[..., 2, :, :], g[..., 3, :, :]
    np.multiply(f, c_prev, out=c_next)              # c_next = f * c_prev + i * cct
    c_next += i * cc
    np.tanh(c_next, out=tanh_c)
    np.multiply(o, tanh_c, out=a_next)              # a_next = o * tanh(c_next)


def _gru_kernel(g, a_prev, Wa, ra, a_next):
    """One GRU step; g (..., 3, n, m) becomes [r, u, cct]; ra (..., n, m) receives r * a_prev."""
    n = a_prev.shape[-2]
    ru = g[..., :2, :, :]
    ru += (Wa[..., :2 * n, :] @ a_prev).reshape(ru.shape)
    np.tanh(ru, out=ru)
    ru *= 0.5
    ru += 0.5
    r, u, cc = g[..., 0, :, :], g[..., 1, :, :], g[..., 2, :, :]
    np.multiply(r, a_prev, out=ra)
    cc += Wa[..., 2 * n:, :] @ ra                   # cct = tanh(Wc [r * a_prev; xt] + bc)
    np.tanh(cc, out=cc)
    np.subtract(cc, a_prev, out=a_next)             # a_next = a_prev + u * (cct - a_prev)
    a_next *= u
    a_next += a_prev


# Backward kernels use derivative factors P (shaped like the gates), computed for one step or for
# all steps at once by the ``_*_factors`` functions: dz = upstream * P, gate by gate.
# WaT (..., n, k n) is the transposed recurrent part of the unhalved W; dz (..., k, n, m) is written.

def _flat(dz):
    """(..., k, n, m) -> (..., k n, m), the layout the matmuls with W use."""
    return dz.reshape(dz.shape[:-3] + (dz.shape[-3] * dz.shape[-2], dz.shape[-1]))


def _rnn_factors(A_next):
    """P (..., 1, n, m) = 1 - a_next**2 for a_next (..., n, m)."""
    P = _buffer(A_next.shape[:-2] + (1,) + A_next.shape[-2:], A_next.dtype)
    tanh_backward_into(A_next, 1.0, P[..., 0, :, :])
    return P


def _rnn_kernel_backward(da, P, WaT, dz):
    """da (..., n, m) w.r.t. a_next; returns da_prev (..., n, m)."""
    np.multiply(da, P[..., 0, :, :], out=dz[..., 0, :, :])
    return WaT @ dz[..., 0, :, :]


def _lstm_factors(G, C_prev, TC):
    """Factors of LSTM steps. G (..., 4, n, m) gates [o, f, i, cct]; C_prev, TC (..., n, m): c_prev, tanh(c).

    Returns P (..., 4, n, m) = [o' tanh_c, f' c_prev, i' cct, cct' i] with s' = s (1 - s), t' = 1 - t**2,
    and OD (..., n, m) = o (1 - tanh_c**2), the path from a_t into c_t.
    """
    o, i, cc = G[..., 0, :, :], G[..., 2, :, :], G[..., 3, :, :]
    P, OD = _buffer(G.shape, G.dtype), _buffer(TC.shape, G.dtype)
    sigmoid_backward_into(G[..., :3, :, :], None, P[..., :3, :, :])  # s' of the three gates in one pass
    P[..., 0, :, :] *= TC
    P[..., 1, :, :] *= C_prev
    P[..., 2, :, :] *= cc
    tanh_backward_into(cc, i, P[..., 3, :, :])
    return P, tanh_backward_into(TC, o, OD)


def _lstm_kernel_backward(da, dc, P, OD, f, WaT, dz):
    """da, dc (..., n, m) w.r.t. a_t, c_t; P (..., 4, n, m); OD, f (..., n, m). Returns da_prev, dc_prev."""
    dct = da * OD                                   # total gradient of c_t
    dct += dc
    np.multiply(da, P[..., 0, :, :], out=dz[..., 0, :, :])
    np.multiply(dct[..., None, :, :], P[..., 1:, :, :], out=dz[..., 1:, :, :])
    return WaT @ _flat(dz), np.multiply(dct, f, out=dct)


def _gru_factors(G, A_prev):
    """Factors of GRU steps. G (..., 3, n, m) gates [r, u, cct]; A_prev (..., n, m).

    Returns P (..., 3, n, m) = [r' a_prev, u' (cct - a_prev), cct' u] and OMU (..., n, m) = 1 - u.
    """
    u, cc = G[..., 1, :, :], G[..., 2, :, :]
    P, OMU = _buffer(G.shape, G.dtype), _buffer(u.shape, G.dtype)
    sigmoid_backward_into(G[..., :2, :, :], None, P[..., :2, :, :])  # s' of both gates in one pass
    P[..., 0, :, :] *= A_prev
    np.subtract(cc, A_prev, out=OMU)                # scratch: cct - a_prev
    P[..., 1, :, :] *= OMU
    tanh_backward_into(cc, u, P[..., 2, :, :])
    return P, np.subtract(1.0, u, out=OMU)


def _gru_kernel_backward(da, P, OMU, r, WaT, dz):
    """da (..., n, m) w.r.t. a_t; P (..., 3, n, m); OMU, r (..., n, m). Returns da_prev (..., n, m)."""
    n = da.shape[-2]
    np.multiply(da[..., None, :, :], P[..., 1:, :, :], out=dz[..., 1:, :, :])
    dra = WaT[..., 2 * n:] @ dz[..., 2, :, :]       # gradient of r * a_prev
    np.multiply(dra, P[..., 0, :, :], out=dz[..., 0, :, :])
    da_prev = da * OMU
    da_prev += dra * r
    da_prev += WaT[..., :2 * n] @ _flat(dz[..., :2, :, :])
    return da_prev


# --------------------------------------------------------------------------- one step

def _step_setup(fn, xt, a_prev, params, kind):
    W, b = fuse(params, kind)
    k = len(GATES[kind])
    n_a = W.shape[0] // k
    xt = _check_input(fn, xt, 2, W.shape[1] - n_a)
    a_prev = _check_state(fn, "a_prev", a_prev, n_a, xt.shape[1], xt.dtype)
    dt = _float_dtype(xt, a_prev, W)
    scale = _gate_scale(kind, n_a, dt)
    Ws = W.astype(dt) * scale
    g = (Ws[:, n_a:] @ xt.astype(dt) + b.astype(dt) * scale).reshape(k, n_a, -1)   # (k, n_a, m)
    return W, Ws, g, a_prev.astype(dt), n_a


def _step_grads(W, dz, a_prev, xt, kind, ra=None):
    """dW (k n_a, n_a + n_x) = dz [a_prev; xt]^T (GRU candidate: [r * a_prev; xt]), db, dxt (n_x, m)."""
    n_a = a_prev.shape[0]
    dz = _flat(dz)
    dW = np.concatenate([dz @ a_prev.T, dz @ xt.T], axis=1)
    if ra is not None:
        dW[2 * n_a:, :n_a] = dz[2 * n_a:] @ ra.T
    grads = unfuse(dW, dz.sum(axis=1, keepdims=True), kind)
    grads["dxt"] = W[:, n_a:].T @ dz
    return grads


@threads.policy("recurrent")
def rnn_step_forward(xt, a_prev, params):
    """One plain RNN step, a_next = tanh(Waa a_prev + Wax xt + ba).

    xt (n_x, m), a_prev (n_a, m); params Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1).
    Returns a_next (n_a, m) and cache = (a_next, a_prev, xt, params).
    """
    W, Ws, g, a_p, n_a = _step_setup("rnn_step_forward", xt, a_prev, params, "rnn")
    a_next = np.empty_like(a_p)
    _rnn_kernel(g, a_p, Ws[:, :n_a], a_next)
    return a_next, (a_next, a_prev, xt, params)


@threads.policy("recurrent")
def rnn_step_backward(da_next, cache):
    """Backward of ``rnn_step_forward``. da_next (n_a, m): gradient w.r.t. a_next.

    Returns dict dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    a_next, a_prev, xt, params = cache
    W, _ = fuse(params, "rnn")
    P = _rnn_factors(a_next)
    dz = np.empty_like(P, dtype=_float_dtype(da_next, P))
    da_prev = _rnn_kernel_backward(da_next, P, W[:, :a_next.shape[0]].T, dz)
    grads = _step_grads(W, dz, a_prev, xt, "rnn")
    grads["da_prev"] = da_prev
    return grads


@threads.policy("recurrent")
def lstm_step_forward(xt, a_prev, c_prev, params):
    """One LSTM step: f, i, o = sigmoid(W [a_prev; xt] + b), cct = tanh(Wc [a_prev; xt] + bc),
    c_next = f * c_prev + i * cct, a_next = o * tanh(c_next).

    xt (n_x, m), a_prev (n_a, m), c_prev (n_a, m); params Wf, Wi, Wc, Wo (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1).
    Returns a_next (n_a, m), c_next (n_a, m) and
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params), every array (n_a, m) but xt.
    """
    fn = "lstm_step_forward"
    W, Ws, g, a_p, n_a = _step_setup(fn, xt, a_prev, params, "lstm")
    c_prev = _check_state(fn, "c_prev", c_prev, n_a, a_p.shape[1], g.dtype)
    c_next, tanh_c, a_next = (np.empty_like(a_p) for _ in range(3))
    _lstm_kernel(g, a_p, c_prev.astype(g.dtype), Ws[:, :n_a], c_next, tanh_c, a_next)
    ot, ft, it, cct = g
    return a_next, c_next, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params)


@threads.policy("recurrent")
def lstm_step_backward(da_next, dc_next, cache):
    """Backward of ``lstm_step_forward``. da_next, dc_next (n_a, m): gradients w.r.t. a_next, c_next.

    Returns dict dxt (n_x, m), da_prev (n_a, m), dc_prev (n_a, m),
    dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1).
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params = cache
    W, _ = fuse(params, "lstm")
    P, OD = _lstm_factors(np.stack([ot, ft, it, cct]), c_prev, np.tanh(c_next))
    dz = np.empty_like(P)
    da_prev, dc_prev = _lstm_kernel_backward(da_next, dc_next, P, OD, ft, W[:, :a_next.shape[0]].T, dz)
    grads = _step_grads(W, dz, a_prev, xt, "lstm")
    grads.update(da_prev=da_prev, dc_prev=dc_prev)
    return grads


@threads.policy("recurrent")
def gru_step_forward(xt, a_prev, params):
    """One GRU step: u, r = sigmoid(W [a_prev; xt] + b), cct = tanh(Wc [r * a_prev; xt] + bc),
    a_next = u * cct + (1 - u) * a_prev.

    xt (n_x, m), a_prev (n_a, m); params Wu, Wr, Wc (n_a, n_a + n_x), bu, br, bc (n_a, 1).
    Returns a_next (n_a, m) and cache = (a_next, a_prev, xt, u, r, cct, params), u, r, cct (n_a, m).
    """
    W, Ws, g, a_p, n_a = _step_setup("gru_step_forward", xt, a_prev, params, "gru")
    ra, a_next = np.empty_like(a_p), np.empty_like(a_p)
    _gru_kernel(g, a_p, Ws[:, :n_a], ra, a_next)
    r, u, cct = g
    return a_next, (a_next, a_prev, xt, u, r, cct, params)


@threads.policy("recurrent")
def gru_step_backward(da_next, cache):
    """Backward of ``gru_step_forward``. da_next (n_a, m): gradient w.r.t. a_next.

    Returns dict dxt (n_x, m), da_prev (n_a, m), dWu, dWr, dWc (n_a, n_a + n_x), dbu, dbr, dbc (n_a, 1).
    """
    a_next, a_prev, xt, u, r, cct, params = cache
    W, _ = fuse(params, "gru")
    P, OMU = _gru_factors(np.stack([r, u, cct]), a_prev)
    dz = np.empty_like(P)
    da_prev = _gru_kernel_backward(da_next, P, OMU, r, W[:, :a_next.shape[0]].T, dz)
    grads = _step_grads(W, dz, a_prev, xt, "gru", ra=r * a_prev)
    grads["da_prev"] = da_prev
    return grads


# --------------------------------------------------------------------------- whole sequences
# D directions (1, or 2 for bidirectional; direction 1 reads x backwards in time and keeps its
# buffers in its own reading order). Buffers: AX (D, n + n_x + 1, T + 1, m) holds [a_{t-1}; x_t; 1] at
# time index t (the states A (D, n, T + 1, m) are its top rows, A[..., 0, :] = a0), so every step's
# input is one column block and every weight and bias gradient one matmul over T * m columns;
# G (T, D, k, n, m) gates; C (T + 1, D, n, m) cell states; dZ (T, D, k, n, m) pre-activation gradients,
# contiguous per step and copied to (k n, T m) per direction for the weight-gradient matmuls.

def _sequence_forward(fn, kind, x, plist, a0, c0, return_sequences):
    """Shared forward of ``*_sequence_forward`` (D = 1) and ``bidirectional_forward`` (D = 2)."""
    k, D = len(GATES[kind]), len(plist)
    fused = [fuse(p, kind) for p in plist]
    if D == 2 and fused[0][0].shape != fused[1][0].shape:
        raise ValueError(f"{fn}: both directions need the same parameter shapes, got W "
                         f"{fused[0][0].shape} and {fused[1][0].shape}")
    W = fused[0][0][None] if D == 1 else np.stack([f[0] for f in fused])  # (D, k n, n + n_x)
    b = fused[0][1][None] if D == 1 else np.stack([f[1] for f in fused])  # (D, k n, 1)
    n = W.shape[1] // k
    x = _check_input(fn, x, 3, W.shape[2] - n)
    n_x, m, T = x.shape
    a0 = _check_state(fn, "a0", a0, n, m, x.dtype)
    dt = _float_dtype(x, a0, W)
    W = W.astype(dt, copy=False)
    scale = _gate_scale(kind, n, dt)
    Wfull = np.empty((D, k * n, n + n_x + 1), dt)                         # [Wa | Wx | b], sigmoid rows halved
    np.multiply(W, scale, out=Wfull[:, :, :n + n_x])
    np.multiply(b, scale, out=Wfull[:, :, n + n_x:])
    Wa, Wxb = Wfull[:, :, :n], Wfull[:, :, n:]                            # views: recurrent part, [Wx | b]
    AX = _buffer((D, n + n_x + 1, T + 1, m), dt)
    np.copyto(AX[0, n:n + n_x, :T], x.transpose(0, 2, 1))
    AX[:, n + n_x, :T] = 1.0
    if D == 2:
        np.copyto(AX[1, n:n + n_x, :T], AX[0, n:n + n_x, T - 1::-1])
    G = _buffer((T, D, k, n, m), dt)
    G_rows = G.reshape(T, D, k * n, m)                                    # a view
    A = AX[:, :n]                                                         # (D, n, T + 1, m) view
    A[..., 0, :] = a0
    if kind != "lstm":                                                    # input projection + bias, all steps
        proj = _buffer((k * n, T, m), dt)
        for d in range(D):
            np.matmul(Wxb[d], AX[d, n:, :T].reshape(n_x + 1, T * m), out=proj.reshape(k * n, T * m))
            np.copyto(G_rows[:, d], proj.transpose(1, 0, 2))
        _recycle(proj)
    cache = {"kind": kind, "W": W, "AX": AX, "G": G, "A": A, "n_a": n, "shape": (n_x, m, T),
             "return_sequences": return_sequences, "released": False}
    one = D == 1                                  # single direction: plain 2-D matmuls, no batching
    Gv, Av, Wa = (G[:, 0], A[0], Wa[0]) if one else (G, A, Wa)
    if kind == "rnn":
        for t in range(T):
            _rnn_kernel(Gv[t], Av[..., t, :], Wa, Av[..., t + 1, :])
    elif kind == "lstm":
        C = _buffer((T + 1, D, n, m), dt)                                 # C[t] = c_{t-1}
        C[0] = 0.0 if c0 is None else _check_state(fn, "c0", c0, n, m, dt)
        TC = _buffer((T, D, n, m), dt)                                    # tanh(c_t)
        Cv, TCv = (C[:, 0], TC[:, 0]) if one else (C, TC)
        # An LSTM step is one matmul of the whole [Wa | Wx | b] with [a_prev; x_t; 1] straight into the
        # gates: cheaper, at these sizes, than a bulk input projection plus a recurrent matmul per step.
        Wfull, AXv, Gr = (Wfull[0], AX[0], G_rows[:, 0]) if one else (Wfull, AX, G_rows)
        for t in range(T):
            np.matmul(Wfull, AXv[..., t, :], out=Gr[t])
            _lstm_kernel(Gv[t], Av[..., t, :], Cv[t], None, Cv[t + 1], TCv[t], Av[..., t + 1, :])
        cache.update(C=C, TC=TC, c_last=C[T].reshape(D * n, m).copy())
    else:
        RA = _buffer((D, n, T, m), dt)                                    # r * a_prev of every step
        RAv = RA[0] if one else RA
        for t in range(T):
            _gru_kernel(Gv[t], Av[..., t, :], Wa, RAv[..., t, :], Av[..., t + 1, :])
        cache["RA"] = RA
    cache["a_last"] = A[..., T, :].reshape(D * n, m).copy()              # (D n_a, m)
    if not return_sequences:
        return cache["a_last"].copy(), cache
    out = np.empty((D * n, m, T), dtype=dt)
    for d in range(D):
        states = A[d, :, 1:] if d == 0 else A[d, :, :0:-1]                # (n, T, m) in time order
        np.copyto(out[d * n:(d + 1) * n], states.transpose(0, 2, 1))
    return out, cache


def _sequence_backward(fn, cache, da, dc_last=None):
    """Shared backward; returns (list of per-direction gradient dicts, dx (n_x, m, T_x))."""
    if cache["released"]:
        raise ValueError(f"{fn}: this cache was already used by a backward pass; run the forward again")
    kind, W, AX, G, A = cache["kind"], cache["W"], cache["AX"], cache["G"], cache["A"]
    (n_x, m, T), n = cache["shape"], cache["n_a"]
    D, k, dt = W.shape[0], len(GATES[kind]), G.dtype
    want = (D * n, m, T) if cache["return_sequences"] else (D * n, m)
    da = np.asarray(da)
    if da.shape != want:
        raise ValueError(f"{fn}: da should have shape {want} like the forward output, got {da.shape}")
    dA, pooled = None, [G, AX]
    if cache["return_sequences"]:
        dA = _buffer((T, D, n, m), dt)                                     # per step, reading order
        for d in range(D):
            src = da[d * n:(d + 1) * n]
            np.copyto(dA[:, d], (src if d == 0 else src[:, :, ::-1]).transpose(2, 0, 1))
        da_t = np.zeros((D, n, m), dt)
        pooled.append(dA)
    else:
        da_t = da.reshape(D, n, m).astype(dt)
    dZ = _buffer((T, D, k, n, m), dt)                                     # per step contiguous
    one = D == 1
    WaT = np.ascontiguousarray(W[:, :, :n].swapaxes(1, 2))                # (D, n, k n)
    sq = (lambda arr: arr[0]) if one else (lambda arr: arr)              # drop the direction axis
    WaTv, da_t = sq(WaT), sq(da_t)
    dZv = dZ[:, 0] if one else dZ
    dAv = None if dA is None else (dA[:, 0] if one else dA)
    A_prev = A[..., :T, :].transpose(2, 0, 1, 3)                          # (T, D, n, m) view
    if kind == "rnn":
        P = _rnn_factors(A[..., 1:, :].transpose(2, 0, 1, 3))
        Pv = P[:, 0] if one else P
        pooled.append(P)
        for t in reversed(range(T)):
            if dA is not None:
                da_t += dAv[t]
            da_t = _rnn_kernel_backward(da_t, Pv[t], WaTv, dZv[t])
    elif kind == "lstm":
        C, TC = cache["C"], cache["TC"]
        P, OD = _lstm_factors(G, C[:T], TC)
        Pv, ODv, Gv = (P[:, 0], OD[:, 0], G[:, 0]) if one else (P, OD, G)
        if dc_last is not None and np.shape(dc_last) != (D * n, m):
            raise ValueError(f"{fn}: dc_last should have shape {(D * n, m)} like c_last, got {np.shape(dc_last)}")
        dc_t = np.zeros((D, n, m), dt) if dc_last is None else np.asarray(dc_last, dt).reshape(D, n, m)
        dc_t = sq(dc_t)
        for t in reversed(range(T)):
            if dA is not None:
                da_t += dAv[t]
            da_t, dc_t = _lstm_kernel_backward(da_t, dc_t, Pv[t], ODv[t], Gv[t][..., 1, :, :], WaTv,
                                               dZv[t])
        pooled += [C, TC, P, OD]
    else:
        P, OMU = _gru_factors(G, A_prev)
        Pv, OMUv, Gv = (P[:, 0], OMU[:, 0], G[:, 0]) if one else (P, OMU, G)
        for t in reversed(range(T)):
            if dA is not None:
                da_t += dAv[t]
            da_t = _gru_kernel_backward(da_t, Pv[t], OMUv[t], Gv[t][..., 0, :, :], WaTv, dZv[t])
        pooled += [cache["RA"], P, OMU]
    grads, dx, dx_d = [], _buffer((n_x, T, m), dt), _buffer((n_x, T * m), dt)
    dZ2 = _buffer((k * n, T * m), dt)                                     # one direction's dZ, (k n, T m)
    da0 = da_t.reshape(D, n, m)
    for d in range(D):                                                    # one matmul each, all steps
        np.copyto(dZ2.reshape(k * n, T, m), dZ[:, d].reshape(T, k * n, m).transpose(1, 0, 2))
        dWb = dZ2 @ AX[d, :, :T].reshape(n + n_x + 1, T * m).T            # (k n, n + n_x + 1): [dWa | dWx | db]
        dW = dWb[:, :n + n_x]
        if kind == "gru":                                                 # the candidate saw r * a_prev
            dW[2 * n:, :n] = dZ2[2 * n:] @ cache["RA"][d].reshape(n, T * m).T
        g = unfuse(dW, dWb[:, n + n_x:], kind)
        g["da0"] = da0[d].copy()
        if kind == "lstm":
            g["dc0"] = dc_t.reshape(D, n, m)[d].copy()
        grads.append(g)
        np.matmul(W[d, :, n:].T, dZ2, out=dx.reshape(n_x, T * m) if d == 0 else dx_d)
        if d == 1:
            dx += dx_d.reshape(n_x, T, m)[:, ::-1]
    cache["released"] = True
    for key in ("AX", "G", "A", "C", "TC", "RA"):                          # the pool owns them now
        cache.pop(key, None)
    _recycle(dZ, dZ2, dx_d, *pooled)
    dx_out = np.ascontiguousarray(dx.transpose(0, 2, 1))
    _recycle(dx)
    return grads, dx_out


@threads.policy("recurrent")
def rnn_sequence_forward(x, params, a0=None, return_sequences=True):
    """Plain RNN over a sequence.

    x (n_x, m, T_x); a0 (n_a, m) or None for zeros; params Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1).
    Returns the hidden states (n_a, m, T_x), or the last one (n_a, m) if not return_sequences,
    and a cache (cache["a_last"] (n_a, m) is the final state; its other keys are private).
    The cache can be back-propagated once (its buffers then go back to a pool): a second backward
    with it raises ValueError.
    """
    return _sequence_forward("rnn_sequence_forward", "rnn", x, [params], a0, None, return_sequences)


@threads.policy("recurrent")
def rnn_sequence_backward(da, cache):
    """Backward of ``rnn_sequence_forward``. da: gradient of its output, (n_a, m, T_x) or (n_a, m).

    Returns dict dx (n_x, m, T_x), da0 (n_a, m), dWaa (n_a, n_a), dWax (n_a, n_x), dba (n_a, 1).
    Once per cache: this hands the cache's buffers back to the pool, and a second call with the same
    cache raises ValueError.
    """
    (grads,), dx = _sequence_backward("rnn_sequence_backward", cache, da)
    grads["dx"] = dx
    return grads


@threads.policy("recurrent")
def lstm_sequence_forward(x, params, a0=None, c0=None, return_sequences=True):
    """LSTM over a sequence.

    x (n_x, m, T_x); a0, c0 (n_a, m) or None for zeros; params as in ``lstm_step_forward``.
    Returns the hidden states (n_a, m, T_x), or the last one (n_a, m) if not return_sequences, and a
    cache; cache["a_last"], cache["c_last"] (n_a, m) are the final states, ``lstm_sequence_gates(cache)``
    gives the cell states and gates of every step; its other keys are private.
    The cache can be back-propagated once (its buffers then go back to a pool): a second backward
    with it raises ValueError.
    """
    return _sequence_forward("lstm_sequence_forward", "lstm", x, [params], a0, c0, return_sequences)


@threads.policy("recurrent")
def lstm_sequence_backward(da, cache, dc_last=None):
    """Backward of ``lstm_sequence_forward``; carries da_prev and dc_prev back through time.

    da: gradient of the forward output, (n_a, m, T_x) or (n_a, m); dc_last (n_a, m) or None: gradient
    of cache["c_last"]. Returns dict dx (n_x, m, T_x), da0, dc0 (n_a, m),
    dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1).
    Once per cache: this hands the cache's buffers back to the pool, and a second call with the same
    cache raises ValueError.
    """
    (grads,), dx = _sequence_backward("lstm_sequence_backward", cache, da, dc_last)
    grads["dx"] = dx
    return grads


def lstm_sequence_gates(cache):
    """The cell states and gates of every step of an ``lstm_sequence_forward`` run, in the course layout.

    cache: from ``lstm_sequence_forward``, not yet back-propagated (its buffers then belong to the pool).
    Returns dict c (n_a, m, T_x), c[:, :, t] the cell state after step t, and the gates ft, it, cct, ot
    (n_a, m, T_x), each column t as in ``lstm_step_forward``'s cache. New arrays: the caller owns
    them, and the cache is unchanged (it can still be back-propagated).
    """
    fn = "lstm_sequence_gates"
    if not isinstance(cache, dict) or cache.get("kind") != "lstm" or cache["W"].shape[0] != 1:
        raise ValueError(f"{fn}: cache should come from lstm_sequence_forward (one direction)")
    if cache["released"]:
        raise ValueError(f"{fn}: this cache was already used by a backward pass; run the forward again")
    G, C = cache["G"][:, 0], cache["C"][1:, 0]                            # (T, 4, n, m) [o, f, i, cct]; (T, n, m)
    out = {"c": np.ascontiguousarray(C.transpose(1, 2, 0))}
    for j, name in enumerate(("ot", "ft", "it", "cct")):
        out[name] = np.ascontiguousarray(G[:, j].transpose(1, 2, 0))
    return out


@threads.policy("recurrent")
def gru_sequence_forward(x, params, a0=None, return_sequences=True):
    """GRU over a sequence.

    x (n_x, m, T_x); a0 (n_a, m) or None for zeros; params as in ``gru_step_forward``.
    Returns the hidden states (n_a, m, T_x), or the last one (n_a, m) if not return_sequences,
    and a cache (cache["a_last"] (n_a, m) is the final state; its other keys are private).
    The cache can be back-propagated once (its buffers then go back to a pool): a second backward
    with it raises ValueError.
    """
    return _sequence_forward("gru_sequence_forward", "gru", x, [params], a0, None, return_sequences)


@threads.policy("recurrent")
def gru_sequence_backward(da, cache):
    """Backward of ``gru_sequence_forward``. da: gradient of its output, (n_a, m, T_x) or (n_a, m).

    Returns dict dx (n_x, m, T_x), da0 (n_a, m), dWu, dWr, dWc (n_a, n_a + n_x), dbu, dbr, dbc (n_a, 1).
    Once per cache: this hands the cache's buffers back to the pool, and a second call with the same
    cache raises ValueError.
    """
    (grads,), dx = _sequence_backward("gru_sequence_backward", cache, da)
    grads["dx"] = dx
    return grads


SEQUENCE = {"rnn": (rnn_sequence_forward, rnn_sequence_backward),
            "lstm": (lstm_sequence_forward, lstm_sequence_backward),
            "gru": (gru_sequence_forward, gru_sequence_backward)}


# --------------------------------------------------------------------------- bidirectional

@threads.policy("recurrent")
def bidirectional_forward(x, params, kind="lstm", return_sequences=True):
    """One cell reads x forward in time, a second one backward; their states are concatenated.

    x (n_x, m, T_x); params {"fwd": cell params, "bwd": cell params} of equal shapes; kind "rnn",
    "lstm" or "gru"; both directions start from zero states. Both run in one fused loop.
    Returns (2 n_a, m, T_x), forward states on top (at step t the backward cell has read x[..., t:]),
    or (2 n_a, m) with each direction's final state; and a cache (its keys are private).
    The cache can be back-propagated once (its buffers then go back to a pool): a second backward
    with it raises ValueError.
    """
    if not isinstance(params, dict) or set(params) != {"fwd", "bwd"}:
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise KeyError(f"bidirectional parameters need exactly the keys 'fwd' and 'bwd', got {got}")
    if kind not in GATES:
        raise ValueError(f"bidirectional_forward: kind should be one of {sorted(GATES)}, got {kind!r}")
    return _sequence_forward("bidirectional_forward", kind, x, [params["fwd"], params["bwd"]],
                             None, None, return_sequences)


@threads.policy("recurrent")
def bidirectional_backward(da, cache):
    """Backward of ``bidirectional_forward``. da: gradient of its output, (2 n_a, m, T_x) or (2 n_a, m).

    Returns dict dx (n_x, m, T_x), dfwd and dbwd (each one direction's cell gradients keyed d + name,
    with da0 (n_a, m), and dc0 for an LSTM).
    Once per cache: this hands the cache's buffers back to the pool, and a second call with the same
    cache raises ValueError.
    """
    (g_f, g_b), dx = _sequence_backward("bidirectional_backward", cache, da)
    return {"dx": dx, "dfwd": g_f, "dbwd": g_b}


# --------------------------------------------------------------------------- RNN recurrence over given inputs
# Time-major, so that each step is one contiguous (n_a, m) block, as the kernels want: a caller that
# holds the course layout (n_a, m, T_x) passes arr.transpose(2, 0, 1) and reads A[1:].transpose(1, 2, 0).

@threads.policy("recurrent")
def rnn_recurrence_forward(Z, Waa, a0):
    """Run a plain RNN over input terms computed by the caller: a<t> = tanh(Waa a<t-1> + Z[t]), t = 0 .. T_x - 1.

    Z (T_x, n_a, m): Z[t] = Wax x<t> + ba, time-major, a float array, overwritten with the pre-activations
    Waa a<t-1> + Z[t]. Waa (n_a, n_a); a0 (n_a, m). All numpy arrays (a character model calls this once
    per name, so the checks are kept to shape comparisons).
    Returns A (T_x + 1, n_a, m), a new array: A[0] = a0 and A[t + 1] = a<t> (the state after step t).
    """
    T, n_a, m = Z.shape
    if Waa.shape != (n_a, n_a) or a0.shape != (n_a, m):
        raise ValueError(f"rnn_recurrence_forward: with Z (T_x, n_a, m) = {Z.shape}, Waa should be "
                         f"({n_a}, {n_a}) and a0 ({n_a}, {m}); got Waa {Waa.shape}, a0 {a0.shape}")
    A = np.empty((T + 1, n_a, m), np.result_type(Z, Waa, a0))
    A[0] = a0
    G = Z[:, None]                                                       # (T, 1, n_a, m) view: one gate block
    for t in range(T):
        _rnn_kernel(G[t], A[t], Waa, A[t + 1])
    return A


@threads.policy("recurrent")
def rnn_recurrence_backward(dA, A, Waa):
    """Backward of ``rnn_recurrence_forward``, through time.

    dA (T_x, n_a, m): gradient of the loss w.r.t. each state a<t> = A[t + 1] from outside the recurrence
    (an output layer, say); overwritten: dA[t] becomes the total gradient of a<t>, recurrence included.
    A (T_x + 1, n_a, m): the forward's states; Waa (n_a, n_a). All numpy arrays.
    Returns dZ (T_x, n_a, m), the gradient w.r.t. each pre-activation Waa a<t-1> + Z[t] (hence w.r.t. Z[t]),
    and da0 (n_a, m). The weight gradients follow in one matmul each, e.g. dWaa = sum_t dZ[t] A[t]^T.
    """
    T, n_a, m = dA.shape
    if T < 1 or A.shape != (T + 1, n_a, m) or Waa.shape != (n_a, n_a):
        raise ValueError(f"rnn_recurrence_backward: with dA (T_x, n_a, m) = {dA.shape}, A should be "
                         f"({T + 1}, {n_a}, {m}) and Waa ({n_a}, {n_a}); got A {A.shape}, Waa {Waa.shape}")
    P = _rnn_factors(A[1:])                                              # (T, 1, n_a, m): 1 - a<t>**2
    dZ = np.empty_like(P)
    WaaT = Waa.T
    da_prev = _rnn_kernel_backward(dA[T - 1], P[T - 1], WaaT, dZ[T - 1])
    for t in range(T - 2, -1, -1):
        dA[t] += da_prev
        da_prev = _rnn_kernel_backward(dA[t], P[t], WaaT, dZ[t])
    return dZ[:, 0], da_prev
