"""The attention_weights lab (notebooks/attention_weights.ipynb) runs top to bottom, and what it claims holds.

The lab runs once per module (``lab`` fixture); a check cell appended to it reports its numbers and recomputes
the main ones independently: the attention weights are a distribution over the input for every output step, the
year share is recomputed from the raw weights of utils.nmt.forward, and the failures are re-translated with the
course's own translate_texts.
"""
import pytest

from tests.labs import lab_fixture, record_run

NAME = "attention_weights"

CHECK = r'''
import numpy as _np
from utils import nmt as _nmt

# 1. the weights are distributions over the T_x input positions, for every example and output step
report("alphas_sum_to_one", float(_np.max(_np.abs(test_alphas.sum(axis=0) - 1))))
report("alphas_nonnegative", bool((test_alphas >= 0).all()))
report("alphas_shape", list(test_alphas.shape))

# 2. the translations, through the course's translate_texts (not the lab's helper)
_texts = [text for text, _ in examples] + [text for text, _ in trials]
_course = _nmt.translate_texts(_texts, params, human_vocab, inv_machine_vocab)
report("same_translations", _course == predictions + trial_predictions)
report("examples", [[text, pred] for (text, _), pred in zip(examples, predictions)])
report("trials", [[text, truth, pred] for (text, truth), pred in zip(trials, trial_predictions)])
report("failed", failed)

# 3. the year share, recomputed in one pass with a mask over the input positions
_mask, _keep = [], []
for _i, (_h, _iso, _f) in enumerate(test_pairs):
    _s = _h.lower()[:T_x]
    if test_predictions[_i] == _iso and _s.count(_iso[:4]) == 1:
        _m = _np.zeros(T_x)
        _m[_s.index(_iso[:4]):_s.index(_iso[:4]) + 4] = 1
        _mask.append(_m)
        _keep.append(_i)
_mask = _np.array(_mask)                                                    # (n, T_x)
_A = test_alphas[:, _keep, 0:4]                                             # (T_x, n, 4)
_share = _np.einsum("tn,tnk->nk", _mask.T, _A)                              # (n, 4)
report("share_recomputed", [float(v) for v in _share.mean(axis=0)])
report("share_lab", [float(v) for v in shares.mean(axis=0)])
report("share_count", int(len(shares)))
report("test_correct", int(sum(correct)))
report("figure", type(summary_figure).__name__)
report("offsets", [[float(_np.mean(offsets[:, _t] == _d)) for _d in range(4)] for _t in range(4)])
report("spread_by_step", [float(v) for v in correct_spread.mean(axis=0)])
report("month_share", float(_np.mean(month_shares)))
report("month_count", len(month_shares))
report("year_read_shares", [float(v) for v in year_read_shares])
report("no_year_spread", float(no_year_spread))
report("two_dates", [float(on_first), float(on_second)])
report("confident_failures", confident_failures)
report("confident_correct", confident_correct)
report("share_min", float(shares.mean(axis=1).min()))
report("share_1850", float(share_1850))
report("month_on_13", float(month_on_13))
'''


lab = lab_fixture(NAME, [CHECK])


def test_lab_runs_and_records_its_time(lab, record_property):
    record_run(lab, record_property, ["share_lab"])


def test_attention_weights_are_distributions(lab):
    r = lab[0]
    assert r["alphas_shape"] == [30, 1000, 10]
    assert r["alphas_nonnegative"]
    assert r["alphas_sum_to_one"] < 1e-4


def test_translations_agree_with_the_course_function(lab):
    r = lab[0]
    assert r["same_translations"], "the lab's read_dates and nmt.translate_texts should give the same dates"
    assert r["test_correct"] == 999, "TRAINING.md records 999 of 1,000 held-out dates right"


def test_year_rows_read_the_year(lab):
    r = lab[0]
    assert r["share_count"] > 800
    assert r["share_recomputed"] == pytest.approx(r["share_lab"], abs=1e-5), "the lab's year share disagrees with a recomputation"
    assert sum(r["share_lab"]) / 4 > 0.93 and min(r["share_lab"]) > 0.9
    assert r["share_min"] > 0.8
    offsets = r["offsets"]
    assert offsets[0][1] > 0.99 and offsets[2][2] > 0.99 and offsets[3][3] > 0.99
    assert offsets[1][1] + offsets[1][2] > 0.99


def test_spread_and_month(lab):
    r = lab[0]
    spread = r["spread_by_step"]
    assert len(spread) == 10 and all(s >= 1 for s in spread), "an effective number of characters is at least 1"
    assert (spread[2] + spread[3]) / 2 < 1.5
    assert spread[4] > 6 and spread[7] > 4, "the dash rows should read many characters"
    assert r["month_count"] > 500 and r["month_share"] > 0.9


def test_failures_as_the_lab_describes_them(lab):
    r = lab[0]
    trials = r["trials"]
    wrong = [i for i, (_, truth, pred) in enumerate(trials) if truth != pred]
    assert wrong == r["failed"] and len(wrong) == 10
    right = {text for text, truth, pred in trials if truth == pred}
    assert {"3 Mya 1979", "9 Mai 2018", "20090530", "3 may 1900", "3 may 2099"} <= right
    assert dict((t, p) for t, _, p in trials)["3 May 1850"] == "1950-05-13"
    assert min(r["year_read_shares"]) > 0.85 and sum(r["year_read_shares"]) / len(r["year_read_shares"]) > 0.9
    assert r["no_year_spread"] > 3 * sum(r["spread_by_step"][:4]) / 4
    assert all(0.3 < v < 0.7 for v in r["two_dates"])
    assert len(r["confident_failures"]) == 5 and r["confident_correct"] > 0.99
    assert r["share_1850"] > 0.9 and r["month_on_13"] > 0.8, "attention in the right place, the wrong output"


def test_examples_and_summary_figure(lab):
    r = lab[0]
    assert [p for _, p in r["examples"]] == ["1979-05-03", "2009-05-30", "2018-05-09", "2001-03-03", "2001-03-04",
                                             "2001-03-04"]
    assert r["figure"] == "Figure"
