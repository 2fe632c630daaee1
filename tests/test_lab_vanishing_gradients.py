"""notebooks/vanishing_gradients.ipynb runs top to bottom, and the numbers behind its claims hold: the product of
Jacobians reproduces the RNN backward; at distance 50 from the loss the tanh RNN's gradient is orders of magnitude
below the LSTM's with forget bias 2 (and the forget bias, the GRU's update bias, decide the gated cells' reach);
the per-step factor is about the root mean square of the tanh derivatives, and with 3 Waa three times it, so the
gradient grows; without clipping the training run diverges, with either clipping it does not.

The lab runs once (module fixture); a check cell appended to it reports the values, and one more recomputes the
RNN and LSTM gradient norms through utils.rnn's step-by-step backward, another code path than the lab's."""
import math


from tests.labs import lab_fixture, record_run


REPORT = r'''
import numpy as _np
report("formula_error", float(err))
report("at50", {label: float(nrm[50]) for label, nrm in norms.items()})
report("at0", {label: float(nrm[0]) for label, nrm in norms.items()})
report("f_mean", f_mean)
report("large_growth_40", float(norms_large[40] / norms_large[0]))
report("rms", {"rate": float(rate), "rms": rms, "rms_large": rms_large})
report("norm0", float(norm0))
report("cos_value", float(cos_value))
report("cos_norm", float(cos_norm))
report("runs", {name: [float(v) if _np.isfinite(v) else str(v) for v in losses] for name, losses in runs.items()})
report("mechanism", {"growth_Waa": float(growth_Waa), "sat1": float(sat1), "lr_curv0": float(lr_curv0),
                     "lr_curv1": float(lr_curv1)})
'''

# The same norms through the assignment-1 reference (one cell step at a time), with the loss at the last step only.
RECOMPUTE = r'''
from utils import rnn as _rnn
_da = _np.zeros((n_a, m, T_x))
_da[:, :, -1] = da_last
_a, _y, _caches = _rnn.rnn_forward(x, _np.zeros((n_a, m)), dict(rnn, Wya=_np.zeros((1, n_a)), by=_np.zeros((1, 1))))
_rnn_dx = _rnn.rnn_backward(_da, _caches)["dx"]
_p = dict(lstm_b2, Wy=_np.zeros((1, n_a)), by=_np.zeros((1, 1)))
_a, _y, _c, _caches = _rnn.lstm_forward(x, _np.zeros((n_a, m)), _p)
_lstm_dx = _rnn.lstm_backward(_da, _caches)["dx"]
report("recomputed_at50", {"rnn": float(_np.linalg.norm(_rnn_dx[:, :, T_x - 1 - 50])),
                           "lstm2": float(_np.linalg.norm(_lstm_dx[:, :, T_x - 1 - 50]))})
'''

RNN, LSTM0, LSTM2 = "tanh RNN", "LSTM, $b_f = 0$", "LSTM, $b_f = 2$"
GRU0, GRUM2 = "GRU, $b_u = 0$", "GRU, $b_u = -2$"


lab = lab_fixture("vanishing_gradients", [REPORT, RECOMPUTE])


def test_lab_runs_and_reports(lab, record_property):
    record_run(lab, record_property, ["formula_error", "at50", "runs", "recomputed_at50"])


def test_product_of_jacobians_is_the_backward_pass(lab):
    assert lab[0]["formula_error"] < 1e-12


def test_rnn_gradient_vanishes_and_lstm_with_forget_bias_2_keeps_it(lab):
    at0, at50 = lab[0]["at0"], lab[0]["at50"]
    assert at50[RNN] < 1e-5 * at0[RNN]
    assert at50[LSTM2] > 1e-2 * at0[LSTM2]
    assert at50[RNN] < 1e-4 * at50[LSTM2]


def test_gate_biases_decide_the_gated_cells_reach(lab):
    at50, f_mean = lab[0]["at50"], lab[0]["f_mean"]
    assert at50[LSTM0] < 1e-8 * at50[LSTM2]
    assert at50[GRU0] < 1e-6 * at50[LSTM2]
    assert at50[GRUM2] > 1e4 * at50[GRU0]
    assert abs(f_mean["b_f = 0"] - 0.5) < 0.05 and abs(f_mean["b_f = 2"] - 0.88) < 0.03


def test_lab_norms_match_the_step_by_step_reference(lab):
    at50, ref = lab[0]["at50"], lab[0]["recomputed_at50"]
    assert math.isclose(ref["rnn"], at50[RNN], rel_tol=1e-6)
    assert math.isclose(ref["lstm2"], at50[LSTM2], rel_tol=1e-6)


def test_per_step_factor_is_the_rms_tanh_derivative(lab):
    r = lab[0]
    rms = r["rms"]
    assert abs(rms["rate"] / rms["rms"] - 1) < 0.1
    assert rms["rms_large"] < rms["rms"] and 3 * rms["rms_large"] > 1
    assert abs(r["large_growth_40"] ** (1 / 40) / (3 * rms["rms_large"]) - 1) < 0.1


def test_large_waa_explodes_and_clipping_by_norm_keeps_direction(lab):
    r = lab[0]
    assert r["large_growth_40"] > 1e3
    assert r["norm0"] > 1e3
    assert abs(r["cos_norm"] - 1) < 1e-12
    assert r["cos_value"] < 0.8


def test_unclipped_run_diverges_clipped_runs_do_not(lab):
    runs = lab[0]["runs"]
    blown = [float(v) for v in runs["no clipping"]]
    assert max(blown[:30]) > 1e6
    assert not math.isfinite(blown[-1]) or max(blown) > 1e100
    clipped = {name: losses for name, losses in runs.items() if name.startswith("clip")}
    assert len(clipped) == 2
    control = runs["no clipping, $W_{aa}$ orthogonal (control)"]
    control_end = sum(control[-50:]) / 50
    assert control_end < 1e-2
    for name, losses in clipped.items():
        assert all(isinstance(v, float) and math.isfinite(v) for v in losses), name
        end = sum(losses[-50:]) / 50
        assert max(losses) < 3 * losses[0] and end < losses[0], name
        assert control_end < 0.1 * end, name


def test_divergence_mechanism(lab):
    mech = lab[0]["mechanism"]
    assert mech["growth_Waa"] > 30
    assert mech["sat1"] > 0.9
    assert mech["lr_curv0"] < 2 < mech["lr_curv1"]
