"""What an assignment's hidden checks are made of (used by grading/specs/<id>.py).

A spec module defines ``CHECKS``: a dict test-cell grade_id -> builder. A builder takes a
``numpy.random.Generator`` and returns a list of ``Case``. Each case's plan runs against the
student's functions (in the sandbox) and the teacher's (trusted); ``compare`` decides.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from utils import testing

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
    rtol: float = testing.RTOL
    atol: float = testing.ATOL


class NotJudged(list):
    """What a compare returns when a case cannot judge the function (an empty list: it costs nothing).

    A gradient check against the student's own forward pass means nothing when that forward pass is
    wrong; the case is then neither passed nor failed, and the feedback says it did not count and why.
    """

    def __init__(self, reason):
        super().__init__()
        self.reason = reason


# The kinds of failure the feedback, the class report and grades_by_function.csv group by.
KINDS = ("not answered", "raised", "shape", "type", "values", "not run", "other")


def failure_kind(message):
    """The kind of a failure message of ``judge`` (one of KINDS); "raised" is followed by the exception name."""
    import re
    if "raised NotImplementedError" in message:   # also when a later call failed for want of its result
        return "not answered"
    m = re.search(r"raised (\w+)", message)
    if m:
        return f"raised {m.group(1)}"     # (a NotImplementedError was answered above)
    low = message.lower()
    if "did not run" in low or "could not run" in low or "not autograded" in low:
        return "not run"
    if "has shape" in low or "wrong shape" in low or "should be an array of shape" in low or "length" in low:
        return "shape"
    if "should be a" in low or "keys are off" in low or "dtype" in low or "is none" in low or "could not be compared" in low \
            or "is missing: typeerror" in low:   # f(...)[0] of a function that returned None (or a non-sequence)
        return "type"
    if "wrong at" in low or "off by" in low or "differs" in low or "relative error" in low or "nan or inf" in low \
            or "gradient check" in low or "consistent" in low or "no real values" in low or ", expected " in low:
        return "values"
    return "other"


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


def mismatch(label, got, expected, rtol=testing.RTOL, atol=testing.ATOL, reveal=False):
    """None when ``got`` matches ``expected`` (plain data, nested), else a one-line reason.

    reveal: the reason may quote expected values (visible checks, whose inputs the student has).
            Otherwise (hidden checks) it says what kind of mistake it is (shape, which entries,
            the largest error, a hint) and never an expected value.
    """
    if isinstance(expected, dict) and "error" in expected and len(expected) == 1:
        raise TeacherFailure(f"the teacher's reference failed on {label}: {expected['error']}")
    if isinstance(got, dict) and set(got) == {"error"} and isinstance(got["error"], str):
        return f"{label}: {got['error']}"
    if isinstance(expected, np.ndarray) and expected.dtype.kind not in "biuf":
        if isinstance(got, np.ndarray) and got.shape == expected.shape and np.array_equal(got, expected):
            return None
        return f"{label} differs from the expected value"
    if isinstance(expected, np.ndarray) or (isinstance(expected, (float, int)) and not isinstance(expected, bool)):
        if isinstance(got, Unsupported) or isinstance(got, (dict, list, tuple, str)):
            kind = f"an array of shape {expected.shape}" if isinstance(expected, np.ndarray) else "a number"
            return f"{label} should be {kind}, got {describe(got)}"
        if isinstance(expected, np.ndarray) and expected.shape == () and not isinstance(got, np.ndarray):
            got = np.asarray(got) if isinstance(got, (int, float)) and not isinstance(got, bool) else got
        if isinstance(got, np.ndarray) and not isinstance(expected, np.ndarray) and got.shape == ():
            got = got[()]
        return testing.compare(label, got, expected, rtol, atol, reveal)
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
    failures, errors = [], set()
    for label in reference:
        got = student.get(label, {"error": "no result"})
        if isinstance(got, dict) and set(got) == {"error"} and isinstance(got["error"], str):
            if got["error"] not in errors:  # one call that raised fails all its labels: say it once
                errors.add(got["error"])
                failures.append(got["error"])
            continue
        m = mismatch(label, got, reference[label], case.rtol, case.atol, reveal=not case.hidden)
        if m:
            failures.append(m)
    return failures
