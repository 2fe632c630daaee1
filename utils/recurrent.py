"""Recurrent layers (RNN, LSTM, GRU): one step, a whole sequence, bidirectional.

Course notation on the outside, fast layout on the inside:

- arguments and results are columns: x (n_x, m, T_x), a0 / c0 (n_a, m), outputs (n_a, m, T_x)
  or the last state (n_a, m);
- parameters use the course names, each gate's W of shape (n_a, n_a + n_x) acting on [a_prev; xt]
  (a_prev on top): LSTM Wf, bf, Wi, bi, Wc, bc, Wo, bo; GRU Wu, bu, Wr, br, Wc, bc; RNN Waa, Wax, ba;
- internally the gate matrices are fused into one (n_a + n_x, k * n_a) matrix ``WT`` (k gates) and
  the kernels work on rows: a step's states are (m, n_a) and its gates (m, k * n_a), so every buffer
  a step touches is contiguous. The input projection of all time steps is one matmul before the
  loop; the weight gradients are one matmul over all steps after the loop.

The step kernels (``_rnn_kernel``, ``_lstm_kernel``, ``_gru_kernel`` and their ``_backward``) are
the only place where the cell maths is written; the one-step functions, the sequence functions and
assignment 1's reference (utils/rnn.py) all call them. Gradient dicts are keyed ``d`` + name.
dtype follows the inputs: float64 for gradient checks, float32 for speed.
"""
import numpy as np

from utils.activations import sigmoid_backward, sigmoid_inplace, tanh_backward

# Internal row order of the fused gate matrices (the public names are unchanged).
GATES = {"rnn": ("aa",), "lstm": ("f", "i", "o", "c"), "gru": ("u", "r", "c")}


# --------------------------------------------------------------------------- parameters

def fuse(params, kind):
    """Stack a cell's named parameters into one matrix.

    params: dict of course-named arrays (see the module docstring); kind: "rnn", "lstm" or "gru".
    Returns WT (n_a + n_x, k * n_a) whose first n_a rows act on a_prev, and b (k * n_a,).
    """
    if kind == "rnn":
        for key in ("Waa", "Wax", "ba"):
            if key not in params:
                raise KeyError(f"rnn parameters need '{key}', got keys {sorted(params)}")
        Waa, Wax, ba = params["Waa"], params["Wax"], params["ba"]
        n_a = Waa.shape[0]
        if Waa.shape != (n_a, n_a) or Wax.ndim != 2 or Wax.shape[0] != n_a or ba.shape != (n_a, 1):
            raise ValueError(f"rnn parameters need Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1); got "
                             f"Waa {Waa.shape}, Wax {Wax.shape}, ba {ba.shape}")
        return np.ascontiguousarray(np.concatenate([Waa, Wax], axis=1).T), ba[:, 0].copy()
    names = GATES[kind]
    for g in names:
        for key in ("W" + g, "b" + g):
            if key not in params:
                raise KeyError(f"{kind} parameters need '{key}', got keys {sorted(params)}")
    first = params["W" + names[0]]
    n_a = first.shape[0]
    for g in names:
        W, b = params["W" + g], params["b" + g]
        if W.ndim != 2 or W.shape != first.shape or W.shape[1] <= n_a or b.shape != (n_a, 1):
            raise ValueError(f"{kind} parameters need every W (n_a, n_a + n_x) and b (n_a, 1); got "
                             f"W{g} {W.shape}, b{g} {b.shape} (W{names[0]} is {first.shape})")
    WT = np.concatenate([params["W" + g] for g in names], axis=0).T
    b = np.concatenate([params["b" + g][:, 0] for g in names])
    return np.ascontiguousarray(WT), b


def unfuse(dWT, db, kind):
    """Split fused gradients back into course names: the inverse of ``fuse``.

    dWT: (n_a + n_x, k * n_a); db: (k * n_a,). Returns dict dW* (n_a, n_a + n_x), db* (n_a, 1).
    """
    if kind == "rnn":
        n_a = dWT.shape[1]
        return {"dWaa": dWT[:n_a].T.copy(), "dWax": dWT[n_a:].T.copy(), "dba": db[:, None].copy()}
    names = GATES[kind]
    n_a = dWT.shape[1] // len(names)
    grads = {}
    for j, g in enumerate(names):
        grads["dW" + g] = dWT[:, j * n_a:(j + 1) * n_a].T.copy()
        grads["db" + g] = db[j * n_a:(j + 1) * n_a, None].copy()
    return grads


def _dtype(*arrays):
    dt = np.result_type(*arrays)
    return dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64)


def _check_input(fn, x, ndim, n_x):
    x = np.asarray(x)
    want = "(n_x, m, T_x)" if ndim == 3 else "(n_x, m)"
    if x.ndim != ndim or x.shape[0] != n_x:
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


# --------------------------------------------------------------------------- step kernels (rows)
# Shapes: m examples, n_a units. zx (m, k n_a) input projection plus bias; a_prev, c_prev (m, n_a);
# WaT (n_a, k n_a) recurrent rows of WT. Results are written into the given output buffers.

def _rnn_kernel(zx, a_prev, WaT, a_next):
    """a_next (m, n_a) = tanh(a_prev @ WaT + zx)."""
    np.matmul(a_prev, WaT, out=a_next)
    a_next += zx
    np.tanh(a_next, out=a_next)


def _rnn_kernel_backward(da, a_next, WaT, dz):
    """da (m, n_a) -> dz (m, n_a) written in place; returns da_prev (m, n_a)."""
    np.copyto(dz, tanh_backward(a_next, da))
    return dz @ WaT.T


def _lstm_kernel(zx, a_prev, c_prev, WaT, gates, c_next, tanh_c, a_next):
    """One LSTM step. gates (m, 4 n_a) receives [f, i, o, cct] (activated); c_next, tanh_c, a_next (m, n_a)."""
    n = a_prev.shape[1]
    np.matmul(a_prev, WaT, out=gates)
    gates += zx
    sigmoid_inplace(gates[:, :3 * n])
    np.tanh(gates[:, 3 * n:], out=gates[:, 3 * n:])
    f, i, o, cc = gates[:, :n], gates[:, n:2 * n], gates[:, 2 * n:3 * n], gates[:, 3 * n:]
    np.multiply(f, c_prev, out=c_next)
    c_next += i * cc
    np.tanh(c_next, out=tanh_c)
    np.multiply(o, tanh_c, out=a_next)


def _lstm_kernel_backward(da, dc, gates, c_prev, tanh_c, WaT, dz):
    """Gradients of one LSTM step; da, dc (m, n_a) are w.r.t. a_next and c_next.

    dz (m, 4 n_a) receives the gradient of the gate pre-activations. Returns da_prev, dc_prev (m, n_a).
    """
    n = c_prev.shape[1]
    f, i, o, cc = gates[:, :n], gates[:, n:2 * n], gates[:, 2 * n:3 * n], gates[:, 3 * n:]
    dc = dc + tanh_backward(tanh_c, da * o)                      # total gradient of c_next
    dz[:, :n] = sigmoid_backward(f, dc * c_prev)
    dz[:, n:2 * n] = sigmoid_backward(i, dc * cc)
    dz[:, 2 * n:3 * n] = sigmoid_backward(o, da * tanh_c)
    dz[:, 3 * n:] = tanh_backward(cc, dc * i)
    return dz @ WaT.T, dc * f


def _gru_kernel(zx, a_prev, WaT, gates, ra, a_next):
    """One GRU step. gates (m, 3 n_a) receives [u, r, cct]; ra (m, n_a) = r * a_prev; a_next (m, n_a)."""
    n = a_prev.shape[1]
    ur, cc = gates[:, :2 * n], gates[:, 2 * n:]
    np.add(a_prev @ WaT[:, :2 * n], zx[:, :2 * n], out=ur)
    sigmoid_inplace(ur)
    u, r = gates[:, :n], gates[:, n:2 * n]
    np.multiply(r, a_prev, out=ra)
    np.add(ra @ WaT[:, 2 * n:], zx[:, 2 * n:], out=cc)
    np.tanh(cc, out=cc)
    np.subtract(cc, a_prev, out=a_next)                         # a_next = a_prev + u * (cct - a_prev)
    a_next *= u
    a_next += a_prev


def _gru_kernel_backward(da, a_prev, gates, WaT, dz):
    """Gradients of one GRU step; da (m, n_a) w.r.t. a_next. dz (m, 3 n_a) receives the gate
    pre-activation gradients. Returns da_prev (m, n_a)."""
    n = a_prev.shape[1]
    u, r, cc = gates[:, :n], gates[:, n:2 * n], gates[:, 2 * n:]
    dz[:, 2 * n:] = tanh_backward(cc, da * u)
    dz[:, :n] = sigmoid_backward(u, da * (cc - a_prev))
    dra = dz[:, 2 * n:] @ WaT[:, 2 * n:].T                       # gradient of r * a_prev
    dz[:, n:2 * n] = sigmoid_backward(r, dra * a_prev)
    return da * (1.0 - u) + dra * r + dz[:, :2 * n] @ WaT[:, :2 * n].T


# --------------------------------------------------------------------------- one step (columns)

def _step_setup(fn, xt, a_prev, params, kind):
    WT, b = fuse(params, kind)
    n_a = WT.shape[1] // len(GATES[kind])
    xt = _check_input(fn, xt, 2, WT.shape[0] - n_a)
    a_prev = _check_state(fn, "a_prev", a_prev, n_a, xt.shape[1], xt.dtype)
    dt = _dtype(xt, a_prev, WT)
    WT, b = WT.astype(dt, copy=False), b.astype(dt, copy=False)
    zx = xt.T.astype(dt) @ WT[n_a:] + b                             # (m, k n_a)
    return WT, zx, n_a, dt


def rnn_step_forward(xt, a_prev, params):
    """One plain RNN step, a_next = tanh(Waa a_prev + Wax xt + ba).

    xt (n_x, m), a_prev (n_a, m); params Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1).
    Returns a_next (n_a, m) and cache = (a_next, a_prev, xt, params).
    """
    WT, zx, n_a, dt = _step_setup("rnn_step_forward", xt, a_prev, params, "rnn")
    a_next = np.empty((xt.shape[1], n_a), dtype=dt)                   # (m, n_a)
    _rnn_kernel(zx, a_prev.T.astype(dt), WT[:n_a], a_next)
    a_next = np.ascontiguousarray(a_next.T)                           # (n_a, m)
    return a_next, (a_next, a_prev, xt, params)


def rnn_step_backward(da_next, cache):
    """Backward of ``rnn_step_forward``. da_next (n_a, m): gradient w.r.t. a_next.

    Returns dict dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    a_next, a_prev, xt, params = cache
    WT, _ = fuse(params, "rnn")
    n_a = a_next.shape[0]
    dz = np.empty(a_next.T.shape, dtype=_dtype(da_next, a_next))      # (m, n_a)
    da_prev = _rnn_kernel_backward(da_next.T, a_next.T, WT[:n_a], dz)
    grads = unfuse(np.concatenate([a_prev, xt]) @ dz, dz.sum(axis=0), "rnn")
    grads.update(dxt=(dz @ WT[n_a:].T).T, da_prev=da_prev.T)
    return grads


def lstm_step_forward(xt, a_prev, c_prev, params):
    """One LSTM step (gates f, i, o and candidate cct act on [a_prev; xt]).

    xt (n_x, m), a_prev (n_a, m), c_prev (n_a, m); params Wf, Wi, Wc, Wo (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1).
    Returns a_next (n_a, m), c_next (n_a, m) and
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params), every array (n_a, m) but xt.
    """
    WT, zx, n_a, dt = _step_setup("lstm_step_forward", xt, a_prev, params, "lstm")
    m = xt.shape[1]
    c_prev = _check_state("lstm_step_forward", "c_prev", c_prev, n_a, m, dt)
    gates = np.empty((m, 4 * n_a), dtype=dt)
    c_next, tanh_c, a_next = (np.empty((m, n_a), dtype=dt) for _ in range(3))
    _lstm_kernel(zx, a_prev.T.astype(dt), c_prev.T.astype(dt), WT[:n_a], gates, c_next, tanh_c, a_next)
    ft, it, ot, cct = (np.ascontiguousarray(gates[:, j * n_a:(j + 1) * n_a].T) for j in range(4))
    a_next, c_next = np.ascontiguousarray(a_next.T), np.ascontiguousarray(c_next.T)
    return a_next, c_next, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params)


def lstm_step_backward(da_next, dc_next, cache):
    """Backward of ``lstm_step_forward``. da_next, dc_next (n_a, m): gradients w.r.t. a_next, c_next.

    Returns dict dxt (n_x, m), da_prev (n_a, m), dc_prev (n_a, m),
    dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1).
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params = cache
    WT, _ = fuse(params, "lstm")
    n_a = a_next.shape[0]
    gates = np.concatenate([ft.T, it.T, ot.T, cct.T], axis=1)         # (m, 4 n_a)
    dz = np.empty_like(gates)
    da_prev, dc_prev = _lstm_kernel_backward(da_next.T, dc_next.T, gates, c_prev.T, np.tanh(c_next).T,
                                             WT[:n_a], dz)
    grads = unfuse(np.concatenate([a_prev, xt]) @ dz, dz.sum(axis=0), "lstm")
    grads.update(dxt=(dz @ WT[n_a:].T).T, da_prev=da_prev.T, dc_prev=dc_prev.T)
    return grads


def gru_step_forward(xt, a_prev, params):
    """One GRU step: u, r gates on [a_prev; xt], cct = tanh(Wc [r * a_prev; xt] + bc),
    a_next = u * cct + (1 - u) * a_prev.

    xt (n_x, m), a_prev (n_a, m); params Wu, Wr, Wc (n_a, n_a + n_x), bu, br, bc (n_a, 1).
    Returns a_next (n_a, m) and cache = (a_next, a_prev, xt, u, r, cct, params), u, r, cct (n_a, m).
    """
    WT, zx, n_a, dt = _step_setup("gru_step_forward", xt, a_prev, params, "gru")
    m = xt.shape[1]
    gates = np.empty((m, 3 * n_a), dtype=dt)
    ra, a_next = np.empty((m, n_a), dtype=dt), np.empty((m, n_a), dtype=dt)
    _gru_kernel(zx, a_prev.T.astype(dt), WT[:n_a], gates, ra, a_next)
    u, r, cct = (np.ascontiguousarray(gates[:, j * n_a:(j + 1) * n_a].T) for j in range(3))
    a_next = np.ascontiguousarray(a_next.T)
    return a_next, (a_next, a_prev, xt, u, r, cct, params)


def gru_step_backward(da_next, cache):
    """Backward of ``gru_step_forward``. da_next (n_a, m): gradient w.r.t. a_next.

    Returns dict dxt (n_x, m), da_prev (n_a, m), dWu, dWr, dWc (n_a, n_a + n_x), dbu, dbr, dbc (n_a, 1).
    """
    a_next, a_prev, xt, u, r, cct, params = cache
    WT, _ = fuse(params, "gru")
    n_a = a_next.shape[0]
    gates = np.concatenate([u.T, r.T, cct.T], axis=1)                  # (m, 3 n_a)
    dz = np.empty_like(gates)
    da_prev = _gru_kernel_backward(da_next.T, a_prev.T, gates, WT[:n_a], dz)
    dWT = np.concatenate([a_prev, xt]) @ dz
    dWT[:n_a, 2 * n_a:] = (r * a_prev) @ dz[:, 2 * n_a:]               # candidate sees r * a_prev
    grads = unfuse(dWT, dz.sum(axis=0), "gru")
    grads.update(dxt=(dz @ WT[n_a:].T).T, da_prev=da_prev.T)
    return grads


# --------------------------------------------------------------------------- whole sequences

def _seq_setup(fn, x, a0, params, kind):
    """Validate, fuse and project the inputs of every step at once."""
    WT, b = fuse(params, kind)
    k = len(GATES[kind])
    n_a = WT.shape[1] // k
    x = _check_input(fn, x, 3, WT.shape[0] - n_a)
    n_x, m, T = x.shape
    if T < 1:
        raise ValueError(f"{fn}: x should have at least one time step, got shape {x.shape}")
    a0 = _check_state(fn, "a0", a0, n_a, m, x.dtype)
    dt = _dtype(x, a0, WT)
    WT, b = WT.astype(dt, copy=False), b.astype(dt, copy=False)
    X = np.ascontiguousarray(x.transpose(2, 1, 0), dtype=dt)          # (T, m, n_x)
    Zx = (X.reshape(T * m, n_x) @ WT[n_a:]).reshape(T, m, k * n_a)    # (T, m, k n_a)
    Zx += b
    A = np.empty((T + 1, m, n_a), dtype=dt)                           # A[t] is a_{t-1}; A[0] = a0
    A[0] = a0.T
    cache = {"kind": kind, "WT": WT, "X": X, "A": A, "n_a": n_a, "shape": (n_x, m, T)}
    return cache, Zx


def _seq_output(cache, return_sequences):
    A = cache["A"]
    cache["return_sequences"] = return_sequences
    cache["a_last"] = np.ascontiguousarray(A[-1].T)                   # (n_a, m)
    if return_sequences:
        return np.ascontiguousarray(A[1:].transpose(2, 1, 0))          # (n_a, m, T_x)
    return cache["a_last"].copy()


def _seq_upstream(fn, da, cache):
    """Upstream gradient as rows (T, m, n_a), or None when only the last state gets one."""
    n_x, m, T = cache["shape"]
    n_a = cache["n_a"]
    want = (n_a, m, T) if cache["return_sequences"] else (n_a, m)
    da = np.asarray(da)
    if da.shape != want:
        raise ValueError(f"{fn}: da should have shape {want} like the forward output, got {da.shape}")
    if cache["return_sequences"]:
        return np.ascontiguousarray(da.transpose(2, 1, 0), dtype=cache["A"].dtype), None
    return None, da.T


def _seq_finish(cache, dZ, dA_prev_rec, da0):
    """Weight and input gradients with one matmul each over all steps. dZ (T, m, k n_a)."""
    n_x, m, T = cache["shape"]
    n_a, WT, X = cache["n_a"], cache["WT"], cache["X"]
    dZ2 = dZ.reshape(T * m, -1)
    dWT = np.empty_like(WT)
    dWT[:n_a] = dA_prev_rec
    dWT[n_a:] = X.reshape(T * m, n_x).T @ dZ2
    grads = unfuse(dWT, dZ2.sum(axis=0), cache["kind"])
    grads["dx"] = np.ascontiguousarray((dZ2 @ WT[n_a:].T).reshape(T, m, n_x).transpose(2, 1, 0))
    grads["da0"] = np.ascontiguousarray(da0.T)
    return grads


def rnn_sequence_forward(x, params, a0=None, return_sequences=True):
    """Plain RNN over a sequence.

    x (n_x, m, T_x); a0 (n_a, m) or None for zeros; params Waa (n_a, n_a), Wax (n_a, n_x), ba (n_a, 1).
    Returns the hidden states (n_a, m, T_x), or the last one (n_a, m) if not return_sequences, and a cache.
    """
    cache, Zx = _seq_setup("rnn_sequence_forward", x, a0, params, "rnn")
    A, WaT = cache["A"], cache["WT"][:cache["n_a"]]
    for t in range(Zx.shape[0]):
        _rnn_kernel(Zx[t], A[t], WaT, A[t + 1])
    return _seq_output(cache, return_sequences), cache


def rnn_sequence_backward(da, cache):
    """Backward of ``rnn_sequence_forward``. da: gradient of its output, (n_a, m, T_x) or (n_a, m).

    Returns dict dx (n_x, m, T_x), da0 (n_a, m), dWaa (n_a, n_a), dWax (n_a, n_x), dba (n_a, 1).
    """
    dA, da_t = _seq_upstream("rnn_sequence_backward", da, cache)
    A, n_a = cache["A"], cache["n_a"]
    WaT, T = cache["WT"][:n_a], A.shape[0] - 1
    dZ = np.empty_like(A[1:])
    da_t = np.zeros_like(A[0]) if da_t is None else da_t
    for t in reversed(range(T)):
        if dA is not None:
            da_t = da_t + dA[t]
        da_t = _rnn_kernel_backward(da_t, A[t + 1], WaT, dZ[t])
    dWaT = A[:T].reshape(-1, n_a).T @ dZ.reshape(-1, n_a)
    return _seq_finish(cache, dZ, dWaT, da_t)


def lstm_sequence_forward(x, params, a0=None, c0=None, return_sequences=True):
    """LSTM over a sequence.

    x (n_x, m, T_x); a0, c0 (n_a, m) or None for zeros; params as in ``lstm_step_forward``.
    Returns the hidden states (n_a, m, T_x), or the last one (n_a, m) if not return_sequences, and a
    cache; cache["a_last"], cache["c_last"] (n_a, m) hold the final states.
    """
    fn = "lstm_sequence_forward"
    cache, Zx = _seq_setup(fn, x, a0, params, "lstm")
    A, n_a = cache["A"], cache["n_a"]
    T, m = Zx.shape[:2]
    c0 = _check_state(fn, "c0", c0, n_a, m, A.dtype)
    C = np.empty_like(A)                                               # C[t] is c_{t-1}; C[0] = c0
    C[0] = c0.T
    G = np.empty((T, m, 4 * n_a), dtype=A.dtype)                       # activated gates [f, i, o, cct]
    TC = np.empty((T, m, n_a), dtype=A.dtype)                          # tanh(c_t)
    WaT = cache["WT"][:n_a]
    for t in range(T):
        _lstm_kernel(Zx[t], A[t], C[t], WaT, G[t], C[t + 1], TC[t], A[t + 1])
    cache.update(C=C, G=G, TC=TC, c_last=np.ascontiguousarray(C[-1].T))
    return _seq_output(cache, return_sequences), cache


def lstm_sequence_backward(da, cache, dc_last=None):
    """Backward of ``lstm_sequence_forward``; carries da_prev and dc_prev back through time.

    da: gradient of the forward output, (n_a, m, T_x) or (n_a, m); dc_last (n_a, m) or None: gradient
    of cache["c_last"]. Returns dict dx (n_x, m, T_x), da0, dc0 (n_a, m),
    dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1).
    """
    dA, da_t = _seq_upstream("lstm_sequence_backward", da, cache)
    A, C, G, TC, n_a = cache["A"], cache["C"], cache["G"], cache["TC"], cache["n_a"]
    WaT, T = cache["WT"][:n_a], A.shape[0] - 1
    dZ = np.empty_like(G)
    da_t = np.zeros_like(A[0]) if da_t is None else da_t
    dc_t = np.zeros_like(A[0]) if dc_last is None else np.asarray(dc_last).T
    for t in reversed(range(T)):
        if dA is not None:
            da_t = da_t + dA[t]
        da_t, dc_t = _lstm_kernel_backward(da_t, dc_t, G[t], C[t], TC[t], WaT, dZ[t])
    dWaT = A[:T].reshape(-1, n_a).T @ dZ.reshape(-1, 4 * n_a)
    grads = _seq_finish(cache, dZ, dWaT, da_t)
    grads["dc0"] = np.ascontiguousarray(dc_t.T)
    return grads


def gru_sequence_forward(x, params, a0=None, return_sequences=True):
    """GRU over a sequence.

    x (n_x, m, T_x); a0 (n_a, m) or None for zeros; params as in ``gru_step_forward``.
    Returns the hidden states (n_a, m, T_x), or the last one (n_a, m) if not return_sequences, and a cache.
    """
    cache, Zx = _seq_setup("gru_sequence_forward", x, a0, params, "gru")
    A, n_a = cache["A"], cache["n_a"]
    T, m = Zx.shape[:2]
    G = np.empty((T, m, 3 * n_a), dtype=A.dtype)                       # activated gates [u, r, cct]
    RA = np.empty((T, m, n_a), dtype=A.dtype)                          # r * a_prev
    WaT = cache["WT"][:n_a]
    for t in range(T):
        _gru_kernel(Zx[t], A[t], WaT, G[t], RA[t], A[t + 1])
    cache.update(G=G, RA=RA)
    return _seq_output(cache, return_sequences), cache


def gru_sequence_backward(da, cache):
    """Backward of ``gru_sequence_forward``. da: gradient of its output, (n_a, m, T_x) or (n_a, m).

    Returns dict dx (n_x, m, T_x), da0 (n_a, m), dWu, dWr, dWc (n_a, n_a + n_x), dbu, dbr, dbc (n_a, 1).
    """
    dA, da_t = _seq_upstream("gru_sequence_backward", da, cache)
    A, G, RA, n_a = cache["A"], cache["G"], cache["RA"], cache["n_a"]
    WaT, T = cache["WT"][:n_a], A.shape[0] - 1
    dZ = np.empty_like(G)
    da_t = np.zeros_like(A[0]) if da_t is None else da_t
    for t in reversed(range(T)):
        if dA is not None:
            da_t = da_t + dA[t]
        da_t = _gru_kernel_backward(da_t, A[t], G[t], WaT, dZ[t])
    dZ2 = dZ.reshape(-1, 3 * n_a)
    dWaT = np.empty((n_a, 3 * n_a), dtype=dZ.dtype)
    dWaT[:, :2 * n_a] = A[:T].reshape(-1, n_a).T @ dZ2[:, :2 * n_a]
    dWaT[:, 2 * n_a:] = RA.reshape(-1, n_a).T @ dZ2[:, 2 * n_a:]
    return _seq_finish(cache, dZ, dWaT, da_t)


SEQUENCE = {"rnn": (rnn_sequence_forward, rnn_sequence_backward),
            "lstm": (lstm_sequence_forward, lstm_sequence_backward),
            "gru": (gru_sequence_forward, gru_sequence_backward)}


# --------------------------------------------------------------------------- bidirectional

def bidirectional_forward(x, params, kind="lstm", return_sequences=True):
    """Run a cell forward in time and a second one backward in time; concatenate their states.

    x (n_x, m, T_x); params {"fwd": cell params, "bwd": cell params} (zero initial states);
    kind "rnn", "lstm" or "gru".
    Returns (2 n_a, m, T_x) with the forward states on top (at step t both have seen their
    side of x up to t), or (2 n_a, m) holding each direction's final state; and a cache.
    """
    if set(params) != {"fwd", "bwd"}:
        raise KeyError(f"bidirectional parameters need keys 'fwd' and 'bwd', got {sorted(params)}")
    forward, _ = SEQUENCE[kind]
    out_f, cache_f = forward(x, params["fwd"], return_sequences=return_sequences)
    out_b, cache_b = forward(np.asarray(x)[:, :, ::-1], params["bwd"], return_sequences=return_sequences)
    if return_sequences:
        out_b = out_b[:, :, ::-1]
    return np.concatenate([out_f, out_b], axis=0), (kind, cache_f, cache_b)


def bidirectional_backward(da, cache):
    """Backward of ``bidirectional_forward``. da: gradient of its output, (2 n_a, m, T_x) or (2 n_a, m).

    Returns dict dx (n_x, m, T_x), dfwd and dbwd (each the gradient dict of one direction's cell).
    """
    kind, cache_f, cache_b = cache
    _, backward = SEQUENCE[kind]
    n_a = cache_f["n_a"]
    da = np.asarray(da)
    if da.shape[0] != 2 * n_a:
        raise ValueError(f"bidirectional_backward: da should have 2 n_a = {2 * n_a} rows, got shape {da.shape}")
    da_b = da[n_a:, :, ::-1] if da.ndim == 3 else da[n_a:]
    g_f, g_b = backward(da[:n_a], cache_f), backward(da_b, cache_b)
    dx = g_f.pop("dx") + g_b.pop("dx")[:, :, ::-1]
    return {"dx": dx, "dfwd": g_f, "dbwd": g_b}
