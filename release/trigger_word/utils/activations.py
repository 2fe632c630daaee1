"""Elementwise activations used throughout the course.

All functions accept any float array and keep its dtype (float32 stays float32).
"""
import numpy as np


def sigmoid(z):
    """Logistic function 1 / (1 + exp(-z)), computed without overflow.

    z: array of any shape. Returns an array of the same shape and dtype.
    """
    z = np.asarray(z)
    # exp(-|z|) never overflows; pick the algebraically equal form per sign.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def softmax(z, axis=0):
    """Softmax along `axis` (default 0: the class axis of a (n_y, m) column layout).

    z: array of any shape. Returns an array of the same shape whose entries along
    `axis` are positive and sum to 1. The max is subtracted first for stability.
    """
    z = np.asarray(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def tanh(z):
    """Hyperbolic tangent (numpy's), listed here so every activation lives in one place."""
    return np.tanh(z)


def sigmoid_backward(s, ds):
    """Gradient through s = sigmoid(z): returns dz = ds * s * (1 - s); all arrays one shape."""
    return ds * s * (1.0 - s)


def tanh_backward(t, dt):
    """Gradient through t = tanh(z): returns dz = dt * (1 - t**2); all arrays one shape."""
    return dt * (1.0 - t * t)


def sigmoid_backward_into(s, ds, out):
    """out = ds * s * (1 - s) without temporaries; s, ds, out broadcast-compatible, out written.

    ds None: out = s * (1 - s), the bare derivative (one pass fewer than ds = 1).
    """
    np.subtract(1.0, s, out=out)
    out *= s
    if ds is not None:
        out *= ds
    return out


def tanh_backward_into(t, dt, out):
    """out = dt * (1 - t**2) without temporaries; t, dt, out broadcast-compatible, out written."""
    np.multiply(t, t, out=out)
    np.subtract(1.0, out, out=out)
    out *= dt
    return out
