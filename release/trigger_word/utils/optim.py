"""Optimisers and gradient clipping.

Parameters are dicts of arrays, possibly nested ({"lstm": {"Wf": ...}, "dense": {"W": ...}}); their
gradients mirror them with ``d`` before every key ({"dlstm": {"dWf": ...}, "ddense": {"dW": ...}}),
the dicts the backward functions return. ``step`` updates the parameter arrays in place.

    opt = Adam(lr=1e-3, clip_norm=5.0)
    opt.step(params, grads)
"""
import numpy as np


def pairs(params, grads, prefix=""):
    """Yield (path, param array, gradient array) for every leaf; path like "lstm/Wf".

    Raises KeyError naming the path when a gradient is missing, ValueError when its shape differs.
    """
    for name, p in params.items():
        path = prefix + name
        if ("d" + name) not in grads:
            raise KeyError(f"no gradient 'd{name}' for parameter '{path}' (gradient keys: {sorted(grads)})")
        g = grads["d" + name]
        if isinstance(p, dict):
            yield from pairs(p, g, path + "/")
            continue
        if np.shape(g) != np.shape(p):
            raise ValueError(f"gradient of '{path}' has shape {np.shape(g)}, the parameter has {np.shape(p)}")
        yield path, p, g


def _map(grads, fn):
    """A copy of a (nested) gradient dict with fn applied to every array."""
    return {k: _map(v, fn) if isinstance(v, dict) else fn(v) for k, v in grads.items()}


def global_norm(grads):
    """sqrt of the sum of squares of every array in a (nested) gradient dict."""
    total = 0.0
    stack = [grads]
    while stack:
        for v in stack.pop().values():
            if isinstance(v, dict):
                stack.append(v)
            else:
                total += float(np.sum(np.square(v, dtype=np.float64)))
    return float(np.sqrt(total))


def clip_by_value(grads, value):
    """A copy of grads with every entry clipped to [-value, value] (value > 0)."""
    if value <= 0:
        raise ValueError(f"clip_by_value: value should be positive, got {value}")
    return _map(grads, lambda g: np.clip(g, -value, value))


def clip_by_global_norm(grads, max_norm):
    """A copy of grads scaled by max_norm / norm when their global norm exceeds max_norm.

    Returns (clipped grads, the global norm before clipping). Directions are kept, unlike clip_by_value.
    """
    if max_norm <= 0:
        raise ValueError(f"clip_by_global_norm: max_norm should be positive, got {max_norm}")
    norm = global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return _map(grads, lambda g: g * np.asarray(scale, dtype=g.dtype)), norm


def _clip(grads, clip_value, clip_norm):
    if clip_value is not None:
        grads = clip_by_value(grads, clip_value)
    if clip_norm is not None:
        grads, _ = clip_by_global_norm(grads, clip_norm)
    return grads


class SGD:
    """Plain gradient descent, p -= lr * g, with optional clipping (by value, then by global norm)."""

    def __init__(self, lr=0.01, clip_value=None, clip_norm=None):
        self.lr, self.clip_value, self.clip_norm = lr, clip_value, clip_norm

    def step(self, params, grads):
        """Update every parameter array in place from grads (the mirrored ``d`` dict)."""
        for _, p, g in pairs(params, _clip(grads, self.clip_value, self.clip_norm)):
            p -= np.asarray(self.lr * g, dtype=p.dtype)


class Adam:
    """Adam (Kingma and Ba) with bias correction and optional clipping (by value, then by global norm).

    State (first and second moments, step count) is kept per parameter path.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, clip_value=None, clip_norm=None):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.clip_value, self.clip_norm = clip_value, clip_norm
        self.t = 0
        self.m, self.v = {}, {}

    def step(self, params, grads):
        """Update every parameter array in place from grads (the mirrored ``d`` dict)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        for path, p, g in pairs(params, _clip(grads, self.clip_value, self.clip_norm)):
            if path not in self.m:
                self.m[path], self.v[path] = np.zeros_like(p), np.zeros_like(p)
            m, v = self.m[path], self.v[path]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * np.square(g)
            p -= (lr_t * m / (np.sqrt(v) + self.eps)).astype(p.dtype, copy=False)
