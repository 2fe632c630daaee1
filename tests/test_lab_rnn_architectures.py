"""The rnn_architectures lab (notebooks/rnn_architectures.ipynb) runs top to bottom, and what it claims holds.

The lab runs once per module (``lab`` fixture); a check cell appended to it reports what the tests compare:
the accuracies it asserts, an independent relabelling of its data, the causality of the one-directional layer
(its output at step t must not move when later steps change) and the bidirectional layer's use of the future.
"""
import pytest

from tests.labs import lab_fixture, record_run

NAME = "rnn_architectures"

CHECK = r'''
import numpy as _np

# 1. the labels of marker_batch, recomputed by a plain loop over the steps
_x, _y = marker_batch(_np.random.default_rng(123), 50)
_marks = _x[1] > 0.5                                                   # (m, T_x)
_want = _np.zeros_like(_marks)
for _i in range(_marks.shape[0]):
    for _t in range(T_x):
        _want[_i, _t] = _marks[_i, _t + 1:_t + 1 + k].any()
report("labels_match", bool(_np.array_equal(_want, _y[0] > 0.5)))
report("one_hot", bool(_np.all(_x.sum(axis=0) == 1)))

# 2. the causal bound, estimated by simulation: guess the likelier label of each step
_xs, _ys = marker_batch(_np.random.default_rng(7), 20000)
_guess = (p_t > 0.5)[None, None, :]
report("bound_simulated", float(_np.mean(_guess == (_ys > 0.5))))
report("causal_best", causal_best)

# 3. causality: change every step after t0 and compare the logits at steps <= t0
_t0 = 9
_xa, _ = marker_batch(_np.random.default_rng(11), 200)
_xb, _ = marker_batch(_np.random.default_rng(12), 200)
_xb[:, :, :_t0 + 1] = _xa[:, :, :_t0 + 1]
_ua, _ = gru_forward(uni, _xa)
_ub, _ = gru_forward(uni, _xb)
_ba, _ = bigru_forward(bi, _xa)
_bb, _ = bigru_forward(bi, _xb)
report("uni_past_change", float(_np.max(_np.abs(_ua[..., :_t0 + 1] - _ub[..., :_t0 + 1]))))
report("bi_past_change", float(_np.max(_np.abs(_ba[..., :_t0 + 1] - _bb[..., :_t0 + 1]))))

report("uni_acc", uni_acc)
report("bi_acc", bi_acc)
report("uni_gap_by_step", float(_np.max(_np.abs(uni_by_step - _np.maximum(p_t, 1 - p_t)))))
report("params", {"uni": io.count_params(uni), "bi": io.count_params(bi),
                  "shallow": io.count_params(shallow), "deep": io.count_params(deep)})
report("depth", {"shallow_acc": shallow_acc, "deep_acc": deep_acc,
                 "shallow_layers": len([key for key in shallow if key.startswith("gru")]),
                 "deep_layers": len([key for key in deep if key.startswith("gru")])})
report("histories", {"uni": [float(uni_history[0]), float(uni_history[-20:].mean()), len(uni_history)],
                     "bi": [float(bi_history[0]), float(bi_history[-20:].mean()), len(bi_history)],
                     "shallow": [float(shallow_history[0]), float(shallow_history[-20:].mean()), len(shallow_history)],
                     "deep": [float(deep_history[0]), float(deep_history[-20:].mean()), len(deep_history)]})
report("causal_loss", causal_loss)
report("control_acc", control_acc)
report("shallow_acc_800", shallow_acc_800)
report("layer_shapes", {"shallow": list(shallow["gru1"]["Wu"].shape), "deep1": list(deep["gru1"]["Wu"].shape),
                        "deep2": list(deep["gru2"]["Wu"].shape), "dense": list(deep["dense"]["W"].shape)})

# 4. the counting labels, recomputed by a plain loop
_xc, _yc = count_batch(_np.random.default_rng(5), 30)
_bits = _xc.astype(int)
_want_c = _np.zeros_like(_yc)
for _i in range(_yc.shape[0]):
    _count = 0
    for _t in range(T_x):
        _count += int(_bits[0, _i, _t] != _bits[1, _i, _t])
        _want_c[_i, _t] = _count % 3
report("count_labels_match", bool(_np.array_equal(_want_c, _yc)))
report("figures", [type(f).__name__ for f in (wiring_figure, step_figure, summary_figure)])
report("summary_axes", len(summary_figure.axes))
'''


lab = lab_fixture(NAME, [CHECK])


def test_lab_runs_and_records_its_time(lab, record_property):
    record_run(lab, record_property, ["bi_acc"])


def test_data_labels_are_the_future_markers(lab):
    reports = lab[0]
    assert reports["labels_match"], "marker_batch's labels differ from a loop over the next k steps"
    assert reports["one_hot"], "every step of marker_batch's x should be one-hot"


def test_causal_bound_matches_a_simulation(lab):
    reports = lab[0]
    assert reports["bound_simulated"] == pytest.approx(reports["causal_best"], abs=0.004)
    assert reports["causal_best"] == pytest.approx(0.607, abs=5e-4)


def test_one_directional_layer_is_causal_and_bidirectional_is_not(lab):
    reports = lab[0]
    assert reports["uni_past_change"] < 1e-12, "a GRU's logits at step t moved when only later steps changed"
    assert reports["bi_past_change"] > 0.1, "the bidirectional GRU's logits should depend on later steps"


def test_bidirectional_beats_the_causal_bound(lab):
    r = lab[0]
    assert r["uni_acc"] < r["causal_best"] + 0.01
    assert r["uni_acc"] > r["causal_best"] - 0.03
    assert r["bi_acc"] > 0.97
    assert r["uni_gap_by_step"] < 0.05
    assert abs(r["params"]["uni"] - r["params"]["bi"]) < 20


def test_losses_fall(lab):
    h = lab[0]["histories"]
    for name in ("uni", "bi", "shallow", "deep"):
        first, last, n = h[name]
        assert n >= 100 and last < first, f"{name}: loss {first:.3f} -> {last:.3f} over {n} steps"
    assert h["bi"][1] < 0.5 * lab[0]["causal_loss"], "the bidirectional loss should fall far below the causal floor"
    assert h["uni"][1] > 0.95 * lab[0]["causal_loss"], "the one-directional loss cannot go below the causal floor"


def test_two_layers_beat_one_of_similar_size(lab):
    r = lab[0]
    d, p = r["depth"], r["params"]
    assert (d["shallow_layers"], d["deep_layers"]) == (1, 2)
    assert abs(p["deep"] - p["shallow"]) <= 0.1 * p["shallow"], f"parameter counts differ too much: {p}"
    assert d["deep_acc"] > DEEP_MIN, f"the stack should reach {DEEP_MIN:.0%}, got {d['deep_acc']:.3f}"
    assert d["shallow_acc"] < SHALLOW_MAX, f"one layer should stay below {SHALLOW_MAX:.0%}, got {d['shallow_acc']:.3f}"
    assert d["deep_acc"] - d["shallow_acc"] > GAP_MIN


def test_single_layer_counts_the_control_and_catches_up_later(lab):
    r = lab[0]
    assert r["count_labels_match"], "count_batch's labels differ from a loop counting the steps where the bits differ"
    assert r["control_acc"] > 0.97, "one layer should count 'both bits are 1' (the control) more than 97% right"
    assert r["shallow_acc_800"] > 0.95, "after 800 steps the single layer should count more than 95% right"
    assert r["layer_shapes"] == {"shallow": [10, 12], "deep1": [6, 8], "deep2": [6, 12], "dense": [3, 6]}, \
        "layer 2 of the stack should read layer 1's states (W of shape (n_a, n_a + n_a))"


def test_figures_are_drawn(lab):
    r = lab[0]
    assert r["figures"] == ["Figure"] * 3
    assert r["summary_axes"] == 2, "the summary shows the two experiments' learning curves side by side"


DEEP_MIN, SHALLOW_MAX, GAP_MIN = 0.97, 0.85, 0.15   # the lab's own asserts; measured 0.999 and 0.510
