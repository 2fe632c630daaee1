"""Initialisers, optimisers with clipping, and parameter files (utils/init.py, optim.py, io.py)."""
import numpy as np
import pytest

from utils import init, io, optim


def test_glorot_uniform_bounds_and_determinism():
    """Glorot weights lie in +-sqrt(6 / (fan_in + fan_out)), fill it, and depend only on the seed."""
    W = init.glorot_uniform((64, 90), np.random.default_rng(0))
    limit = np.sqrt(6 / (64 + 90))
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.95 * limit
    assert np.array_equal(W, init.glorot_uniform((64, 90), np.random.default_rng(0)))
    Wc = init.glorot_uniform((196, 101, 15), np.random.default_rng(0), np.float32)
    assert Wc.dtype == np.float32 and np.abs(Wc).max() <= np.sqrt(6 / (101 * 15 + 196 * 15))


@pytest.mark.parametrize("shape", [(8, 8), (12, 5), (5, 12)])
def test_orthogonal(shape):
    """Orthogonal weights have orthonormal columns (tall) or rows (wide)."""
    Q = init.orthogonal(shape, np.random.default_rng(1))
    small = min(shape)
    gram = Q.T @ Q if shape[0] >= shape[1] else Q @ Q.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_cell_initialisers_use_course_names_and_dtype():
    """Cell initialisers give the course's names and shapes, zero biases (forget bias 1), the asked dtype."""
    rng = np.random.default_rng(2)
    p = init.lstm_params(5, 3, rng, np.float32)
    assert sorted(p) == sorted(["Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo"])
    assert all(v.dtype == np.float32 for v in p.values()) and p["Wf"].shape == (3, 8)
    assert np.all(p["bf"] == 1) and np.all(p["bi"] == 0)
    assert sorted(init.gru_params(5, 3, rng)) == sorted(["Wu", "bu", "Wr", "br", "Wc", "bc"])
    assert sorted(init.rnn_params(5, 3, rng)) == ["Waa", "Wax", "ba"]
    assert sorted(init.dense_params(3, 7, rng, names=("Wy", "by"))) == ["Wy", "by"]


def test_sgd_step_and_clipping():
    """SGD moves against the gradient; clipping by value and by global norm behave as documented."""
    params = {"W": np.ones((2, 2)), "inner": {"b": np.zeros((2, 1))}}
    grads = {"dW": np.full((2, 2), 3.0), "dinner": {"db": np.array([[4.0], [0.0]])}}
    optim.SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["W"], 0.7)
    np.testing.assert_allclose(params["inner"]["b"], [[-0.4], [0.0]])
    clipped = optim.clip_by_value(grads, 1.0)
    assert clipped["dW"].max() == 1.0 and grads["dW"].max() == 3.0        # a copy, the input is untouched
    scaled, norm = optim.clip_by_global_norm(grads, 1.0)
    assert np.isclose(norm, np.sqrt(4 * 9 + 16)) and np.isclose(optim.global_norm(scaled), 1.0)
    same, _ = optim.clip_by_global_norm(grads, 100.0)
    np.testing.assert_array_equal(same["dW"], grads["dW"])


def test_adam_minimises_a_quadratic_and_keeps_dtype():
    """Adam drives an ill-conditioned float32 quadratic to its minimum; the first step is about lr per entry."""
    target = np.array([[3.0], [-2.0]], np.float32)
    scale = np.array([[100.0], [0.01]], np.float32)
    params = {"w": np.zeros((2, 1), np.float32)}
    opt = optim.Adam(lr=0.1)
    opt.step(params, {"dw": scale * (params["w"] - target)})
    np.testing.assert_allclose(np.abs(params["w"]), 0.1, rtol=1e-3)
    for _ in range(2000):
        opt.step(params, {"dw": scale * (params["w"] - target)})
    assert params["w"].dtype == np.float32
    np.testing.assert_allclose(params["w"], target, atol=0.05)


def test_missing_or_misshapen_gradient_is_named():
    """An optimiser step names the parameter whose gradient is missing or misshapen."""
    params = {"cell": {"Wf": np.zeros((2, 3))}}
    with pytest.raises(KeyError, match="dWf"):
        optim.Adam().step(params, {"dcell": {}})
    with pytest.raises(ValueError, match="cell/Wf"):
        optim.SGD().step(params, {"dcell": {"dWf": np.zeros((3, 2))}})


def test_npz_round_trip_nested(tmp_path):
    """save_params / load_params round-trip nested float32 and float64 parameters exactly."""
    rng = np.random.default_rng(3)
    params = {"pre": {"fwd": init.lstm_params(4, 3, rng, np.float32)}, "out": init.dense_params(3, 2, rng)}
    path = tmp_path / "w.npz"
    io.save_params(path, params)
    back = io.load_params(path, expected=params)
    assert io.flatten(back).keys() == io.flatten(params).keys()
    for k, v in io.flatten(params).items():
        got = io.flatten(back)[k]
        assert got.dtype == v.dtype and np.array_equal(got, v), k
    assert io.count_params(back) == io.lstm_param_count(4, 3) + io.dense_param_count(3, 2)


def test_npz_clear_errors(tmp_path):
    """A missing file, a missing key and a wrong shape each raise an error naming what is wrong."""
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        io.load_params(tmp_path / "nope.npz")
    path = tmp_path / "w.npz"
    io.save_params(path, {"cell": {"Wf": np.zeros((2, 3))}})
    with pytest.raises(KeyError, match="cell/Wo"):
        io.load_params(path, expected={"cell": {"Wf": (2, 3), "Wo": (2, 3)}})
    with pytest.raises(ValueError, match=r"cell/Wf.*\(2, 3\).*\(3, 3\)"):
        io.load_params(path, expected={"cell": {"Wf": np.zeros((3, 3))}})


def test_layer_parameter_counts():
    """Dense, Conv1D and batch-norm counts, checked on the trigger-word layer sizes."""
    assert io.conv1d_param_count(101, 196, 15) == 196 * (101 * 15 + 1) == 297136
    assert io.count_params(init.conv1d_params(101, 196, 15, np.random.default_rng(0))) == 297136
    assert io.dense_param_count(128, 1) == 129
    assert io.batchnorm_param_count(196) == io.count_params(init.batchnorm_params(196)) == 392
