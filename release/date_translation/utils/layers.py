"""Non-recurrent layers: activations, time-distributed dense, Conv1D, batch norm, dropout, attention pieces.

Course layout: features first, then examples, then time: x (n_x, m, T_x), or (n_x, m) without time.
Every ``*_forward`` returns its output and a cache; every ``*_backward(d_out, cache)`` returns a dict of
gradients keyed ``d`` + name (``dx``, ``dW``, ``db``, ...). dtype follows the inputs.
The recurrent layers are in utils/recurrent.py. The attention step built from the pieces here is an exercise of
assignment 4 (date_translation), so it lives in utils/nmt.py (its answer key), not here.
"""
import numpy as np

from utils import threads
from utils.activations import sigmoid, softmax

ACTIVATIONS = ("linear", "tanh", "relu", "sigmoid", "softmax")


def _need(fn, name, arr, ndim_options, detail):
    arr = np.asarray(arr)
    if arr.ndim not in ndim_options:
        raise ValueError(f"{fn}: {name} should have shape {detail}, got shape {arr.shape}")
    return arr


# --------------------------------------------------------------------------- activations

def activation_forward(z, name):
    """Elementwise activation (softmax: over axis 0, the class axis). z any shape, e.g. (n, m, T_x).

    name: one of ACTIVATIONS. Returns y (same shape as z) and cache.
    """
    if name == "linear":
        y = z
    elif name == "tanh":
        y = np.tanh(z)
    elif name == "relu":
        y = np.maximum(z, 0)
    elif name == "sigmoid":
        y = sigmoid(z)
    elif name == "softmax":
        y = softmax(z, axis=0)
    else:
        raise ValueError(f"activation should be one of {ACTIVATIONS}, got {name!r}")
    return y, (name, z, y)


def activation_backward(dy, cache):
    """Backward of ``activation_forward``: dy shaped like y; returns dict dz (same shape)."""
    name, z, y = cache
    if name == "linear":
        dz = dy
    elif name == "tanh":
        dz = dy * (1 - y * y)
    elif name == "relu":
        dz = dy * (z > 0)
    elif name == "sigmoid":
        dz = dy * y * (1 - y)
    else:                                                     # softmax Jacobian-vector product
        dz = y * (dy - np.sum(dy * y, axis=0, keepdims=True))
    return {"dz": dz}


# --------------------------------------------------------------------------- dense

@threads.policy("dense")
def dense_forward(x, W, b, activation="linear"):
    """Dense layer applied at every time step (and every example): y = act(W x + b).

    x (n_in, m, T_x) or (n_in, m); W (n_out, n_in); b (n_out, 1); activation one of ACTIVATIONS.
    Returns y (n_out, m, T_x) or (n_out, m), and cache.
    """
    x = np.asarray(x)
    if W.ndim != 2 or b.shape != (W.shape[0], 1):
        raise ValueError(f"dense_forward: W should be (n_out, n_in) and b (n_out, 1), got W {W.shape}, b {b.shape}")
    if x.ndim < 2 or x.shape[0] != W.shape[1]:
        raise ValueError(f"dense_forward: x should have shape (n_in, m, T_x) or (n_in, m) with "
                         f"n_in = {W.shape[1]} (from W {W.shape}), got shape {x.shape}")
    z = (W @ x.reshape(x.shape[0], -1) + b).reshape((W.shape[0],) + x.shape[1:])
    y, act_cache = activation_forward(z, activation)
    return y, (x, W, act_cache)


@threads.policy("dense")
def dense_backward(dy, cache):
    """Backward of ``dense_forward``. dy shaped like y. Returns dict dx (like x), dW (n_out, n_in), db (n_out, 1)."""
    x, W, act_cache = cache
    dz = activation_backward(dy, act_cache)["dz"].reshape(W.shape[0], -1)    # (n_out, m T_x)
    x2 = x.reshape(x.shape[0], -1)
    return {"dx": (W.T @ dz).reshape(x.shape), "dW": dz @ x2.T, "db": dz.sum(axis=1, keepdims=True)}


# --------------------------------------------------------------------------- Conv1D over time

def conv1d_output_length(T_x, kernel_size, stride):
    """Number of valid-padding output steps: (T_x - kernel_size) // stride + 1."""
    return (T_x - kernel_size) // stride + 1


def _im2col(x, k, stride, T_out):
    """x (n_x, m, T_x) -> columns (n_x k, m T_out): column (i, t) holds x[:, i, t*stride : t*stride + k]."""
    n_x, m, _ = x.shape
    s0, s1, s2 = x.strides
    view = np.lib.stride_tricks.as_strided(x, (n_x, k, m, T_out), (s0, s2, s1, s2 * stride), writeable=False)
    return view.reshape(n_x * k, m * T_out)                   # one copy, no python loop over time


@threads.policy("conv1d")
def conv1d_forward(x, W, b, stride=1):
    """1-D convolution over time, valid padding: z[f, :, t] = sum_{c, j} W[f, c, j] x[c, :, t*stride + j] + b[f].

    x (n_x, m, T_x); W (n_f, n_x, k) with kernel size k; b (n_f, 1); stride >= 1.
    Returns z (n_f, m, T_out), T_out = (T_x - k) // stride + 1, and cache.
    """
    x = np.ascontiguousarray(_need("conv1d_forward", "x", x, (3,), "(n_x, m, T_x)"))
    if W.ndim != 3 or b.shape != (W.shape[0], 1):
        raise ValueError(f"conv1d_forward: W should be (n_f, n_x, k) and b (n_f, 1), got W {W.shape}, b {b.shape}")
    n_f, n_x, k = W.shape
    if x.shape[0] != n_x or x.shape[2] < k:
        raise ValueError(f"conv1d_forward: x should have shape (n_x, m, T_x) with n_x = {n_x} and T_x >= k = {k} "
                         f"(from W {W.shape}), got shape {x.shape}")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"conv1d_forward: stride should be a positive integer, got {stride!r}")
    m, T_x = x.shape[1], x.shape[2]
    T_out = conv1d_output_length(T_x, k, stride)
    cols = _im2col(x, k, stride, T_out)                                     # (n_x k, m T_out)
    z = (W.reshape(n_f, n_x * k) @ cols + b).reshape(n_f, m, T_out)
    return z, (x.shape, W, cols, stride)


@threads.policy("conv1d")
def conv1d_backward(dz, cache):
    """Backward of ``conv1d_forward``. dz (n_f, m, T_out).

    Returns dict dx (n_x, m, T_x), dW (n_f, n_x, k), db (n_f, 1).
    """
    x_shape, W, cols, stride = cache
    n_f, n_x, k = W.shape
    _, m, T_x = x_shape
    T_out = dz.shape[2]
    dz2 = dz.reshape(n_f, m * T_out)
    dW = (dz2 @ cols.T).reshape(W.shape)
    dcols = (W.reshape(n_f, n_x * k).T @ dz2).reshape(n_x, k, m, T_out)
    dx = np.zeros(x_shape, dtype=dcols.dtype)
    last = stride * (T_out - 1) + 1
    for j in range(k):                                                      # k kernel taps, not time steps
        dx[:, :, j:j + last:stride] += dcols[:, j]
    return {"dx": dx, "dW": dW, "db": dz2.sum(axis=1, keepdims=True)}


# --------------------------------------------------------------------------- batch normalisation

def batchnorm_state(n_x, dtype=np.float64):
    """Running statistics for ``batchnorm_forward``: {"mean": zeros (n_x, 1), "var": ones (n_x, 1)}."""
    return {"mean": np.zeros((n_x, 1), dtype), "var": np.ones((n_x, 1), dtype)}


def batchnorm_forward(x, gamma, beta, state, training, momentum=0.99, eps=1e-3):
    """Batch normalisation of each feature (axis 0) over examples and time.

    x (n_x, m, T_x) or (n_x, m); gamma, beta (n_x, 1); state from ``batchnorm_state`` (running mean
    and var, (n_x, 1)), updated in place when training as running = momentum running + (1 - momentum) batch.
    training: True uses the batch statistics, False the running ones.
    Returns y (shaped like x) and cache.
    """
    x = np.asarray(x)
    n_x = gamma.shape[0]
    if x.ndim not in (2, 3) or x.shape[0] != n_x or gamma.shape != (n_x, 1) or beta.shape != (n_x, 1):
        raise ValueError(f"batchnorm_forward: x should have shape (n_x, m, T_x) or (n_x, m) with gamma, beta "
                         f"(n_x, 1); got x {x.shape}, gamma {gamma.shape}, beta {beta.shape}")
    axes = tuple(range(1, x.ndim))
    shape = (n_x,) + (1,) * (x.ndim - 1)
    if training:
        mean = x.mean(axis=axes).reshape(shape)
        var = x.var(axis=axes).reshape(shape)
        state["mean"] = momentum * state["mean"] + (1 - momentum) * mean.reshape(n_x, 1)
        state["var"] = momentum * state["var"] + (1 - momentum) * var.reshape(n_x, 1)
    else:
        mean, var = state["mean"].reshape(shape), state["var"].reshape(shape)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    y = gamma.reshape(shape) * xhat + beta.reshape(shape)
    return y, (xhat, inv_std, gamma.reshape(shape), axes, training)


def batchnorm_backward(dy, cache):
    """Backward of ``batchnorm_forward``. dy shaped like x.

    Returns dict dx (shaped like x), dgamma (n_x, 1), dbeta (n_x, 1). In inference mode the statistics
    are constants; in training mode the gradient also flows through the batch mean and variance.
    """
    xhat, inv_std, gamma, axes, training = cache
    n_x = gamma.shape[0]
    dgamma = np.sum(dy * xhat, axis=axes).reshape(n_x, 1)
    dbeta = np.sum(dy, axis=axes).reshape(n_x, 1)
    dxhat = dy * gamma
    if training:
        dxhat = dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * np.mean(dxhat * xhat, axis=axes, keepdims=True)
    return {"dx": dxhat * inv_std, "dgamma": dgamma, "dbeta": dbeta}


# --------------------------------------------------------------------------- dropout

def dropout_forward(x, rate, rng, training):
    """Inverted dropout: in training each entry is zeroed with probability ``rate`` and the rest scaled by
    1 / (1 - rate); in inference x passes unchanged.

    x any shape, e.g. (n, m, T_x); rate in [0, 1); rng a numpy Generator (the only randomness used).
    Returns y (shaped like x) and cache.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout_forward: rate should be in [0, 1), got {rate}")
    x = np.asarray(x)
    if not training or rate == 0:
        return x, None
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout_forward: rng should be a numpy.random.Generator, got {type(rng).__name__}")
    mask = (rng.random(x.shape) >= rate).astype(x.dtype) / x.dtype.type(1 - rate)
    return x * mask, mask


def dropout_backward(dy, cache):
    """Backward of ``dropout_forward``; returns dict dx shaped like dy."""
    return {"dx": dy if cache is None else dy * cache}


# --------------------------------------------------------------------------- attention pieces

def repeat_forward(s, T_x):
    """Repeat a vector at every time step. s (n_s, m) -> (n_s, m, T_x); cache."""
    s = _need("repeat_forward", "s", s, (2,), "(n_s, m)")
    return np.repeat(s[:, :, None], T_x, axis=2), None


def repeat_backward(dy, cache):
    """Backward of ``repeat_forward``. dy (n_s, m, T_x) -> dict ds (n_s, m), the sum over time."""
    return {"ds": dy.sum(axis=2)}


def concat_forward(arrays):
    """Concatenate along axis 0 (features). arrays: list of (n_i, m, T_x) -> (sum n_i, m, T_x); cache."""
    if any(a.shape[1:] != arrays[0].shape[1:] for a in arrays):
        raise ValueError(f"concat_forward: every array needs the same (m, T_x), got shapes {[a.shape for a in arrays]}")
    return np.concatenate(arrays, axis=0), [a.shape[0] for a in arrays]


def concat_backward(dy, cache):
    """Backward of ``concat_forward``. dy (sum n_i, m, T_x) -> dict dxs: list of (n_i, m, T_x)."""
    return {"dxs": np.split(dy, np.cumsum(cache)[:-1], axis=0)}


def softmax_time_forward(e):
    """Softmax over the time axis (the last one). e (1, m, T_x) -> alphas (1, m, T_x) summing to 1 over T_x; cache."""
    e = _need("softmax_time_forward", "e", e, (3,), "(1, m, T_x)")
    alphas = softmax(e, axis=2)
    return alphas, alphas


def softmax_time_backward(dalphas, cache):
    """Backward of ``softmax_time_forward``. dalphas (1, m, T_x) -> dict de (1, m, T_x)."""
    alphas = cache
    return {"de": alphas * (dalphas - np.sum(dalphas * alphas, axis=2, keepdims=True))}


def weighted_sum_forward(alphas, a):
    """Context = sum over time of alphas * a. alphas (1, m, T_x); a (n_a, m, T_x) -> context (n_a, m); cache."""
    alphas, a = np.asarray(alphas), np.asarray(a)
    if a.ndim != 3 or alphas.shape != (1,) + a.shape[1:]:
        raise ValueError(f"weighted_sum_forward: alphas should be (1, m, T_x) and a (n_a, m, T_x), got "
                         f"alphas {alphas.shape}, a {a.shape}")
    return np.sum(alphas * a, axis=2), (alphas, a)


def weighted_sum_backward(dcontext, cache):
    """Backward of ``weighted_sum_forward``. dcontext (n_a, m) -> dict dalphas (1, m, T_x), da (n_a, m, T_x)."""
    alphas, a = cache
    dc = dcontext[:, :, None]
    return {"dalphas": np.sum(dc * a, axis=0, keepdims=True), "da": alphas * dc}
