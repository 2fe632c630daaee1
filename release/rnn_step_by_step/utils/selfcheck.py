"""A self-check to run before submitting: your functions on fresh random sizes.

The visible tests run each function on the one seeded example of the notebook; the grader also runs
it on other sizes. A function that only works for the notebook's sizes (a size written as a number,
an axis mixed up with another of the same length) passes the first and fails the second. This
check calls each of your graded functions on 2 or 3 fresh random sizes (a new seed every run) and
looks at what you can see without an answer key: the shapes and types of the outputs, finite
values, probabilities that sum to 1, and whether your functions agree with each other (a sequence
forward pass equals your cell applied step by step; a backward pass equals centred differences of
your own forward pass). It knows no expected value: "ok" means consistent, not right; the visible
tests and the grader check the values.

In the notebook (its last cell)::

    from utils import selfcheck
    selfcheck.run()                 # or selfcheck.run(globals()): the functions you have run

From a terminal, in the assignment's folder (runs the notebook's code cells but the tests and the
demonstrations, in a fresh namespace)::

    python -m utils.selfcheck rnn_step_by_step.ipynb [--seed N]

One line per graded function: "ok", "not answered yet", or what is wrong and on which sizes.
"""
import contextlib
import io
import json
import os
import signal
import sys
import threading
import traceback

import numpy as np

from utils import testing

try:                      # the gradient checks need it; every assignment with a backward pass ships it
    from utils import gradcheck
except ImportError:       # pragma: no cover
    gradcheck = None

TIME_LIMIT = 30           # seconds per function (only where signals work: the main thread on Unix)
HINT = "did you hard-code a size?"


class Problem(Exception):
    """What a check found wrong (the message is shown to the student)."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.hint = hint


class _Timeout(BaseException):
    pass


# ------------------------------------------------------------------ small checks used by every assignment

def _sizes_text(d):
    return ", ".join(f"{k} = {v}" for k, v in d.items())


def _fresh_sizes(rng, ranges, avoid, distinct=True):
    """{name: int} drawn from ranges[name] = (lo, hi) inclusive, never avoid[name] (the notebook's visible
    size), and (when ``distinct``) all different, so a mixed-up axis shows."""
    for _ in range(1000):
        d = {k: int(rng.integers(lo, hi + 1)) for k, (lo, hi) in ranges.items()}
        if any(d[k] == v for k, v in avoid.items() if k in d):
            continue
        if distinct and len(set(d.values())) < len(d):
            continue
        return d
    return d


def _is_array(value):
    return isinstance(value, np.ndarray)


def _expect_shape(name, value, shape):
    if not _is_array(value):
        raise Problem(f"{name} should be a numpy array of shape {testing.plain(tuple(shape))}, "
                      f"got {type(value).__name__}")
    if value.shape != tuple(shape):
        raise Problem(f"{name} has shape {testing.plain(value.shape)}, expected {testing.plain(tuple(shape))}",
                      hint=HINT)
    if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise Problem(f"{name} contains nan or inf (first at index {testing.plain(bad)})")


def _expect_number(name, value):
    if isinstance(value, np.ndarray) and value.shape in ((), (1,)):
        value = value.reshape(())[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise Problem(f"{name} should be a number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise Problem(f"{name} is {testing.plain(value)}, expected a finite number")
    return float(value)


def _expect_tuple(name, value, length):
    if not isinstance(value, tuple) or len(value) != length:
        got = f"a tuple of length {len(value)}" if isinstance(value, tuple) else type(value).__name__
        raise Problem(f"{name} should be a tuple of {length} items, got {got}")
    return value


def _expect_keys(name, value, keys):
    if not isinstance(value, dict):
        raise Problem(f"{name} should be a dict, got {type(value).__name__}")
    missing, extra = sorted(set(keys) - set(value), key=str), sorted(set(value) - set(keys), key=str)
    if missing or extra:
        raise Problem(f"{name} keys are off: missing {testing.plain(missing)}, unexpected {testing.plain(extra)}")


def _expect_same(name, got, want, what):
    """``got`` (the function's output) equals ``want`` (computed from the student's own functions)."""
    msg = testing.compare(name, got, want)
    if msg:
        raise Problem(f"{msg} ({what})", hint=HINT if "shape" in msg else None)


def _expect_distribution(name, p, axis=0):
    if np.any(p < -1e-12):
        raise Problem(f"{name} has negative entries; probabilities are >= 0")
    sums = p.sum(axis=axis)
    if not np.allclose(sums, 1.0, rtol=1e-5, atol=1e-6):
        worst = tuple(int(i) for i in np.argwhere(~np.isclose(sums, 1.0, rtol=1e-5, atol=1e-6))[0])
        raise Problem(f"{name} should sum to 1 over axis {axis}; the sum at {testing.plain(worst)} is "
                      f"{testing.plain(sums[worst])}", hint="is the softmax taken over the right axis?")


def _randn(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def _gradient_check(forward_name, loss, arrays, analytic, rng, per_array=4, tolerance=None):
    """Compare analytic gradients with centred differences of ``loss()``.

    arrays:   {gradient name: the float64 array it is the gradient of (perturbed in place by the check)}
    analytic: the gradients the student's backward pass returned
    """
    if gradcheck is None:       # pragma: no cover
        return
    tolerance = gradcheck.TOLERANCE if tolerance is None else tolerance
    # a gradient that is 0 (b2 of an attention: a softmax ignores a shift) gets only rounding from centred
    # differences, about 1e-16 |loss| / h: differences below 1e-9 |loss| are that rounding, never a mistake
    floor = 1e-9 * max(1.0, abs(float(loss())))
    for key, x in arrays.items():
        _expect_shape(key, analytic[key], x.shape)
        picks = gradcheck.sample_indices(x.shape, per_array, rng)
        corner = (0,) * x.ndim                 # the first entry always (an index slip often shows there)
        if corner not in [tuple(int(i) for i in p) for p in picks]:
            picks = [corner] + list(picks)
        numeric = gradcheck.numerical_gradient(loss, x, indices=picks)
        got = np.array([analytic[key][i] for i in picks], dtype=np.float64)
        want = np.array([numeric[i] for i in picks])
        err = gradcheck.relative_error(got, want)
        if not (err <= tolerance or np.max(np.abs(got - want)) <= floor):
            worst = picks[int(np.argmax(np.abs(got - want)))]
            raise Problem(f"{key} does not match centred differences of your {forward_name} (relative error "
                          f"{testing.plain(err, 2)}; at index {testing.plain(tuple(int(i) for i in worst))}: "
                          f"{testing.plain(analytic[key][worst])} vs {testing.plain(numeric[worst])})")


# ------------------------------------------------------------------ assignment 1: rnn_step_by_step

_RNN_VISIBLE = {"n_x": 3, "n_a": 5, "n_y": 2, "m": 10}
_RNN_RANGES = {"n_x": (2, 8), "n_a": (2, 8), "n_y": (2, 8), "m": (2, 8), "T_x": (2, 6)}


def _rnn_params(rng, d, kind):
    n_x, n_a, n_y = d["n_x"], d["n_a"], d["n_y"]
    if kind == "rnn":
        p = {"Wax": _randn(rng, n_a, n_x), "Waa": _randn(rng, n_a, n_a), "ba": _randn(rng, n_a, 1)}
        p = {k: 0.7 * v for k, v in p.items()}
        p.update(Wya=_randn(rng, n_y, n_a), by=_randn(rng, n_y, 1))
        return p
    gates = "fico" if kind == "lstm" else "urc"
    p = {}
    for g in gates:
        p[f"W{g}"] = _randn(rng, n_a, n_a + n_x, scale=0.7)
        p[f"b{g}"] = _randn(rng, n_a, 1, scale=0.7)
    p.update(Wy=_randn(rng, n_y, n_a), by=_randn(rng, n_y, 1))
    return p


_CELL_CACHE_LENGTH = {"rnn": 4, "lstm": 10, "gru": 7}


def _cell_forward(ns, kind, xt, a_prev, c_prev, p):
    """(a_next, c_next or None, yt_pred, cache) of the student's <kind>_cell_forward."""
    f = ns[f"{kind}_cell_forward"]
    if kind == "lstm":
        out = _expect_tuple("the result", f(xt, a_prev, c_prev, p), 4)
        return out
    out = _expect_tuple("the result", f(xt, a_prev, p), 3)
    return out[0], None, out[1], out[2]


def _check_cell_forward(kind):
    def check(ns, rng, d):
        n_x, n_a, n_y, m = d["n_x"], d["n_a"], d["n_y"], d["m"]
        p = _rnn_params(rng, d, kind)
        xt, a_prev, c_prev = _randn(rng, n_x, m), _randn(rng, n_a, m), _randn(rng, n_a, m)
        a_next, c_next, y, cache = _cell_forward(ns, kind, xt, a_prev, c_prev, p)
        _expect_shape("a_next", a_next, (n_a, m))
        if kind == "lstm":
            _expect_shape("c_next", c_next, (n_a, m))
        _expect_shape("yt_pred", y, (n_y, m))
        _expect_distribution("yt_pred", y)
        bound = np.maximum(1.0, np.abs(a_prev)) if kind == "gru" else 1.0   # a GRU mixes a_prev and a tanh
        if np.any(np.abs(a_next) > bound + 1e-12):
            raise Problem("a_next has entries outside [-1, 1]; a hidden state here is a tanh (times gates)"
                          if kind != "gru" else "a_next should lie between a_prev and the candidate (in [-1, 1])")
        _expect_tuple("cache", cache, _CELL_CACHE_LENGTH[kind])
        # every example of the batch is computed on its own: the first k columns alone give the same result
        k = int(rng.integers(1, m))
        part = _cell_forward(ns, kind, xt[:, :k].copy(), a_prev[:, :k].copy(), c_prev[:, :k].copy(), p)
        _expect_same(f"a_next of the first {k} examples computed on their own", part[0], a_next[:, :k],
                     "expected: the same examples within the whole batch; each example should be computed on its own")
    return check


def _check_sequence_forward(kind):
    name, cell = f"{kind}_forward", f"{kind}_cell_forward"

    def check(ns, rng, d):
        n_x, n_a, n_y, m, T = d["n_x"], d["n_a"], d["n_y"], d["m"], d["T_x"]
        p = _rnn_params(rng, d, kind)
        x, a0 = _randn(rng, n_x, m, T), _randn(rng, n_a, m)
        out = _expect_tuple("the result", ns[name](x, a0, p), 4 if kind == "lstm" else 3)
        a, y, caches = (out[0], out[1], out[3]) if kind == "lstm" else out
        _expect_shape("a", a, (n_a, m, T))
        _expect_shape("y" if kind == "lstm" else "y_pred", y, (n_y, m, T))
        if kind == "lstm":
            _expect_shape("c", out[2], (n_a, m, T))
        _expect_tuple("caches", caches, 2)
        if not isinstance(caches[0], list) or len(caches[0]) != T:
            raise Problem(f"caches[0] should be a list of T_x = {T} step caches", hint=HINT)
        a_prev, c_prev = a0, np.zeros_like(a0)
        for t in range(T):
            a_t, c_t, y_t, _ = _cell_forward(ns, kind, x[:, :, t], a_prev, c_prev, p)
            what = f"your {cell} applied step by step from a0"
            _expect_same(f"a[:, :, {t}]", a[:, :, t], a_t, what)
            _expect_same(f"y[:, :, {t}]", y[:, :, t], y_t, what)
            if kind == "lstm":
                _expect_same(f"c[:, :, {t}]", out[2][:, :, t], c_t, what + " (the cell state starts at 0)")
            a_prev, c_prev = a_t, c_t
    return check


_CELL_GRADIENTS = {"rnn": ["Wax", "Waa", "ba"], "lstm": ["Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo"],
                   "gru": ["Wu", "bu", "Wr", "br", "Wc", "bc"]}


def _check_cell_backward(kind):
    forward = f"{kind}_cell_forward"

    def check(ns, rng, d):
        n_x, n_a, m = d["n_x"], d["n_a"], d["m"]
        p = _rnn_params(rng, d, kind)
        xt, a_prev, c_prev = _randn(rng, n_x, m), _randn(rng, n_a, m), _randn(rng, n_a, m)
        G, Gc = _randn(rng, n_a, m), _randn(rng, n_a, m)
        _, _, _, cache = _cell_forward(ns, kind, xt, a_prev, c_prev, p)
        if kind == "lstm":
            grads = ns["lstm_cell_backward"](G, Gc, cache)
        else:
            grads = ns[f"{kind}_cell_backward"](G, cache)
        names = _CELL_GRADIENTS[kind]
        arrays = {"dxt": xt, "da_prev": a_prev, **({"dc_prev": c_prev} if kind == "lstm" else {}),
                  **{"d" + n: p[n] for n in names}}
        _expect_keys("gradients", grads, arrays)

        def loss():
            a_next, c_next, _, _ = _cell_forward(ns, kind, xt, a_prev, c_prev, p)
            return np.sum(G * a_next) + (np.sum(Gc * c_next) if kind == "lstm" else 0.0)
        _gradient_check(forward, loss, arrays, grads, rng)
    return check


def _check_sequence_backward(kind):
    forward = f"{kind}_forward"

    def check(ns, rng, d):
        n_x, n_a, m, T = d["n_x"], d["n_a"], d["m"], d["T_x"]
        p = _rnn_params(rng, d, kind)
        x, a0 = _randn(rng, n_x, m, T), _randn(rng, n_a, m)
        G = _randn(rng, n_a, m, T)
        out = ns[forward](x, a0, p)
        grads = ns[f"{kind}_backward"](G, out[-1])
        arrays = {"dx": x, "da0": a0, **{"d" + n: p[n] for n in _CELL_GRADIENTS[kind]}}
        _expect_keys("gradients", grads, arrays)
        _gradient_check(forward, lambda: np.sum(G * ns[forward](x, a0, p)[0]), arrays, grads, rng, per_array=3)
    return check


# ------------------------------------------------------------------ assignment 2: dinosaur_island

_DINO_RANGES = {"n_a": (3, 12), "V": (5, 14)}
_DINO_VISIBLE = {"n_a": 50, "V": 27}


def _dino_vocab(rng, V):
    letters = sorted(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=V - 1, replace=False))
    chars = ["\n"] + [str(c) for c in letters]
    return {c: i for i, c in enumerate(chars)}


def _dino_params(rng, n_a, V, scale=0.5):
    return {"Wax": _randn(rng, n_a, V, scale=scale), "Waa": _randn(rng, n_a, n_a, scale=scale),
            "Wya": _randn(rng, V, n_a, scale=scale), "ba": _randn(rng, n_a, 1, scale=scale),
            "by": _randn(rng, V, 1, scale=scale)}


def _check_clip(ns, rng, d):
    n_a, V = d["n_a"], d["V"]
    grads = {"d" + k: v * 10 for k, v in _dino_params(rng, n_a, V, 1.0).items()}
    before = {k: v.copy() for k, v in grads.items()}
    max_value = float(rng.uniform(1, 8))
    out = ns["clip"](grads, max_value)
    _expect_keys("the returned gradients", out, before)
    for k, old in before.items():
        _expect_shape(f"gradients['{k}']", out[k], old.shape)
        new = out[k]
        if np.any(np.abs(new) > max_value + 1e-12):
            raise Problem(f"gradients['{k}'] has entries beyond max_value = {testing.plain(max_value)}")
        inside = np.abs(old) <= max_value
        if not np.array_equal(new[inside], old[inside]):
            raise Problem(f"gradients['{k}'] changed entries that were already within max_value")
        if not (np.all(new[old > max_value] == max_value) and np.all(new[old < -max_value] == -max_value)):
            raise Problem(f"gradients['{k}']: entries beyond max_value should become exactly +-max_value")
        if not np.array_equal(grads[k], new):
            raise Problem(f"gradients['{k}'] was not clipped in place (the dict passed in is unchanged)")


def _check_sample(ns, rng, d):
    n_a, V = d["n_a"], d["V"]
    c2i = _dino_vocab(rng, V)
    p = _dino_params(rng, n_a, V, 1.0)
    seed = int(rng.integers(2**31))
    indices = ns["sample"](p, c2i, np.random.default_rng(seed))
    if not isinstance(indices, list) or not indices:
        raise Problem(f"sample should return a non-empty list of indices, got {type(indices).__name__}")
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in indices):
        raise Problem("sample should return a list of ints")
    if any(not 0 <= int(i) < V for i in indices):
        raise Problem(f"sample returned an index outside 0 .. {V - 1} (vocabulary of {V} characters)", hint=HINT)
    newline = c2i["\n"]
    if int(indices[-1]) != newline or newline in [int(i) for i in indices[:-1]]:
        raise Problem("a sampled name should end with the newline's index, and contain it only there")
    if len(indices) > 51:
        raise Problem(f"sample drew {len(indices)} indices; at most 50 characters plus the newline")
    again = ns["sample"](p, c2i, np.random.default_rng(seed))
    if [int(i) for i in again] != [int(i) for i in indices]:
        raise Problem("two calls with Generators of one seed gave different names: rng should be the only "
                      "source of randomness (np.random.choice uses another one)")


def _optimize_inputs(rng, d):
    n_a, V = d["n_a"], d["V"]
    c2i = _dino_vocab(rng, V)
    T = int(rng.integers(2, 7))
    letters = [int(i) for i in rng.integers(1, V, size=T - 1)]
    X = [None] + letters
    Y = letters + [c2i["\n"]]
    return X, Y, _randn(rng, n_a, 1, scale=0.5), _dino_params(rng, n_a, V, 0.3)


def _check_optimize(ns, rng, d):
    n_a = d["n_a"]
    X, Y, a_prev, p = _optimize_inputs(rng, d)
    before = {k: v.copy() for k, v in p.items()}
    lr = float(rng.uniform(0.005, 0.05))
    out = _expect_tuple("the result", ns["optimize"](X, Y, a_prev, p, lr), 3)
    loss = _expect_number("loss", out[0])
    if loss <= 0:
        raise Problem(f"loss is {testing.plain(loss)}; a cross-entropy is positive")
    grads = out[1]
    _expect_keys("gradients", grads, ["d" + k for k in before])
    for k, old in before.items():
        _expect_shape(f"gradients['d{k}']", grads["d" + k], old.shape)
        if np.any(np.abs(grads["d" + k]) > 5 + 1e-12):
            raise Problem(f"gradients['d{k}'] has entries beyond 5: they should be clipped")
        _expect_same(f"parameters['{k}'] after the call", p[k], old - lr * grads["d" + k],
                     "the update should be parameters -= learning_rate * gradient, in place")
    _expect_shape("a_last", out[2], (n_a, 1))


def _check_model(ns, rng, d):
    n_a, V = d["n_a"], d["V"]
    c2i = _dino_vocab(rng, V)
    letters = [c for c in c2i if c != "\n"]
    names = ["".join(rng.choice(letters, size=int(rng.integers(2, 6)))) for _ in range(12)]
    n_iter, n_samples = int(rng.integers(20, 40)), int(rng.integers(2, 4))
    with contextlib.redirect_stdout(io.StringIO()):
        out = ns["model"](names, c2i, num_iterations=n_iter, n_a=n_a, learning_rate=0.01,
                          seed=int(rng.integers(1000)), sample_every=10**9, n_samples=n_samples)
    params, sampled, losses = _expect_tuple("the result", out, 3)
    _expect_keys("parameters", params, ["Wax", "Waa", "Wya", "ba", "by"])
    for k, shape in {"Wax": (n_a, V), "Waa": (n_a, n_a), "Wya": (V, n_a), "ba": (n_a, 1), "by": (V, 1)}.items():
        _expect_shape(f"parameters['{k}']", params[k], shape)
    if not isinstance(sampled, list) or len(sampled) != n_samples or not all(isinstance(s, str) for s in sampled):
        raise Problem(f"sampled should be a list of n_samples = {n_samples} strings", hint=HINT)
    if not isinstance(losses, list) or len(losses) != n_iter:
        raise Problem(f"losses should be a list of num_iterations = {n_iter} floats", hint=HINT)
    for i, v in enumerate(losses):
        _expect_number(f"losses[{i}]", v)


# ------------------------------------------------------------------ assignment 4: date_translation

_DATE_RANGES = {"n_a": (2, 6), "n_s": (2, 6), "n_e": (2, 6), "m": (2, 5), "T_x": (3, 8)}
_DATE_VISIBLE = {"n_a": 32, "n_s": 64, "n_e": 10, "m": 10, "T_x": 30}


def _attention_params(rng, d):
    n_a, n_s, n_e = d["n_a"], d["n_s"], d["n_e"]
    return {"W1": _randn(rng, n_e, n_s + 2 * n_a, scale=0.8), "b1": _randn(rng, n_e, 1, scale=0.3),
            "W2": _randn(rng, 1, n_e, scale=0.8), "b2": _randn(rng, 1, 1, scale=0.3)}


def _attention(ns, a, s_prev, p):
    return _expect_tuple("the result", ns["one_step_attention"](a, s_prev, p), 3)


def _check_attention(ns, rng, d):
    n_a, n_s, m, T = d["n_a"], d["n_s"], d["m"], d["T_x"]
    a, s_prev, p = _randn(rng, 2 * n_a, m, T), _randn(rng, n_s, m), _attention_params(rng, d)
    context, alphas, cache = _attention(ns, a, s_prev, p)
    _expect_shape("context", context, (2 * n_a, m))
    _expect_shape("alphas", alphas, (1, m, T))
    _expect_distribution("alphas", alphas, axis=2)
    _expect_same("context", context, np.sum(alphas * a, axis=2), "your alphas times a, summed over time")
    _expect_tuple("cache", cache, 6)


def _check_attention_backward(ns, rng, d):
    n_a, n_s, m, T = d["n_a"], d["n_s"], d["m"], d["T_x"]
    a, s_prev, p = _randn(rng, 2 * n_a, m, T), _randn(rng, n_s, m), _attention_params(rng, d)
    G = _randn(rng, 2 * n_a, m)
    grads = ns["one_step_attention_backward"](G, _attention(ns, a, s_prev, p)[2])
    arrays = {"da": a, "ds_prev": s_prev, **{"d" + k: v for k, v in p.items()}}
    _expect_keys("gradients", grads, arrays)
    _gradient_check("one_step_attention", lambda: np.sum(G * _attention(ns, a, s_prev, p)[0]), arrays, grads, rng)


def _seq2seq():
    try:
        from utils import seq2seq
    except ImportError:   # pragma: no cover
        return None
    return seq2seq


def _date_model(rng, d, n_h, n_y):
    seq2seq = _seq2seq()
    if seq2seq is None:   # pragma: no cover
        raise Problem("utils/seq2seq.py is missing: run the self-check in the assignment's folder")
    return seq2seq.initialize(n_h, rng, n_a=d["n_a"], n_s=d["n_s"], n_e=d["n_e"], n_y=n_y)


def _check_model_forward_dates(ns, rng, d):
    m, T_x = d["m"], d["T_x"]
    n_h, n_y, T_y = int(rng.integers(4, 9)), int(rng.integers(3, 8)), int(rng.integers(2, 6))
    params = _date_model(rng, d, n_h, n_y)
    X = np.eye(n_h)[rng.integers(0, n_h, size=(m, T_x))].transpose(2, 0, 1)
    out = _expect_tuple("the result", ns["model_forward"](X, params, T_y), 3)
    Y_hat, alphas, cache = out
    _expect_shape("Y_hat", Y_hat, (n_y, m, T_y))
    _expect_distribution("Y_hat", Y_hat, axis=0)
    _expect_shape("alphas", alphas, (T_x, m, T_y))
    _expect_distribution("alphas", alphas, axis=0)
    _expect_keys("cache", cache, ["a", "pre", "attention", "lstm", "s", "logits"])
    _expect_shape("cache['a']", cache["a"], (2 * d["n_a"], m, T_x))
    _expect_shape("cache['s']", cache["s"], (d["n_s"], m, T_y))
    _expect_shape("cache['logits']", cache["logits"], (n_y, m, T_y))
    for key in ("attention", "lstm"):
        if not isinstance(cache[key], list) or len(cache[key]) != T_y:
            raise Problem(f"cache['{key}'] should be a list of T_y = {T_y} step caches", hint=HINT)
    z = cache["logits"] - cache["logits"].max(axis=0, keepdims=True)
    _expect_same("Y_hat", Y_hat, np.exp(z) / np.exp(z).sum(axis=0, keepdims=True), "the softmax of cache['logits']")
    for t in range(1, T_y):       # step t attends with the state of step t - 1
        alpha_t = _attention(ns, cache["a"], cache["s"][:, :, t - 1], params["attention"])[1]
        _expect_same(f"alphas[:, :, {t}]", alphas[:, :, t], alpha_t[0].T,
                     "your one_step_attention on cache['a'] and cache['s'][:, :, t - 1]")


def _date_vocabs(rng):
    human_chars = sorted(rng.choice(list("abcdefghij0123456789 ./-"), size=int(rng.integers(5, 12)), replace=False))
    human = {c: i for i, c in enumerate([str(c) for c in human_chars] + ["<unk>", "<pad>"])}
    machine_chars = sorted(rng.choice(list("0123456789-"), size=int(rng.integers(3, 8)), replace=False))
    machine = {str(c): i for i, c in enumerate(machine_chars)}
    return human, machine


def _check_preprocess(ns, rng, d):
    human, machine = _date_vocabs(rng)
    T_x, T_y, m = d["T_x"], int(rng.integers(2, 6)), d["m"]
    pool = [c for c in human if len(c) == 1] + ["Z", "?"]
    texts = ["".join(rng.choice(pool, size=int(rng.integers(1, T_x + 3)))) for _ in range(m)]
    targets = ["".join(rng.choice(list(machine), size=T_y)) for _ in range(m)]
    out = _expect_tuple("the result", ns["preprocess_data"](list(zip(texts, targets)), human, machine, T_x, T_y), 4)
    X, Y, Xoh, Yoh = out
    _expect_shape("X", X, (m, T_x))
    _expect_shape("Y", Y, (m, T_y))
    _expect_shape("Xoh", Xoh, (len(human), m, T_x))
    _expect_shape("Yoh", Yoh, (len(machine), m, T_y))
    for name, v in (("X", X), ("Y", Y)):
        if v.dtype.kind not in "iu":
            raise Problem(f"{name} should hold integers, it has dtype {v.dtype}")
    _expect_same("Xoh", Xoh, np.eye(len(human))[X].transpose(2, 0, 1), "the one-hot of your X")
    _expect_same("Yoh", Yoh, np.eye(len(machine))[Y].transpose(2, 0, 1), "the one-hot of your Y")
    inv = {i: c for c, i in machine.items()}
    for i, target in enumerate(targets):
        if "".join(inv.get(int(k), "?") for k in Y[i]) != target:
            raise Problem(f"Y[{i}] does not spell its machine string {target!r}")
        pads = X[i, len(texts[i]):]
        if len(pads) and not np.all(pads == human["<pad>"]):
            raise Problem(f"X[{i}] should be padded with <pad> after its {len(texts[i])} characters")


def _check_translate(ns, rng, d):
    human, machine = _date_vocabs(rng)
    inv = {i: c for c, i in machine.items()}
    T_x, T_y, m = d["T_x"], int(rng.integers(2, 6)), d["m"]
    params = _date_model(rng, d, len(human), len(machine))
    pool = [c for c in human if len(c) == 1]
    texts = ["".join(rng.choice(pool, size=int(rng.integers(1, T_x + 2)))) for _ in range(m)]
    out = _expect_tuple("the result", ns["translate"](texts, params, human, inv, T_x, T_y), 2)
    predictions, probabilities = out
    if not isinstance(predictions, list) or len(predictions) != m or \
            not all(isinstance(s, str) and len(s) == T_y for s in predictions):
        raise Problem(f"predictions should be a list of m = {m} strings of T_y = {T_y} characters", hint=HINT)
    if any(c not in machine for s in predictions for c in s):
        raise Problem("predictions hold characters that are not in the machine vocabulary")
    _expect_shape("probabilities", probabilities, (m,))
    if np.any(probabilities <= 0) or np.any(probabilities > 1 + 1e-9):
        raise Problem("probabilities should be in (0, 1]")
    if "preprocess_data" in ns and "model_forward" in ns:
        Xoh = ns["preprocess_data"]([(t, inv[0] * T_y) for t in texts], human, machine, T_x, T_y)[2]
        Y_hat = ns["model_forward"](Xoh.astype(np.float64), params, T_y)[0]
        greedy = ["".join(inv[int(k)] for k in row) for row in Y_hat.argmax(axis=0)]
        if greedy != predictions:
            raise Problem("predictions differ from the argmax of your model_forward on your preprocess_data")
        _expect_same("probabilities", probabilities, np.prod(Y_hat.max(axis=0), axis=1),
                     "the product of your model_forward's largest probability at each step")


def _check_exact_match(ns, rng, d):
    T_y, m = int(rng.integers(2, 8)), d["m"] + 2
    targets = ["".join(rng.choice(list("0123456789"), size=T_y)) for _ in range(m)]
    overall, per_position = _expect_tuple("the result", ns["exact_match"](list(targets), list(targets)), 2)
    if _expect_number("overall", overall) != 1.0:
        raise Problem(f"overall is {testing.plain(overall)} when every prediction equals its target; expected 1")
    _expect_shape("per_position", per_position, (T_y,))
    if not np.all(per_position == 1):
        raise Problem("per_position should be all 1 when every prediction equals its target", hint=HINT)
    wrong = ["".join("x" if c != "x" else "y" for c in s) for s in targets]
    overall, per_position = _expect_tuple("the result", ns["exact_match"](wrong, list(targets)), 2)
    if _expect_number("overall", overall) != 0.0 or not np.all(np.asarray(per_position) == 0):
        raise Problem("with every character wrong, overall and per_position should be 0")
    mixed = [t if rng.random() < 0.5 else w for t, w in zip(targets, wrong)]
    overall, per_position = ns["exact_match"](mixed, list(targets))
    share = sum(a == b for a, b in zip(mixed, targets)) / m
    _expect_same("overall", _expect_number("overall", overall), share,
                 "the share of predictions equal to their target")


# ------------------------------------------------------------------ assignment 3: jazz_improvisation

_JAZZ_RANGES = {"n_values": (4, 12), "n_a": (2, 8), "m": (2, 6), "T_x": (2, 6)}
_JAZZ_VISIBLE = {"n_values": 78, "n_a": 64, "m": 60, "T_x": 30}


def _jazz_params(rng, d, scale=0.5):
    n_v, n_a = d["n_values"], d["n_a"]
    p = {}
    for g in "fico":
        p[f"W{g}"] = _randn(rng, n_a, n_a + n_v, scale=scale)
        p[f"b{g}"] = _randn(rng, n_a, 1, scale=scale)
    p.update(Wy=_randn(rng, n_v, n_a, scale=scale), by=_randn(rng, n_v, 1, scale=scale))
    return p


def _one_hot(rng, n, *shape):
    return np.eye(n)[rng.integers(0, n, size=shape)].transpose(len(shape), *range(len(shape)))


def _check_djmodel(ns, rng, d):
    n_v, n_a, m, T = d["n_values"], d["n_a"], d["m"], d["T_x"]
    p = _jazz_params(rng, d)
    X, Y = _one_hot(rng, n_v, m, T), _one_hot(rng, n_v, m, T)
    a0, c0 = _randn(rng, n_a, m), _randn(rng, n_a, m)
    loss, cache = _expect_tuple("the result", ns["djmodel"](X, Y, a0, c0, p), 2)
    loss = _expect_number("loss", loss)
    lstm_caches, dense_caches, dlogits = _expect_tuple("cache", cache, 3)
    if not isinstance(lstm_caches, (list, tuple)) or len(lstm_caches) != T or len(dense_caches) != T:
        raise Problem(f"cache should hold one LSTM and one Dense cache per step (T_x = {T})", hint=HINT)
    _expect_shape("dlogits", dlogits, (n_v, m, T))
    uniform = dict(p, Wy=np.zeros_like(p["Wy"]), by=np.zeros_like(p["by"]))
    flat = _expect_number("loss", ns["djmodel"](X, Y, a0, c0, uniform)[0])
    _expect_same("loss with Wy = 0 and by = 0", flat, np.log(n_v),
                 f"every step then predicts 1 / n_values, a loss of log(n_values) = log({n_v}) as a mean")
    if "djmodel_backward" in ns:
        grads = ns["djmodel_backward"](cache)
        arrays = {"d" + k: v for k, v in p.items()}
        _expect_keys("djmodel_backward(cache)", grads, arrays)
        # the loss is a mean of logs (about 1e-16 of rounding) and its gradients are small (about 1e-5): the
        # centred differences carry about 1e-7 of relative noise; a wrong gradient is off by far more
        _gradient_check("djmodel", lambda: ns["djmodel"](X, Y, a0, c0, p)[0], arrays, grads, rng, per_array=2,
                        tolerance=1e-5)


def _jazz_inference_inputs(rng, d):
    n_v, n_a, m = d["n_values"], d["n_a"], d["m"]
    T_y = int(rng.integers(3, 9))
    p = _jazz_params(rng, d, scale=1.0)
    x0 = np.eye(n_v)[rng.integers(0, n_v, size=m)].T
    return p, x0, _randn(rng, n_a, m), _randn(rng, n_a, m), T_y


def _check_inference(ns, rng, d):
    n_v, m = d["n_values"], d["m"]
    p, x0, a0, c0, T_y = _jazz_inference_inputs(rng, d)
    probs, indices = _expect_tuple("the result", ns["music_inference_model"](x0, a0, c0, p, T_y), 2)
    _expect_shape("probs", probs, (n_v, m, T_y))
    _expect_distribution("probs", probs, axis=0)
    _expect_shape("indices", indices, (m, T_y))
    if indices.dtype.kind not in "iu":
        raise Problem(f"indices should be integers, got dtype {indices.dtype}")
    if not np.array_equal(indices, probs.argmax(axis=0)):
        raise Problem("with temperature=None, indices should be the argmax of probs at every step")
    seed = int(rng.integers(2**31))
    first = ns["music_inference_model"](x0, a0, c0, p, T_y, temperature=1.0, rng=np.random.default_rng(seed))
    again = ns["music_inference_model"](x0, a0, c0, p, T_y, temperature=1.0, rng=np.random.default_rng(seed))
    _expect_shape("indices (sampling)", first[1], (m, T_y))
    if np.any(first[1] < 0) or np.any(first[1] >= n_v):
        raise Problem(f"sampled indices fall outside 0 .. {n_v - 1}", hint=HINT)
    if not np.array_equal(first[1], again[1]):
        raise Problem("two runs with Generators of one seed sampled different tokens: rng should be the only "
                      "source of randomness")


def _check_predict_and_sample(ns, rng, d):
    n_v, m = d["n_values"], d["m"]
    p, x0, a0, c0, T_y = _jazz_inference_inputs(rng, d)
    results, indices = _expect_tuple("the result", ns["predict_and_sample"](p, x0, a0, c0, T_y), 2)
    _expect_shape("results", results, (n_v, m, T_y))
    _expect_shape("indices", indices, (m, T_y))
    _expect_same("results", results, np.eye(n_v)[indices].transpose(2, 0, 1), "the one-hot of your indices")
    if "music_inference_model" in ns:
        _, want = ns["music_inference_model"](x0, a0, c0, p, T_y)
        if not np.array_equal(indices, want):
            raise Problem("indices differ from your music_inference_model's on the same inputs")


# ------------------------------------------------------------------ assignment 5: trigger_word

def _trigger_constants(ns):
    return int(ns.get("ONES_AFTER", 50)), int(ns.get("CLIP_MS", 10_000)), int(ns.get("RATE", 44100))


def _check_is_overlapping(ns, rng, d):
    f = ns["is_overlapping"]
    start = int(rng.integers(100, 9000))
    seg = (start, start + int(rng.integers(50, 800)))
    others = [(s, s + int(rng.integers(10, 200))) for s in rng.integers(0, 10_000, size=3)]
    cases = [(seg, [], False), (seg, [seg], True), (seg, [(seg[1], seg[1] + 10)], True),
             (seg, [(seg[0] - 10, seg[0])], True), (seg, [(seg[1] + 1, seg[1] + 10)], False),
             (seg, [(seg[0] - 20, seg[0] - 1)], False),
             (seg, others + [(seg[0] + 1, seg[1] - 1)], True)]
    for s, prev, want in cases:
        got = f(s, list(prev))
        if not isinstance(got, (bool, np.bool_)):
            raise Problem(f"is_overlapping should return True or False, got {type(got).__name__}")
        if bool(got) != want:
            raise Problem(f"is_overlapping({s}, {prev}) is {bool(got)}; both ends count as used")


def _check_insert_ones(ns, rng, d):
    ones_after, clip_ms, _ = _trigger_constants(ns)
    T_y = int(rng.integers(60, 400))
    end = int(rng.integers(0, clip_ms))
    y = np.zeros((1, T_y))
    out = ns["insert_ones"](y, end)
    _expect_shape("y", out, (1, T_y))
    if not np.all((out == 0) | (out == 1)):
        raise Problem("y should hold only 0s and 1s")
    s = int(end * T_y / clip_ms)
    ones = np.flatnonzero(out[0])
    want = np.arange(s + 1, min(s + 1 + ones_after, T_y))
    if not np.array_equal(ones, want):
        raise Problem(f"with T_y = {T_y} and segment_end_ms = {end}, y should be 1 exactly at steps "
                      f"{s + 1} .. {min(s + ones_after, T_y - 1)} (s = int(segment_end_ms * T_y / 10000))", hint=HINT)
    if not np.array_equal(y, out):
        raise Problem("insert_ones should change y in place")


def _check_spectrogram(ns, rng, d):
    nfft = int(rng.integers(8, 40)) * 2
    noverlap = int(rng.integers(1, nfft - 2))
    n = int(rng.integers(3 * nfft, 10 * nfft))
    samples = _randn(rng, n)
    power = ns["spectrogram"](samples, nfft, noverlap)
    _expect_shape("power", power, (nfft // 2 + 1, (n - noverlap) // (nfft - noverlap)))
    if np.any(power < 0):
        raise Problem("power has negative entries")
    _expect_same("power of 2 * samples", ns["spectrogram"](2 * samples, nfft, noverlap), 4 * power,
                 "a power spectrum grows with the square of the amplitude")


def _check_chime_positions(ns, rng, d):
    T_y = int(rng.integers(200, 700))
    p = rng.uniform(0, 1, T_y) ** 3
    threshold, min_gap = float(rng.uniform(0.3, 0.7)), int(rng.integers(5, 60))
    got = ns["chime_positions"](p, threshold, min_gap)
    if not isinstance(got, list) or not all(isinstance(t, (int, np.integer)) for t in got):
        raise Problem("chime_positions should return a list of ints")
    above = p > threshold
    last = None
    for t in got:
        if not 0 <= t < T_y or not above[t] or (t > 0 and above[t - 1]):
            raise Problem(f"position {t} is not a step where the output rises above the threshold")
        if last is not None and t - last <= min_gap:
            raise Problem(f"positions {last} and {t} are not more than min_gap = {min_gap} steps apart")
        last = t
    if above.any() and not got:
        raise Problem("the output rises above the threshold but no position is returned")


def _check_detection_metrics(ns, rng, d):
    m, T_y = int(rng.integers(1, 4)), int(rng.integers(100, 400))
    y = np.zeros((1, m, T_y))
    for i in range(m):
        s = int(rng.integers(0, T_y - 30))
        y[0, i, s:s + int(rng.integers(5, 30))] = 1
    p = np.clip(rng.uniform(0, 1, y.shape) * 0.4 + 0.5 * y, 0, 1)
    scores = _expect_tuple("the result", ns["detection_metrics"](p, y, 0.5), 4)
    precision, recall, f1, acc = (_expect_number(n, v) for n, v in zip(("precision", "recall", "f1", "frame_accuracy"),
                                                                       scores))
    for n, v in (("precision", precision), ("recall", recall), ("f1", f1), ("frame_accuracy", acc)):
        if not 0 <= v <= 1:
            raise Problem(f"{n} is {testing.plain(v)}, outside [0, 1]")
    want = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    _expect_same("f1", f1, want, "2 precision recall / (precision + recall) of your precision and recall")
    perfect = _expect_tuple("the result", ns["detection_metrics"](y.copy(), y, 0.5), 4)
    if not all(float(v) == 1.0 for v in perfect):
        raise Problem("with probabilities equal to the labels every score should be 1, got "
                      + testing.plain(tuple(float(v) for v in perfect)), hint=HINT)


def _trigger_background(rng, n_samples):
    return 0.05 * _randn(rng, n_samples)


def _check_insert_audio_clip(ns, rng, d):
    _, clip_ms, rate = _trigger_constants(ns)
    n = rate * clip_ms // 1000
    background = _trigger_background(rng, n)
    clip = _randn(rng, int(rng.integers(rate // 5, rate)))
    previous = [(0, int(rng.integers(500, 3000)))]
    before = list(previous)
    seed = int(rng.integers(2**31))
    out = _expect_tuple("the result", ns["insert_audio_clip"](background.copy(), clip, previous,
                                                                np.random.default_rng(seed)), 2)
    new, segment = out
    _expect_shape("new_background", new, (n,))
    if segment is None:
        raise Problem("segment_time is None although the background has room for the clip")
    start, end = (int(v) for v in segment)
    if [tuple(int(v) for v in s) for s in previous] != before + [(start, end)]:
        raise Problem("the new segment should be appended to previous_segments")
    if start <= before[0][1] or end >= clip_ms:
        raise Problem(f"segment ({start}, {end}) overlaps a used segment or runs past the end of the clip")
    changed = np.flatnonzero(new != background)
    if changed.size == 0:
        raise Problem("new_background equals the background: the clip was not added")
    lo, hi = changed[0] * 1000 / rate, changed[-1] * 1000 / rate
    if lo < start - 1 or hi > end + 1:
        raise Problem(f"the background changed between {lo:.0f} ms and {hi:.0f} ms, outside the segment "
                      f"({start}, {end})")
    again = ns["insert_audio_clip"](background.copy(), clip, list(before), np.random.default_rng(seed))
    if tuple(int(v) for v in again[1]) != (start, end):
        raise Problem("two calls with Generators of one seed chose different positions: rng should be the only "
                      "source of randomness")


def _check_create_training_example(ns, rng, d):
    _, clip_ms, rate = _trigger_constants(ns)
    n = rate * clip_ms // 1000
    background = _trigger_background(rng, n)
    activates = [_randn(rng, int(rng.integers(rate // 4, rate // 2))) for _ in range(int(rng.integers(1, 4)))]
    negatives = [_randn(rng, int(rng.integers(rate // 4, rate // 2))) for _ in range(int(rng.integers(1, 3)))]
    out = _expect_tuple("the result", ns["create_training_example"](background, activates, negatives,
                                                                      np.random.default_rng(int(rng.integers(2**31)))), 3)
    x, y, segments = out
    T_x, T_y = int(ns.get("T_x", 5511)), int(ns.get("T_y", 1375))
    _expect_shape("x", x, (101, T_x))
    _expect_shape("y", y, (1, T_y))
    if not isinstance(segments, list) or not segments:
        raise Problem("segments should be the non-empty list of the (start, end) of the clips inserted")
    if not np.all((y == 0) | (y == 1)):
        raise Problem("y should hold only 0s and 1s")
    if not 0 < int(y.sum()) <= len(activates) * _trigger_constants(ns)[0]:
        raise Problem(f"y has {int(y.sum())} ones for {len(activates)} activates (at most ONES_AFTER each, and "
                      "the first is always inserted)")


def _trigger_dims(rng):
    m, T_y = int(rng.integers(1, 4)), int(rng.integers(3, 8))
    return m, T_y


def _check_model_forward_trigger(ns, rng, d):
    parts = ns.get("parts")
    if parts is None or not hasattr(parts, "detector_params"):
        raise Problem("the notebook's `parts` (utils.trigger_parts) is not defined: run the setup cell")
    n_x, n_f, kernel, n_a = (int(rng.integers(3, 7)), int(rng.integers(2, 6)), int(rng.integers(3, 6)),
                             int(rng.integers(2, 6)))
    params = parts.detector_params(rng, n_x=n_x, n_f=n_f, kernel=kernel, n_a=n_a, dtype=np.float64)
    state = parts.detector_state(params)
    m, T_y = _trigger_dims(rng)
    T_x = kernel + 4 * (T_y - 1) + int(rng.integers(0, 4))
    X = _randn(rng, n_x, m, T_x)
    probs, cache = _expect_tuple("the result", ns["model_forward"](X, params, state, False, None), 2)
    _expect_shape("probabilities", probs, (1, m, T_y))
    if np.any(probs < 0) or np.any(probs > 1):
        raise Problem("probabilities should be in [0, 1] (a sigmoid)")
    _expect_keys("cache", cache, ["layers", "logits", "probs"])
    _expect_same("probabilities", probs, 1 / (1 + np.exp(-cache["logits"])), "the sigmoid of cache['logits']")
    again = ns["model_forward"](X[:, :1].copy(), params, state, False, None)[0]
    _expect_same("probabilities of the first example alone", again, probs[:, :1],
                 "in inference every example is computed on its own")


# ------------------------------------------------------------------ the assignments

ASSIGNMENTS = {
    "rnn_step_by_step": (_RNN_RANGES, _RNN_VISIBLE, {
        "rnn_cell_forward": _check_cell_forward("rnn"), "rnn_forward": _check_sequence_forward("rnn"),
        "lstm_cell_forward": _check_cell_forward("lstm"), "lstm_forward": _check_sequence_forward("lstm"),
        "rnn_cell_backward": _check_cell_backward("rnn"), "rnn_backward": _check_sequence_backward("rnn"),
        "lstm_cell_backward": _check_cell_backward("lstm"), "lstm_backward": _check_sequence_backward("lstm"),
        "gru_cell_forward": _check_cell_forward("gru"), "gru_cell_backward": _check_cell_backward("gru")}),
    "dinosaur_island": (_DINO_RANGES, _DINO_VISIBLE, {
        "clip": _check_clip, "sample": _check_sample, "optimize": _check_optimize, "model": _check_model}),
    "jazz_improvisation": (_JAZZ_RANGES, _JAZZ_VISIBLE, {
        "music_inference_model": _check_inference, "djmodel": _check_djmodel,
        "predict_and_sample": _check_predict_and_sample}),
    "date_translation": (_DATE_RANGES, _DATE_VISIBLE, {
        "preprocess_data": _check_preprocess, "one_step_attention": _check_attention,
        "one_step_attention_backward": _check_attention_backward, "model_forward": _check_model_forward_dates,
        "translate": _check_translate, "exact_match": _check_exact_match}),
    "trigger_word": ({}, {}, {
        "is_overlapping": _check_is_overlapping, "insert_audio_clip": _check_insert_audio_clip,
        "insert_ones": _check_insert_ones, "spectrogram": _check_spectrogram,
        "create_training_example": _check_create_training_example, "chime_positions": _check_chime_positions,
        "detection_metrics": _check_detection_metrics, "model_forward": _check_model_forward_trigger}),
}
TRIALS = 2

# Checks that call other graded functions of the student's (consistency) wait until those pass.
DEPENDS = {
    "rnn_forward": ["rnn_cell_forward"], "lstm_forward": ["lstm_cell_forward"],
    "rnn_cell_backward": ["rnn_cell_forward"], "rnn_backward": ["rnn_forward"],
    "lstm_cell_backward": ["lstm_cell_forward"], "lstm_backward": ["lstm_forward"],
    "gru_cell_backward": ["gru_cell_forward"],
    "optimize": ["clip"], "model": ["optimize", "sample"],
    "predict_and_sample": ["music_inference_model"],
    "one_step_attention_backward": ["one_step_attention"], "translate": ["preprocess_data", "model_forward"],
    "insert_audio_clip": ["is_overlapping"], "create_training_example": ["insert_audio_clip", "insert_ones", "spectrogram"],
}
# model_forward is a graded name of two assignments; only date_translation's calls one_step_attention
_DEPENDS_DATES = {"model_forward": ["one_step_attention"]}
NOT_ANSWERED = "not answered yet"


def _guess_assignment(ns):
    """The assignment whose graded functions the namespace defines most of (ties: course order)."""
    counts = {a: sum(callable(ns.get(f)) for f in checks) for a, (_, _, checks) in ASSIGNMENTS.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


# ------------------------------------------------------------------ running

@contextlib.contextmanager
def _time_limit(seconds):
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise _Timeout()
    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _where(exc, names):
    """The innermost frame of the traceback that belongs to one of the graded functions (or None)."""
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if fr.name in names and "selfcheck" not in os.path.basename(fr.filename):
            return fr
    return None


def _unanswered(f):
    """True for the notebook's stub as released: a function whose only name is NotImplementedError."""
    code = getattr(f, "__code__", None)
    return code is not None and set(code.co_names) == {"NotImplementedError"}


def _check_one(name, check, ns, rng, ranges, avoid, all_names):
    """"ok", "not answered yet", or what is wrong (one line)."""
    sizes = None
    try:
        with _time_limit(TIME_LIMIT):
            for _ in range(TRIALS):
                sizes = _fresh_sizes(rng, ranges, avoid) if ranges else {}
                with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                    check(ns, rng, sizes)
        return "ok"
    except _Timeout:
        return f"took longer than {TIME_LIMIT} s (an endless loop?)"
    except NotImplementedError as exc:
        fr = _where(exc, all_names)
        if fr is None or fr.name == name:
            return NOT_ANSWERED
        return f"not checked: it calls {fr.name}, which is not answered yet"
    except Problem as exc:
        on = f"with {_sizes_text(sizes)}: " if sizes else ""
        return on + str(exc) + (f"; {exc.hint}" if exc.hint else "")
    except Exception as exc:   # the student's code raised
        fr = _where(exc, all_names)
        at = f" in {fr.name}, line {fr.lineno}" if fr is not None else ""
        on = f" with {_sizes_text(sizes)}" if sizes else ""
        first = (str(exc).splitlines() or [""])[0][:200]
        hint = "; " + HINT if isinstance(exc, (ValueError, IndexError)) else ""
        return f"raised {type(exc).__name__}{at}{on}: {first}{hint}"


def results(source=None, assignment=None, seed=None):
    """{function: "ok" / "not answered yet" / what is wrong}, without printing.

    source:     a namespace dict (a notebook's globals(); default: the caller's) or the path of a notebook.
    assignment: its id (default: the notebook's file name, else guessed from the functions defined).
    seed:       the random sizes' seed (default: a fresh one each run).
    """
    if source is None:
        source = sys._getframe(1).f_globals
    return _run(source, assignment, seed)[0]


def _run(source, assignment, seed):
    notes = []
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        ns, notes = _execute_notebook(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        assignment = assignment or (stem if stem in ASSIGNMENTS else None)
    elif isinstance(source, dict):
        ns = source
    else:
        raise TypeError("selfcheck: pass globals() or the path of a notebook")
    assignment = assignment or _guess_assignment(ns)
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"selfcheck: unknown assignment {assignment!r}; one of {sorted(ASSIGNMENTS)}")
    seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else int(seed)
    ranges, avoid, checks = ASSIGNMENTS[assignment]
    out = {}
    for name, check in checks.items():
        rng = np.random.default_rng([seed, len(out)])
        if not callable(ns.get(name)):
            out[name] = "not defined: run its cell first" if not notes else "not defined (see the notes below)"
            continue
        if _unanswered(ns[name]):
            out[name] = NOT_ANSWERED
            continue
        needs = [n for n in (_DEPENDS_DATES if assignment == "date_translation" else {}).get(name, DEPENDS.get(name, []))
                 if out.get(n) != "ok"]
        if needs:
            out[name] = "not checked yet: the check uses your " + " and ".join(needs) + ", which must pass first"
            continue
        out[name] = _check_one(name, check, ns, rng, ranges, avoid, set(checks))
    return out, notes, assignment, seed


def _strip_magics(source):
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _execute_notebook(path):
    """(namespace, notes): run the notebook's code cells but its test cells and the cells tagged
    skip-when-grading, in a fresh namespace, in the notebook's folder. A cell that raises is noted and skipped."""
    notes = []
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError) as exc:
        return {}, [f"cannot read {path}: {exc}"]
    folder = os.path.dirname(os.path.abspath(path))
    ns = {"__name__": "__main__"}
    os.environ.setdefault("MPLBACKEND", "Agg")
    cwd, path0 = os.getcwd(), list(sys.path)
    os.chdir(folder)
    sys.path.insert(0, folder)
    try:
        for index, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            meta = cell.get("metadata", {}) or {}
            grading = meta.get("nbgrader", {}) or {}
            if grading.get("grade") and not grading.get("solution"):
                continue                                  # a test cell
            if "skip-when-grading" in (meta.get("tags") or []):
                continue                                  # a demonstration (training runs, figures, audio)
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if "selfcheck" in source:
                continue                                  # this check itself
            label = grading.get("grade_id") or f"cell {index + 1}"
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                        _time_limit(TIME_LIMIT):
                    exec(compile(_strip_magics(source), f"<{label}>", "exec"), ns)
            except _Timeout:
                notes.append(f"{label}: took longer than {TIME_LIMIT} s, stopped")
            except NotImplementedError:
                pass
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: B902 - a cell may even call exit()
                first = (str(exc).splitlines() or [""])[0][:200]
                notes.append(f"{label}: raised {type(exc).__name__}: {first}")
    finally:
        os.chdir(cwd)
        sys.path[:] = path0
        try:
            import matplotlib.pyplot as plt
            plt.close("all")
        except ImportError:   # pragma: no cover
            pass
    return ns, notes


def run(source=None, assignment=None, seed=None):
    """Print the self-check of your graded functions: one line each, then a summary. Returns nothing.

    source: globals() of the notebook (the default: the namespace run() is called from) or a notebook's path.
    """
    if source is None:
        source = sys._getframe(1).f_globals
    out, notes, assignment, seed = _run(source, assignment, seed)
    width = max(len(n) for n in out)
    print(f"Self-check of {assignment} on fresh random sizes (seed {seed}): shapes, types and consistency "
          "between your functions, no expected values.")
    for name, verdict in out.items():
        print(f"  {name:<{width}}  {verdict}")
    ok = sum(v == "ok" for v in out.values())
    blank = sum(v == NOT_ANSWERED for v in out.values())
    waiting = sum(v.startswith("not checked") for v in out.values())
    bad = len(out) - ok - blank - waiting
    print(f"{ok} of {len(out)} ok, {blank} not answered yet, {bad} with a problem"
          + (f", {waiting} waiting for another function" if waiting else "") + "."
          + (" The grader uses other sizes too: fix the problems above before you submit." if bad else ""))
    for note in notes:
        print("  note: " + note)


def _main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m utils.selfcheck", description=__doc__.split("\n")[0])
    parser.add_argument("notebook", help="the assignment's notebook, e.g. rnn_step_by_step.ipynb")
    parser.add_argument("--seed", type=int, default=None, help="the random sizes' seed (default: fresh)")
    parser.add_argument("--assignment", default=None, help="the assignment id (default: the notebook's name)")
    args = parser.parse_args(argv)
    run(args.notebook, args.assignment, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
