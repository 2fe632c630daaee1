"""utils.testing: the course's one comparison, used by the visible tests and by the grader."""
import numpy as np
import pytest

from grading.spec import mismatch
from utils import testing


def test_one_tolerance_accepts_float32_noise_and_rejects_a_real_mistake():
    e = np.linspace(-2, 3, 12).reshape(3, 4)
    assert testing.compare("a", e.astype(np.float32).astype(np.float64), e) is None
    assert testing.compare("a", e + 0.01, e) is not None             # the demo mutants' nudge
    assert testing.close(e, e + 1e-9) and not testing.close(e, e[:, :3])


def test_visible_messages_quote_values_and_hidden_ones_never_do():
    e = np.array([[0.123456, -1.5], [2.75, 3.25]])
    got = e.copy()
    got[1, 0] = 9.0
    visible = testing.compare("a_next", got, e)
    assert "first at index (1, 0): got 9, expected 2.75" in visible
    hidden = testing.compare("a_next", got, e, reveal=False)
    assert "first at index (1, 0)" in hidden and "2.75" not in hidden and "largest error 6.2" in hidden
    with pytest.raises(AssertionError, match="a_next has shape"):
        testing.assert_close("a_next", e[:1], e)
    with pytest.raises(AssertionError, match="Hint: use tanh"):
        testing.assert_close("a_next", got, e, hint="use tanh")


@pytest.mark.parametrize("got, words", [
    (lambda e: np.zeros_like(e), "every entry is 0"), (lambda e: -e, "sign is flipped"),
    (lambda e: e.T, "transposed"), (lambda e: 3 * e, "3 times"),
    (lambda e: e + np.array([[0, 0], [0, 1.0]]), "most entries are right")])
def test_hints_name_the_likely_mistake(got, words):
    e = np.array([[0.123456, -1.5], [2.75, 3.25]])
    msg = testing.compare("a", got(e), e, reveal=False)
    assert words in msg, msg
    assert not any(f"{v:.4g}" in msg for v in e.ravel()), msg


def test_the_grader_uses_the_same_comparison():
    e = np.array([1.0, 2.0])
    assert mismatch("y", e * (1 + 5e-6), e) is None and mismatch("y", e + 0.01, e) is not None
    assert mismatch("y", np.array(["1.0", "2.0"]), e) == "y has dtype <U3, expected numbers"
    assert "should be a number" in mismatch("y", [1.0], 1.0)
    assert mismatch("y", 2.0, 1.0) == "y is off by 1"
