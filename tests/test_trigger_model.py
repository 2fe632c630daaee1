"""Tests of utils.trigger_model: parameter counts, shapes, the whole detector's gradients, the spectrogram,
training examples and the event scores."""
import numpy as np
import pytest

from utils import gradcheck
from utils import trigger_model as tm

SMALL = dict(n_x=4, n_f=5, kernel=3, n_a=3)      # a detector small enough for centred differences


def small_setup(seed=0, m=3, T_x=23):
    rng = np.random.default_rng(seed)
    params = tm.detector_params(rng, dtype=np.float64, **SMALL)
    for layer in params.values():                  # move gammas, betas and biases off their initial values
        for name, a in layer.items():
            if name in ("gamma", "beta") or name.startswith("b"):
                a += 0.3 * rng.standard_normal(a.shape)
    X = rng.standard_normal((SMALL["n_x"], m, T_x))
    return params, tm.detector_state(params), X, rng


def flat_arrays(params, grads, training):
    """name -> param array and name -> its gradient for every leaf. In training the conv bias is left out:
    batch norm subtracts the batch mean right after it, so its gradient is exactly zero (checked here) and
    centred differences give rounding noise only."""
    arrays, analytic = {}, {}
    for layer, d in params.items():
        for name, a in d.items():
            arrays[f"{layer}/{name}"] = a
            analytic[f"{layer}/{name}"] = grads["d" + layer]["d" + name]
    if training:
        assert np.max(np.abs(analytic.pop("conv/b"))) < 1e-12
        del arrays["conv/b"]
    return arrays, analytic


def test_parameter_counts_at_course_sizes():
    """521,657 trainable parameters (course GRU: one bias per gate) and 904 batch-norm statistics."""
    params = tm.detector_params(np.random.default_rng(0))
    state = tm.detector_state(params)
    assert tm.count_detector_params(params, state) == (521_657, 904)
    assert (tm.N_FREQ, tm.T_X, tm.T_Y) == (101, 5511, 1375)


@pytest.mark.parametrize("training", [True, False])
def test_whole_detector_gradients_float64(training):
    """Backward of the whole stack (conv, batch norms, ReLU, dropout, two GRUs, dense, sigmoid) against
    centred differences, for every parameter and the input."""
    params, state, X, rng = small_setup(seed=1 if training else 2)
    R = rng.standard_normal((1, X.shape[1], tm.conv1d_output_length(X.shape[2], SMALL["kernel"], 2)))
    if not training:                               # running statistics away from their initial values
        for s in state.values():
            s["mean"] += 0.2 * rng.standard_normal(s["mean"].shape)
            s["var"] *= np.exp(0.3 * rng.standard_normal(s["var"].shape))

    def loss():
        probs, _ = tm.detector_forward(X, params, state, training, np.random.default_rng(7), stride=2,
                                       dropout=0.3)
        return float(np.sum(probs * R))

    probs, cache = tm.detector_forward(X, params, state, training, np.random.default_rng(7), stride=2, dropout=0.3)
    assert probs.shape == R.shape
    grads = tm.detector_backward(R, cache)
    arrays, analytic = flat_arrays(params, grads, training)
    arrays["X"], analytic["X"] = X, grads["dX"]
    gradcheck.assert_gradients(loss, arrays, analytic, max_entries=12, rng=rng)


def test_loss_gradients_from_logits():
    """detector_loss_backward (binary cross-entropy per step, from the logits) against centred differences;
    the training path without dX gives the same weight gradients."""
    params, state, X, rng = small_setup(seed=3)
    T_y = tm.conv1d_output_length(X.shape[2], SMALL["kernel"], 2)
    Y = (rng.random((1, X.shape[1], T_y)) < 0.3).astype(np.float64)

    def loss():
        _, cache = tm.detector_forward(X, params, state, True, np.random.default_rng(4), stride=2, dropout=0.2)
        return tm.detector_loss_backward(Y, cache)[0]

    _, cache = tm.detector_forward(X, params, state, True, np.random.default_rng(4), stride=2, dropout=0.2)
    value, grads = tm.detector_loss_backward(Y, cache, need_dx=True)
    assert value == pytest.approx(loss(), rel=1e-12)
    arrays, analytic = flat_arrays(params, grads, True)
    gradcheck.assert_gradients(loss, arrays, analytic, max_entries=8, rng=rng)
    _, cache = tm.detector_forward(X, params, state, True, np.random.default_rng(4), stride=2, dropout=0.2)
    _, without_dx = tm.detector_loss_backward(Y, cache)
    assert "dX" not in without_dx
    np.testing.assert_allclose(without_dx["dconv"]["dW"], grads["dconv"]["dW"], rtol=1e-12, atol=1e-15)


def test_forward_shapes_dtype_and_inference_determinism():
    """Course shapes give (1, m, 1375) float32 probabilities; inference ignores rng and leaves the state alone."""
    rng = np.random.default_rng(0)
    params = tm.detector_params(rng)
    state = tm.detector_state(params)
    X = rng.standard_normal((101, 2, 5511)).astype(np.float32)
    before = {k: v["mean"].copy() for k, v in state.items()}
    p1, _ = tm.detector_forward(X, params, state, False, None)
    p2, _ = tm.detector_forward(X, params, state, False, np.random.default_rng(9))
    assert p1.shape == (1, 2, 1375) and p1.dtype == np.float32
    np.testing.assert_array_equal(p1, p2)
    for k, v in state.items():
        np.testing.assert_array_equal(v["mean"], before[k])
    assert np.all((p1 > 0) & (p1 < 1))
