"""notebooks/gradient_checking.ipynb runs top to bottom, and the numbers behind its claims hold: the one-sided
error falls like h and the centred one like h^2; in float64 the centred check of an RNN step's dWaa bottoms out
near h = 1e-5 below 1e-9, while the same check in float32 reads above 1e-4 at every step; the buggy backward is
caught on a_prev only, and utils' backward passes everywhere.

The lab runs once (module fixture); check cells appended to it report the values, and confirm that the float32
loss really computes in float32 and that the buggy backward differs from utils' in da_prev alone."""

from tests.labs import lab_fixture, record_run


REPORT = r'''
report("slopes", {"one_sided": slope_one, "centred": slope_centred})
report("scalar_at_1e-5", {"one_sided": float(one_sided_err[i5]), "centred": float(centred_err[i5]),
                          "h": float(hs[i5])})
report("cell", {"h": [float(h) for h in hs_cell], "centred": [float(e) for e in cell_centred],
                "one_sided": [float(e) for e in cell_one_sided], "float32": [float(e) for e in cell_float32],
                "j5": j5})
report("refused", refused)
report("errors", errors)
report("reading", {"ok": err_ok, "scaled": err_scaled, "one_wrong": err_one_wrong, "zero": err_zero})
'''

# The float32 loss runs in float32, and the bug is in da_prev only (the other gradients equal utils').
INDEPENDENT = r'''
import numpy as _np
_a32, _ = recurrent.rnn_step_forward(xt.astype(_np.float32), a_prev.astype(_np.float32),
                                     {k: w.astype(_np.float32) for k, w in cell.items()})
report("float32_dtype", str(_a32.dtype))
_, _c = recurrent.rnn_step_forward(xt, a_prev, cell)
_good = recurrent.rnn_step_backward(v, _c)
_bad = rnn_step_backward_buggy(v, _c)
report("bug_diff", {k: float(_np.max(_np.abs(_good[k] - _bad[k]))) for k in ("dWaa", "dWax", "dba", "dxt", "da_prev")})
'''


lab = lab_fixture("gradient_checking", [REPORT, INDEPENDENT])


def test_lab_runs_and_reports(lab, record_property):
    record_run(lab, record_property, ["slopes", "cell", "errors", "bug_diff"])


def test_one_sided_is_first_order_and_centred_second_order(lab):
    r = lab[0]
    assert 0.9 < r["slopes"]["one_sided"] < 1.1
    assert 1.9 < r["slopes"]["centred"] < 2.1
    at = r["scalar_at_1e-5"]
    assert abs(at["h"] - 1e-5) < 1e-6
    assert at["centred"] < 1e-3 * at["one_sided"]


def test_float64_centred_v_bottoms_out_near_1e_5(lab):
    cell = lab[0]["cell"]
    j5, hs = cell["j5"], cell["h"]
    assert abs(hs[j5] - 1e-5) < 1e-6
    assert cell["centred"][j5] < 1e-9
    best = hs[min(range(len(hs)), key=lambda i: cell["centred"][i])]
    assert 1e-6 <= best <= 1e-4
    assert cell["centred"][0] > 1e3 * cell["centred"][j5]        # round-off at h = 1e-12
    assert 1e-7 < cell["one_sided"][j5] < 1e-4


def test_float32_check_fails_where_float64_passes(lab):
    r = lab[0]
    cell = r["cell"]
    assert r["float32_dtype"] == "float32"
    assert cell["float32"][cell["j5"]] > 1e-4
    assert cell["centred"][cell["j5"]] < 1e-7
    assert min(cell["float32"]) > 1e-6
    assert r["refused"] and "float64" in r["refused"]


def test_reading_a_relative_error(lab):
    reading = lab[0]["reading"]
    assert reading["ok"] < 1e-9
    assert abs(reading["scaled"] - reading["ok"]) <= 1e-3 * reading["ok"]
    assert reading["one_wrong"] > 1e-3
    assert reading["zero"] == 0.0


def test_buggy_backward_is_caught_on_a_prev_only(lab):
    errors, diff = lab[0]["errors"], lab[0]["bug_diff"]
    correct, buggy = errors["utils (correct)"], errors["buggy"]
    assert set(correct) == set(buggy) == {"Waa", "Wax", "ba", "xt", "a_prev"}
    assert max(correct.values()) < 1e-9
    assert buggy["a_prev"] > 1e-1
    assert max(v for k, v in buggy.items() if k != "a_prev") < 1e-9
    assert diff["da_prev"] > 1e-2 and max(v for k, v in diff.items() if k != "da_prev") < 1e-12
