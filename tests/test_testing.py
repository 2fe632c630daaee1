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


@pytest.mark.parametrize("got, expected", [
    (np.float64(-0.10572946), np.float64(0.5)), (np.int64(5), np.int64(7)),
    (np.array([1.0, np.float64(2.5)]), np.array([1.0, 3.0])), (np.zeros((2, 3)), np.zeros((np.int64(3), 2)))])
def test_messages_print_numbers_plainly(got, expected):
    for reveal in (True, False):
        msg = testing.compare("y", got, expected, reveal=reveal)
        assert msg and "np." not in msg and "float64(" not in msg and "int64(" not in msg, msg
    assert testing.compare("y", np.float64(-0.10572946), np.float64(0.5)) == "y is -0.10572946, expected 0.5"
    with pytest.raises(AssertionError) as info:
        testing.assert_shape("a", np.zeros((5, 2)), (np.int64(5), np.int64(3)))
    assert str(info.value) == "a has shape (5, 2), expected (5, 3)."
    with pytest.raises(AssertionError) as info:
        testing.assert_keys("g", {np.str_("dWax"): 1}, [np.str_("dWaa")])
    assert str(info.value) == "g keys are off: missing ['dWaa'], unexpected ['dWax'].", str(info.value)
    assert testing.plain([np.float64(0.25), (np.int64(5),), np.array([1.5, 2.0])]) == "[0.25, (5,), [1.5, 2. ]]"


def test_every_helper_hides_its_frame():
    import inspect
    helpers = [f for _, f in inspect.getmembers(testing, inspect.isfunction) if f.__module__ == testing.__name__]
    assert len(helpers) >= 8
    assert [f.__name__ for f in helpers if "__tracebackhide__" not in f.__code__.co_varnames] == []


def _ipython_traceback(cell_source):
    """The plain-text traceback IPython's formatter (Context mode, a notebook's default) shows for a cell."""
    import sys
    from IPython.core import ultratb
    ns = {"np": np, "testing": testing}
    exec(compile("def cell():\n" + "".join("    " + line + "\n" for line in cell_source.splitlines()),
                 "<test cell>", "exec"), ns)
    try:
        ns["cell"]()
    except AssertionError:
        return ultratb.FormattedTB(mode="Context", theme_name="nocolor").text(*sys.exc_info())
    raise AssertionError("the cell did not fail")


def test_ipython_shows_the_cell_the_raise_and_the_message_only():
    text = _ipython_traceback("def check(x):\n    __tracebackhide__ = True\n    testing.assert_close('a_next', x, x + 1)\n"
                              "check(np.array([1.0, 2.0]))")
    frames = [line for line in text.splitlines() if line.startswith("File ")]
    # the cell's frame, then testing.py's raising line (IPython never hides the frame that raises); the cell's own
    # hidden helper and every frame of testing.py but the raising one are skipped
    assert "[... skipping hidden 1 frame]" in text, text
    assert [f.split(",")[0].split(":")[0].rsplit("/", 1)[-1] for f in frames[-2:]] == ["File <test cell>", "testing.py"]
    assert "compare(" not in text.split("testing.py")[-1].split("raise AssertionError")[-1]
    assert text.rstrip().endswith("AssertionError: a_next is wrong at 2 of 2 entries; first at index (0,): got 1, expected 2.")
