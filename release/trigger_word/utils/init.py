"""Parameter initialisers. Every function takes an explicit ``rng`` (numpy Generator) and a dtype.

    glorot_uniform((n_out, n_in), rng)     U(-l, l), l = sqrt(6 / (fan_in + fan_out))
    orthogonal((n_a, n_a), rng)            rows (or columns) orthonormal, for recurrent weights
    zeros((n, 1))

and whole cells with the course names: ``lstm_params``, ``gru_params``, ``rnn_params``,
``dense_params``, ``conv1d_params``, ``attention_params``, ``batchnorm_params``.
"""
import numpy as np


def _fans(shape):
    """fan_in, fan_out of a weight shaped (n_out, n_in) or (n_f, n_x, k) (conv: times the kernel size)."""
    if len(shape) == 2:
        return shape[1], shape[0]
    if len(shape) == 3:
        return shape[1] * shape[2], shape[0] * shape[2]
    raise ValueError(f"glorot_uniform: shape should be (n_out, n_in) or (n_f, n_x, k), got {shape}")


def glorot_uniform(shape, rng, dtype=np.float64):
    """Glorot / Xavier uniform weights of ``shape`` (n_out, n_in) or (n_f, n_x, k)."""
    fan_in, fan_out = _fans(tuple(shape))
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, rng, gain=1.0, dtype=np.float64):
    """A (rows, cols) matrix with orthonormal rows (rows <= cols) or columns (rows > cols), times gain."""
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))                       # a unique, uniformly distributed Q
    q = q if rows >= cols else q.T
    return (gain * q[:rows, :cols]).astype(dtype)


def zeros(shape, dtype=np.float64):
    """An array of zeros of ``shape``."""
    return np.zeros(shape, dtype=dtype)


GATES = {"lstm": ("f", "i", "c", "o"), "gru": ("u", "r", "c")}


def cell_shapes(kind, n_x, n_a, n_y=None):
    """{name: shape} of a cell's parameters in the course names; kind "rnn", "lstm" or "gru".

    rnn: Wax (n_a, n_x), Waa (n_a, n_a), ba (n_a, 1) [+ Wya (n_y, n_a), by (n_y, 1)];
    lstm/gru: W<g> (n_a, n_a + n_x), b<g> (n_a, 1) per gate [+ Wy (n_y, n_a), by (n_y, 1)].
    """
    if kind == "rnn":
        shapes = {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a, 1)}
        out_name = "Wya"
    elif kind in GATES:
        shapes = {f"W{g}": (n_a, n_a + n_x) for g in GATES[kind]}
        shapes.update({f"b{g}": (n_a, 1) for g in GATES[kind]})
        out_name = "Wy"
    else:
        raise ValueError(f"cell_shapes: kind should be 'rnn', 'lstm' or 'gru', got {kind!r}")
    if n_y is not None:
        shapes.update({out_name: (n_y, n_a), "by": (n_y, 1)})
    return shapes


def _gated(names, n_x, n_a, rng, dtype):
    """Gate weights W (n_a, n_a + n_x) acting on [a_prev; xt]: orthogonal recurrent part, Glorot input part
    (both drawn for all gates at once, as for a fused matrix), zero biases."""
    k = len(names)
    W_a = orthogonal((k * n_a, n_a), rng, dtype=dtype)                  # (k n_a, n_a)
    W_x = glorot_uniform((k * n_a, n_x), rng, dtype=dtype)              # (k n_a, n_x)
    params = {}
    for j, g in enumerate(names):
        rows = slice(j * n_a, (j + 1) * n_a)
        params["W" + g] = np.concatenate([W_a[rows], W_x[rows]], axis=1)
        params["b" + g] = zeros((n_a, 1), dtype)
    return params


def lstm_params(n_x, n_a, rng, dtype=np.float64, forget_bias=1.0):
    """LSTM cell: Wf, Wi, Wc, Wo (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1); bf starts at ``forget_bias``."""
    p = _gated(GATES["lstm"], n_x, n_a, rng, dtype)
    p["bf"] += forget_bias
    return p


def gru_params(n_x, n_a, rng, dtype=np.float64):
    """GRU cell: Wu, Wr, Wc (n_a, n_a + n_x), bu, br, bc (n_a, 1)."""
    return _gated(GATES["gru"], n_x, n_a, rng, dtype)


def rnn_params(n_x, n_a, rng, dtype=np.float64):
    """Plain RNN cell: Waa (n_a, n_a) orthogonal, Wax (n_a, n_x) Glorot, ba (n_a, 1) zeros."""
    return {"Waa": orthogonal((n_a, n_a), rng, dtype=dtype), "Wax": glorot_uniform((n_a, n_x), rng, dtype),
            "ba": zeros((n_a, 1), dtype)}


def dense_params(n_in, n_out, rng, dtype=np.float64, names=("W", "b")):
    """Dense layer: {W: (n_out, n_in) Glorot, b: (n_out, 1) zeros}, under the given two names."""
    return {names[0]: glorot_uniform((n_out, n_in), rng, dtype), names[1]: zeros((n_out, 1), dtype)}


def conv1d_params(n_x, n_f, kernel_size, rng, dtype=np.float64):
    """Conv1D layer: {W: (n_f, n_x, kernel_size) Glorot, b: (n_f, 1) zeros}."""
    return {"W": glorot_uniform((n_f, n_x, kernel_size), rng, dtype), "b": zeros((n_f, 1), dtype)}


def attention_params(n_s, n_a, n_e, rng, dtype=np.float64):
    """Attention step: W1 (n_e, n_s + n_a), b1 (n_e, 1), W2 (1, n_e), b2 (1, 1)."""
    return {**dense_params(n_s + n_a, n_e, rng, dtype, ("W1", "b1")), **dense_params(n_e, 1, rng, dtype, ("W2", "b2"))}


def batchnorm_params(n_x, dtype=np.float64):
    """Batch norm: gamma (n_x, 1) ones, beta (n_x, 1) zeros."""
    return {"gamma": np.ones((n_x, 1), dtype), "beta": zeros((n_x, 1), dtype)}
