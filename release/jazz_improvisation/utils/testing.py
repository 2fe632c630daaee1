"""Comparisons for visible tests: a failure says which value or shape is wrong, and how.

    assert_close("a_next", a_next, expected)        # shape, dtype kind, then values
    assert_keys("gradients", grads, ["dWax", ...])   # a dict has exactly the keys a function promised
"""
import numpy as np


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return type(x).__name__


def assert_close(name, got, expected, rtol=1e-6, atol=1e-8, hint=None):
    """Assert that ``got`` equals ``expected`` elementwise within tolerance.

    name:     what the value is called in the instructions (shown in the message).
    got:      the student's value (array or number).
    expected: the expected value (array or number).
    hint:     optional sentence appended to the failure message.
    """
    suffix = f"\nHint: {hint}" if hint else ""
    exp = np.asarray(expected)
    if got is None:
        raise AssertionError(f"{name} is None; did the function forget to return it?{suffix}")
    if not isinstance(got, (np.ndarray, np.generic, float, int)) or isinstance(got, bool):
        raise AssertionError(f"{name} should be a numpy array or number, got {_describe(got)}.{suffix}")
    arr = np.asarray(got)
    if arr.shape != exp.shape:
        raise AssertionError(f"{name} has shape {arr.shape}, expected {exp.shape}.{suffix}")
    if not np.issubdtype(arr.dtype, np.number):
        raise AssertionError(f"{name} has dtype {arr.dtype}, expected numbers.{suffix}")
    if np.any(~np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise AssertionError(f"{name} contains nan or inf, first at index {bad}.{suffix}")
    close = np.isclose(arr, exp, rtol=rtol, atol=atol)
    if not np.all(close):
        wrong = np.argwhere(~close)
        first = tuple(int(i) for i in wrong[0])
        msg = (f"{name} is wrong at {len(wrong)} of {arr.size} entries; first at index {first}: "
               f"got {arr[first]!r}, expected {exp[first]!r}.") if arr.ndim else \
              f"{name} is {arr.item()!r}, expected {exp.item()!r}."
        raise AssertionError(msg + suffix)


def assert_keys(name, got, keys):
    """Assert that dict ``got`` has exactly ``keys`` (order ignored), naming missing and extra ones."""
    if not isinstance(got, dict):
        raise AssertionError(f"{name} should be a dict, got {_describe(got)}.")
    missing = sorted(set(keys) - set(got))
    extra = sorted(set(got) - set(keys))
    if missing or extra:
        raise AssertionError(f"{name} keys are off: missing {missing}, unexpected {extra}.")


def assert_shape(name, got, shape, hint=None):
    """Assert that array ``got`` has ``shape`` (a tuple)."""
    suffix = f"\nHint: {hint}" if hint else ""
    if not isinstance(got, np.ndarray):
        raise AssertionError(f"{name} should be a numpy array, got {_describe(got)}.{suffix}")
    if got.shape != tuple(shape):
        raise AssertionError(f"{name} has shape {got.shape}, expected {tuple(shape)}.{suffix}")


def passed(message="All tests passed."):
    """Print the line a test cell ends with when every check in it succeeded."""
    print(message)
