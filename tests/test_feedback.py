"""What the student reads back: test-cell summaries, failure kinds, maths offline, figures and sound kept safely."""
import base64
import glob
import io
import os
import re

import nbformat
import numpy as np
import pytest

from grading import core, feedback, media, spec
from tools import course
from utils import audio

ROOT = course.ROOT


# ---------------------------------------------------------------- test-cell summaries and failure kinds

@pytest.mark.parametrize("message, kind", [
    ("rnn_forward raised NotImplementedError", "not answered"),
    ("a: rnn_forward raised ValueError: shapes (5,3) and (4,10) not aligned", "raised ValueError"),
    ("a_next has shape (5, 9), expected (5, 10)", "shape"),
    ("dx is missing or has the wrong shape", "shape"),
    ("gradients should be a dict with keys ['da0'], got a list", "type"),
    ("gradients keys are off: missing ['dba'], unexpected []", "type"),
    ("a is wrong at 12 of 40 entries; first at index (0, 1, 0); largest error 0.3", "values"),
    ("gradient check against your own forward pass failed: relative error 3.1e-02", "values"),
    ("this check did not run (see the outcome of the submission)", "not run"),
    ("something nobody foresaw", "other"),
])
def test_failure_kinds(message, kind):
    assert spec.failure_kind(message) == kind


def _check(cases, failures, not_judged=()):
    return {"passed": not failures, "failures": failures, "n": len(cases), "hidden": len(cases),
            "ran": sum(c["kind"] != "not judged" for c in cases), "cases": cases, "not_judged": list(not_judged)}


def test_a_blank_function_reads_not_answered_and_checks_that_could_not_run_are_not_counted():
    cases = [{"name": "a", "hidden": True, "passed": False, "kind": "not answered"},
             {"name": "b", "hidden": True, "passed": False, "kind": "not answered"},
             {"name": "c", "hidden": True, "passed": True, "kind": "not judged"}]
    lines = core.check_summary(_check(cases, ["hidden check 'a': f raised NotImplementedError"] * 2,
                                      ["'c': your forward pass differs"]), "rnn_backward")
    assert lines == ["rnn_backward: not answered yet (it raised NotImplementedError on all 2 checks that ran); "
                     "1 more did not count."]


def test_a_failed_check_names_its_kind_and_counts_only_checks_that_ran():
    cases = [{"name": "a", "hidden": False, "passed": True, "kind": "passed"},
             {"name": "b", "hidden": True, "passed": False, "kind": "shape"},
             {"name": "c", "hidden": True, "passed": True, "kind": "not judged"}]
    lines = core.check_summary(_check(cases, ["hidden check 'b': a has shape (2,), expected (3,)"], ["'c': why"]),
                               "rnn_forward")
    assert lines[0] == "rnn_forward: failed 1 of 2 checks; 1 more did not count."
    assert lines[1].endswith("[shape]") and "'b'" in lines[1]
    assert lines[2] == " - did not count: 'c': why"
    ok = core.check_summary(_check(cases[:1], []), "f")
    assert ok == ["f: passed 1 of 1 checks (1 hidden)."]


def test_a_gradient_check_on_a_wrong_forward_pass_is_not_judged_and_a_raising_backward_says_so():
    from grading.checks import gradient_compare
    w = {"a": np.ones((2, 2))}
    compare = gradient_compare([("x", (0, 0))], w)
    ref = {"base_a": np.zeros((2, 2)), "grad": {"dx": np.zeros((2, 2))}}
    wrong_forward = compare({"base_a": np.ones((2, 2)), "grad": {"dx": np.zeros((2, 2))}}, ref)
    assert isinstance(wrong_forward, spec.NotJudged) and wrong_forward == [] and "forward" in wrong_forward.reason
    raised = compare({"base_a": np.zeros((2, 2)), "grad": {"error": "f_backward raised NotImplementedError"}}, ref)
    assert raised == ["f_backward raised NotImplementedError"]


# ---------------------------------------------------------------- maths for offline reading

def test_maths_becomes_mathml_and_code_is_left_alone():
    out = feedback.maths_to_mathml("Inline $a^{\\langle t \\rangle}$, price \\$5, `x = $y$` and\n$$\\hat y = W a$$")
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "`x = $y$`" in out and "\\$5" in out


def test_every_formula_of_the_course_converts():
    """latex2mathml reads every formula of every notebook (a formula it cannot read would stay as code)."""
    found = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "source", "*", "*.ipynb"))):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown" and "$" in cell.source:
                html = feedback.maths_to_mathml(cell.source)
                found += html.count("<math")
                assert "<code>" not in html.replace("`", ""), f"{os.path.basename(path)}: {cell.source[:80]}"
                assert not re.search(r"(?<!\\)\$", re.sub(r"`[^`]*`", "", html)), \
                    f"{os.path.basename(path)}: a $ left in {cell.source[:80]!r}"
    assert found > 500


# ---------------------------------------------------------------- figures and sound handed back, rebuilt

def _png():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode()


def test_kept_outputs_keep_pngs_and_rebuild_players_and_drop_everything_else():
    sound = audio.player(np.sin(np.arange(8000) / 3.0) * 0.3, 8000)._repr_html_()
    outputs = [
        {"output_type": "display_data", "data": {"image/png": _png(), "text/plain": "<Figure>"}},
        {"output_type": "display_data", "data": {"text/html": sound.replace("<audio", "<audio onplay=\"steal()\"")}},
        {"output_type": "display_data", "data": {"text/html": "<script>alert(1)</script>"}},
        {"output_type": "display_data", "data": {"image/png": base64.b64encode(b"GIF89a not a png").decode()}},
        {"output_type": "display_data", "data": {"text/html": '<audio><source src="data:audio/wav;base64,'
                                                              + base64.b64encode(b"<script>x</script>").decode()
                                                              + '"></audio>'}},
        {"output_type": "stream", "name": "stdout", "text": "hello"},
    ]
    kept = media.kept_outputs(outputs)
    assert [list(k["data"]) for k in kept] == [["image/png", "text/plain"], ["text/html", "text/plain"]]
    rebuilt = kept[1]["data"]["text/html"]
    assert "steal" not in rebuilt and rebuilt.startswith("<audio controls") and "audio/mpeg" in rebuilt
    big = {"output_type": "display_data", "data": {"image/png": base64.b64encode(
        media.PNG + b"\0" * (media.MAX_ITEM + 1)).decode()}}
    assert media.kept_outputs([big]) == [] and media.kept_outputs(None) == []


# ---------------------------------------------------------------- small audio players

def test_players_embed_mp3_far_smaller_than_wav():
    rate, seconds = 11025, 10
    x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(rate * seconds) / rate)
    data = audio.mp3_bytes(x, rate)
    assert data is not None and media.sound_kind(data) == "audio/mpeg"
    assert len(data) < rate * seconds * 2 / 5   # a 16-bit WAV of the same clip is 5 times larger at least
    import soundfile
    back, back_rate = soundfile.read(io.BytesIO(data))
    assert back_rate in audio.MP3_RATES and abs(len(back) / back_rate - seconds) < 0.2
    html = audio.player(x, rate)._repr_html_()
    assert "data:audio/mpeg;base64," in html
    with pytest.raises(ValueError, match="1-D"):
        audio.player(np.zeros((2, 3)), rate)
    with pytest.raises(ValueError, match="rate"):
        audio.player(x, 0)


def test_a_chained_call_that_failed_for_want_of_an_unanswered_one_reads_not_answered():
    msg = ("insert_ones raised LookupError: the call saved as 'y1' did not succeed; "
           "insert_ones raised NotImplementedError")
    assert spec.failure_kind(msg) == "not answered"
