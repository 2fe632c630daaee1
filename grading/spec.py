"""What an assignment's hidden checks are made of (used by grading/specs/<id>.py).

A spec module defines ``CHECKS``: a dict test-cell grade_id -> builder. A builder takes a
``numpy.random.Generator`` and returns a list of ``Case``. Each case's plan runs against the
student's functions (in the sandbox) and the teacher's (trusted); ``compare`` decides.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .plan import Unsupported


@dataclass
class Case:
    """One probe of a graded function.

    name:    shown in feedback (say what is probed, never how it is computed).
    plan:    list of plan.Call.
    hidden:  hidden cases show the failure message but never their inputs' source.
    compare: optional f(student: dict, reference: dict) -> list of failure messages;
             by default every label must match the reference within rtol/atol.
    """
    name: str
    plan: list
    hidden: bool = True
    compare: Optional[Callable] = None
    rtol: float = 1e-5
    atol: float = 1e-7


class TeacherFailure(Exception):
    """The teacher's notebook fails its own checks: a bug of the course, never charged to a student."""


def describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, Unsupported):
        return repr(value)
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)}"
    return f"a {type(value).__name__}"


def _hint(g, e, rtol, atol):
    """A likely cause of a numeric mismatch (same shapes), or ""."""
    def close(a, b):
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))
    if not np.any(g) and np.any(e):
        return "hint: every entry is 0; is the function computing anything yet?"
    if close(g, -e):
        return "hint: the sign is flipped"
    if g.ndim == 2 and g.shape[0] == g.shape[1] and close(g, e.T):
        return "hint: the result is transposed"
    nz = np.abs(e) > atol
    if nz.any():
        ratio = g[nz] / e[nz]
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6) and not np.isclose(ratio.flat[0], 1.0):
            return f"hint: every entry is {ratio.flat[0]:.4g} times the expected one (a missing or extra factor)"
    close_frac = np.isclose(g, e, rtol=rtol, atol=atol).mean()
    if close_frac >= 0.5:
        return "hint: most entries are right, so the mistake touches only part of the result"
    return ""


def mismatch(label, got, expected, rtol=1e-5, atol=1e-7, reveal=False):
    """None when ``got`` matches ``expected`` (plain data, nested), else a one-line reason.

    reveal: the reason may quote expected values (visible checks, whose inputs the student has).
            Otherwise (hidden checks) it says what kind of mistake it is (shape, which entries,
            the largest error, a hint) and never an expected value.
    """
    if isinstance(expected, dict) and "error" in expected and len(expected) == 1:
        raise TeacherFailure(f"the teacher's reference failed on {label}: {expected['error']}")
    if isinstance(got, dict) and set(got) == {"error"} and isinstance(got["error"], str):
        return f"{label}: {got['error']}"
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            if isinstance(got, (int, float)) and not isinstance(got, bool) and expected.shape == ():
                got = np.asarray(got, dtype=float)
            else:
                return f"{label} should be an array of shape {expected.shape}, got {describe(got)}"
        if got.shape != expected.shape:
            return f"{label} has shape {got.shape}, expected {expected.shape}"
        if expected.dtype.kind in "biuf":
            if got.dtype.kind not in "biuf":
                return f"{label} has dtype {got.dtype}, expected numbers"
            g, e = got.astype(np.float64), expected.astype(np.float64)
            if not np.all(np.isfinite(g)):
                return f"{label} contains nan or inf"
            close = np.isclose(g, e, rtol=rtol, atol=atol)
            if not close.all():
                idx = tuple(int(i) for i in np.argwhere(~close)[0])
                head = f"{label} is wrong at {int((~close).sum())} of {close.size} entries; first at {idx}"
                if reveal:
                    return f"{head}: got {g[idx]:.8g}, expected {e[idx]:.8g}"
                hint = _hint(g, e, rtol, atol)
                return f"{head}; largest error {float(np.max(np.abs(g - e))):.2g}" + (f"; {hint}" if hint else "")
            return None
        return None if np.array_equal(got, expected) else f"{label} differs from the expected value"
    if isinstance(expected, (float, int)) and not isinstance(expected, bool):
        if isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind in "biuf":
            got = float(got)
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"{label} should be a number, got {describe(got)}"
        if not np.isclose(float(got), float(expected), rtol=rtol, atol=atol):
            if reveal:
                return f"{label} is {float(got):.8g}, expected {float(expected):.8g}"
            return f"{label} is off by {abs(float(got) - float(expected)):.2g}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{label} should be a dict with keys {sorted(expected)}, got {describe(got)}"
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        if missing or extra:
            return f"{label} keys are off: missing {missing}, unexpected {extra}"
        for k in expected:
            m = mismatch(f"{label}['{k}']", got[k], expected[k], rtol, atol, reveal)
            if m:
                return m
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"{label} should be a sequence of length {len(expected)}, got {describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            m = mismatch(f"{label}[{i}]", g, e, rtol, atol, reveal)
            if m:
                return m
        return None
    if type(got) is type(expected) and got == expected:
        return None
    return f"{label} is {got!r}, expected {expected!r}" if reveal else f"{label} differs from the expected value"


def default_compare(case, student, reference):
    """Every label of the reference must be matched by the student's value (visible cases quote it)."""
    failures = []
    for label in reference:
        m = mismatch(label, student.get(label, {"error": "no result"}), reference[label], case.rtol, case.atol,
                     reveal=not case.hidden)
        if m:
            failures.append(m)
    return failures
