"""Comparisons for visible tests and for the grader: a failure says which value or shape is wrong, and how.

    assert_close("a_next", a_next, expected)        # shape, dtype kind, then values
    assert_keys("gradients", grads, ["dWax", ...])   # a dict has exactly the keys a function promised
    compare("a_next", got, expected)                 # the same check, returning the message (or None)

One tolerance for every comparison in the course, visible tests and hidden checks alike:
RTOL = 1e-5 relative, ATOL = 1e-7 absolute (for values near zero). A right answer computed in
float64 in another valid order of operations differs from the expected one by about 1e-12; one
computed in float32 by about 1e-7; a real mistake (a wrong gate, a missing bias, a transposed
matrix, the demo mutants' nudge of 0.01) by 1e-3 or more. The tolerance sits between the two.

Failure messages print numbers plainly (``-0.10572946``, ``5``, ``(5, 10)``, never numpy 2's
``np.float64(-0.10572946)``), and every helper sets ``__tracebackhide__``: pytest hides its frames,
and IPython hides every one but the line that raises, so a failing test cell's traceback is the
cell's line, that one line here, and the message.
"""
import numpy as np

RTOL, ATOL = 1e-5, 1e-7


def plain(value, precision=8):
    """``value`` as a message shows it: numbers without numpy's type names (``5``, ``-0.10572946``),
    arrays with ``np.array2string``, tuples, lists, sets and dicts item by item."""
    __tracebackhide__ = True
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{precision}g}"
    if isinstance(value, (complex, np.complexfloating)):
        return str(complex(value))
    if isinstance(value, (str, np.str_)):
        return repr(str(value))
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=precision, separator=", ", threshold=20, edgeitems=3,
                               max_line_width=100)
    if isinstance(value, tuple):
        inner = ", ".join(plain(v, precision) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(plain(v, precision) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(plain(v, precision) for v in value)) + "}" if value else "set()"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{plain(k, precision)}: {plain(v, precision)}" for k, v in value.items()) + "}"
    return repr(value)


def _describe(x):
    __tracebackhide__ = True
    if isinstance(x, np.ndarray):
        return f"array of shape {plain(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def close(got, expected, rtol=RTOL, atol=ATOL):
    """True when two arrays (or numbers, or lists of numbers) have one shape and agree within tolerance."""
    __tracebackhide__ = True
    try:
        g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return g.shape == e.shape and bool(np.all(np.isfinite(g))) and bool(np.allclose(g, e, rtol=rtol, atol=atol))


def hint_for(got, expected, rtol=RTOL, atol=ATOL):
    """A likely cause of a numeric mismatch between two float arrays of one shape, or ""."""
    __tracebackhide__ = True
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if not np.any(g) and np.any(e):
        return "every entry is 0; is the function computing anything yet?"
    if close(g, -e, rtol, atol):
        return "the sign is flipped"
    if g.ndim == 2 and g.shape[0] == g.shape[1] and g.shape[0] > 1 and close(g, e.T, rtol, atol):
        return "the result is transposed"
    nz = np.abs(e) > atol
    if nz.sum() > 1:
        ratio = g[nz] / e[nz]
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6) and not np.isclose(ratio.flat[0], 1.0):
            return f"every entry is {plain(ratio.flat[0], 4)} times the expected one (a missing or extra factor)"
    if g.size > 1 and np.isclose(g, e, rtol=rtol, atol=atol).mean() >= 0.5:
        return "most entries are right, so the mistake touches only part of the result"
    return ""


def compare(name, got, expected, rtol=RTOL, atol=ATOL, reveal=True):
    """None when ``got`` (array or number) equals ``expected`` within tolerance, else the reason.

    reveal: the reason quotes the expected value at the first wrong entry (visible tests, where the
            student has the inputs). Otherwise it says what kind of mistake it is (shape, which
            entries, the largest error, a hint) and never an expected value (hidden checks).
    """
    __tracebackhide__ = True
    exp = np.asarray(expected)
    if got is None:
        return f"{name} is None; did the function forget to return it?"
    if not isinstance(got, (np.ndarray, np.generic, float, int)) or isinstance(got, (bool, np.bool_)):
        return f"{name} should be a numpy array or number, got {_describe(got)}"
    arr = np.asarray(got)
    if arr.shape != exp.shape:
        return f"{name} has shape {plain(arr.shape)}, expected {plain(exp.shape)}"
    if not np.issubdtype(arr.dtype, np.number):
        return f"{name} has dtype {arr.dtype}, expected numbers"
    if np.any(~np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        return f"{name} contains nan or inf, first at index {plain(bad)}"
    g, e = arr.astype(np.float64), exp.astype(np.float64)
    ok = np.isclose(g, e, rtol=rtol, atol=atol)
    if np.all(ok):
        return None
    hint = hint_for(g, e, rtol, atol)
    hint = f"; hint: {hint}" if hint else ""
    if not arr.ndim:
        if reveal:
            return f"{name} is {plain(g[()])}, expected {plain(e[()])}{hint}"
        return f"{name} is off by {plain(abs(float(g) - float(e)), 2)}{hint}"
    wrong = np.argwhere(~ok)
    first = tuple(int(i) for i in wrong[0])
    head = f"{name} is wrong at {len(wrong)} of {arr.size} entries; first at index {plain(first)}"
    if reveal:
        return f"{head}: got {plain(g[first])}, expected {plain(e[first])}{hint}"
    return f"{head}; largest error {plain(np.max(np.abs(g - e)), 2)}{hint}"


def assert_close(name, got, expected, rtol=RTOL, atol=ATOL, hint=None):
    """Assert that ``got`` equals ``expected`` elementwise within tolerance (see ``compare``).

    name:     what the value is called in the instructions (shown in the message).
    got:      the student's value (array or number).
    expected: the expected value (array or number).
    hint:     optional sentence appended to the failure message.
    """
    __tracebackhide__ = True
    msg = compare(name, got, expected, rtol, atol, reveal=True)
    if msg:
        # Your test cell's failing line is shown above this one; the message below says what is wrong.
        raise AssertionError(msg + "." + (f"\nHint: {hint}" if hint else ""))


def _sorted_plain(items):
    __tracebackhide__ = True
    return "[" + ", ".join(sorted(plain(k) for k in items)) + "]"


def assert_keys(name, got, keys):
    """Assert that dict ``got`` has exactly ``keys`` (order ignored), naming missing and extra ones."""
    __tracebackhide__ = True
    if not isinstance(got, dict):
        msg = f"{name} should be a dict, got {_describe(got)}."
    else:
        missing, extra = set(keys) - set(got), set(got) - set(keys)
        msg = f"{name} keys are off: missing {_sorted_plain(missing)}, unexpected {_sorted_plain(extra)}." \
            if missing or extra else None
    if msg:
        # Your test cell's failing line is shown above this one; the message below says what is wrong.
        raise AssertionError(msg)


def assert_shape(name, got, shape, hint=None):
    """Assert that array ``got`` has ``shape`` (a tuple)."""
    __tracebackhide__ = True
    suffix = f"\nHint: {hint}" if hint else ""
    if not isinstance(got, np.ndarray):
        msg = f"{name} should be a numpy array, got {_describe(got)}.{suffix}"
    elif got.shape != tuple(shape):
        msg = f"{name} has shape {plain(got.shape)}, expected {plain(tuple(shape))}.{suffix}"
    else:
        msg = None
    if msg:
        # Your test cell's failing line is shown above this one; the message below says what is wrong.
        raise AssertionError(msg)


def passed(message="All tests passed."):
    """Print the line a test cell ends with when every check in it succeeded."""
    __tracebackhide__ = True
    print(message)
