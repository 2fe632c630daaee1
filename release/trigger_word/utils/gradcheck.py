"""The course's one gradient checker: centred differences in float64.

    err = relative_error(analytic, numeric)

``relative_error`` is ``max|a - b| / max(1e-8, max(|a| + |b|))``. With h = 1e-5 in float64
a correct gradient of one cell gives about 1e-9 to 1e-11; anything above 1e-7 is a bug. The
grader's gradient checks (grading/checks.py) use the same step, index sampling and tolerance.
"""
import numpy as np

H = 1e-5
TOLERANCE = 1e-7


def relative_error(a, b):
    """Scale-aware distance between two arrays of one shape (0 when equal)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def centred_difference(plus, minus, h=H):
    """(f(x + h) - f(x - h)) / 2h: the derivative from two loss values (the grader gets them from a sandbox)."""
    return (float(plus) - float(minus)) / (2.0 * h)


def numerical_gradient(loss, x, h=H, indices=None):
    """Centred-difference gradient of the scalar ``loss()`` with respect to array ``x``.

    loss:    callable with no arguments that reads ``x`` (it is perturbed in place and restored).
    x:       float64 array of any shape.
    indices: optional iterable of multi-indices to probe; the others are left at 0.
    Returns an array shaped like ``x``.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs float64 arrays, got {x.dtype}")
    grad = np.zeros_like(x)
    it = indices if indices is not None else np.ndindex(*x.shape)
    for ix in it:
        old = x[ix]
        x[ix] = old + h
        plus = float(loss())
        x[ix] = old - h
        minus = float(loss())
        x[ix] = old
        grad[ix] = centred_difference(plus, minus, h)
    return grad


def sample_indices(shape, max_entries, rng):
    """Up to ``max_entries`` distinct multi-indices of an array of ``shape`` (all if fewer)."""
    size = int(np.prod(shape))
    if size <= max_entries:
        return list(np.ndindex(*shape))
    flat = rng.choice(size, size=max_entries, replace=False)
    return [np.unravel_index(int(i), shape) for i in np.sort(flat)]


def check_gradients(loss, arrays, grads, h=H, max_entries=None, rng=None):
    """Compare analytic gradients with centred differences, array by array.

    loss:        callable with no arguments returning a float; it must read the arrays in ``arrays``.
    arrays:      dict name -> float64 array (perturbed in place, restored afterwards).
    grads:       dict name -> analytic gradient of the same shape (keys: the same names).
    max_entries: if set, probe at most this many entries per array (chosen by ``rng``).
    Returns a dict name -> relative error (compare with ``TOLERANCE``).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    errors = {}
    for name, x in arrays.items():
        if name not in grads:
            raise KeyError(f"no analytic gradient given for '{name}'")
        g = np.asarray(grads[name], dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(f"gradient of '{name}' has shape {g.shape}, the array has {x.shape}")
        if max_entries is None:
            errors[name] = relative_error(g, numerical_gradient(loss, x, h))
        else:
            idx = sample_indices(x.shape, max_entries, rng)
            num = numerical_gradient(loss, x, h, idx)
            rows = tuple(np.array(k) for k in zip(*idx))
            errors[name] = relative_error(g[rows], num[rows])
    return errors


def assert_gradients(loss, arrays, grads, tol=TOLERANCE, **kwargs):
    """Like ``check_gradients`` but raises AssertionError naming every array whose error exceeds tol."""
    errors = check_gradients(loss, arrays, grads, **kwargs)
    bad = {k: v for k, v in errors.items() if not v < tol}
    if bad:
        detail = ", ".join(f"{k}: {v:.2e}" for k, v in bad.items())
        raise AssertionError(f"gradient check failed (relative error should be < {tol:g}): {detail}")
    return errors
