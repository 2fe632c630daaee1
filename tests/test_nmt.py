"""The date-translation model (utils/nmt.py), its pretrained weights and the `python -m utils.dates` command."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils import dates, gradcheck, io, layers, nmt, optim

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(n_a=3, n_s=4, n_e=3, n_y=4)


def tiny_model(seed=0, n_h=5, m=2, T_x=6, T_y=3):
    rng = np.random.default_rng(seed)
    params = nmt.initialize(n_h, rng, **TINY)
    for k, v in params["attention"].items():                # non-zero biases, energies mostly above the relu kink
        if k.startswith("b"):
            v += rng.normal(0, 0.3, v.shape)
    params["attention"]["b2"][:] = 0.05
    X = rng.normal(size=(n_h, m, T_x))
    labels = rng.integers(0, TINY["n_y"], size=(m, T_y))
    return params, X, labels


def test_parameter_count():
    """52,960 parameters with the original's 37 input symbols; 43,488 + 256 n_h in general."""
    assert nmt.param_count(37) == 52_960
    rng = np.random.default_rng(0)
    assert io.count_params(nmt.initialize(37, rng)) == 52_960
    n_h = len(dates.load_vocab()[0])
    assert io.count_params(nmt.initialize(n_h, rng)) == nmt.param_count(n_h) == 43_488 + 256 * n_h


def check_model(params, X, loss):
    _, _, cache = nmt.forward(X, params, 3)
    energies = np.concatenate([step[0][5].ravel() for step in cache["steps"]])
    assert energies.min() < -1e-4 and energies.max() > 1e-4          # the relu is both open and closed ...
    assert np.abs(energies).min() > 1e-4                             # ... and no energy sits on its kink
    value, dlogits = loss(cache)
    grads = nmt.backward(dlogits, cache)
    arrays, analytic = {"X": X}, {"X": grads["dX"]}
    for path, p, g in optim.pairs(params, grads):
        arrays[path], analytic[path] = p, g
    errors = gradcheck.assert_gradients(lambda: loss(nmt.forward(X, params, 3)[2])[0], arrays, analytic)
    assert len(errors) == 31


@pytest.mark.parametrize("seed", [2, 4])
def test_whole_model_gradient_check(seed):
    """Every parameter and the input match centred differences (float64, h = 1e-5, relative error < 1e-7),
    for a random linear function of the logits (gradients of order 1; errors about 1e-9)."""
    params, X, _ = tiny_model(seed)
    w = np.random.default_rng(seed + 100).normal(size=(TINY["n_y"], 2, 3))
    check_model(params, X, lambda cache: (float(np.sum(w * cache["logits"])), w))


def test_whole_model_gradient_check_through_the_loss():
    """The same through the mean cross-entropy of utils.losses (smaller gradients: errors about 3e-8)."""
    params, X, labels = tiny_model(2)
    check_model(params, X, lambda cache: nmt.loss(cache, labels))


def test_attention_step_alone_gradient_check_and_library_agreement():
    """attention_forward without a precomputed projection: gradients match centred differences, and the
    context and weights equal utils.layers' attention step (and the precomputed-projection path)."""
    rng = np.random.default_rng(1)
    n_a2, n_s, n_e, m, T_x = 4, 3, 5, 2, 6
    p = {"W1": rng.normal(size=(n_e, n_s + n_a2)), "b1": rng.normal(size=(n_e, 1)),
         "W2": rng.normal(size=(1, n_e)), "b2": np.array([[0.8]])}
    a, s = rng.normal(size=(n_a2, m, T_x)), rng.normal(size=(n_s, m))
    w = rng.normal(size=(n_a2, m))
    context, alphas, cache = nmt.attention_forward(a, s, p)
    np.testing.assert_allclose(alphas.sum(axis=2), 1.0)
    ref, ref_cache = nmt.attention_step_forward(a, s, p)
    np.testing.assert_allclose(context, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(alphas, ref_cache["alphas"], rtol=1e-12, atol=1e-12)
    shared = nmt.attention_shared(a, p, n_s)
    np.testing.assert_allclose(nmt.attention_forward(a, s, p, shared)[0], context, rtol=1e-12)
    g = nmt.attention_backward(w, cache)
    loss = lambda: float(np.sum(w * nmt.attention_forward(a, s, p)[0]))   # noqa: E731
    gradcheck.assert_gradients(loss, {"a": a, "s": s, **p},
                               {"a": g["da"], "s": g["ds_prev"], **{k: g["d" + k] for k in p}})


def test_a_plugged_attention_step_gives_the_same_model():
    """forward/backward with another attention step (here utils.layers') give the same outputs and gradients."""
    params, X, labels = tiny_model(2)

    def step(a, s, p):
        context, cache = nmt.attention_step_forward(a, s, p)
        return context, cache["alphas"], cache

    Y1, al1, c1 = nmt.forward(X, params, 3)
    Y2, al2, c2 = nmt.forward(X, params, 3, attention_step=step)
    np.testing.assert_allclose(Y2, Y1, rtol=1e-12)
    np.testing.assert_allclose(al2, al1, rtol=1e-12)
    g1 = nmt.backward(nmt.loss(c1, labels)[1], c1)
    with pytest.raises(ValueError, match="attention_step_backward"):
        nmt.backward(nmt.loss(c2, labels)[1], c2)
    g2 = nmt.backward(nmt.loss(c2, labels)[1], c2, nmt.attention_step_backward)
    for (path, _, a), (_, _, b) in zip(optim.pairs(params, g1), optim.pairs(params, g2)):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-15, err_msg=path)
    np.testing.assert_allclose(g2["dX"], g1["dX"], rtol=1e-9, atol=1e-15)


def test_forward_shapes_and_probabilities():
    params, X, _ = tiny_model(m=3, T_x=7)
    Y_hat, alphas, cache = nmt.forward(X, params, T_y=5)
    assert Y_hat.shape == (TINY["n_y"], 3, 5) and alphas.shape == (7, 3, 5)
    np.testing.assert_allclose(Y_hat.sum(axis=0), 1.0)
    np.testing.assert_allclose(alphas.sum(axis=0), 1.0)
    assert cache["logits"].shape == Y_hat.shape
    with pytest.raises(ValueError, match="n_h = 5"):
        nmt.forward(X[:4], params)


def test_float32_stays_float32_and_is_deterministic():
    rng = np.random.default_rng(3)
    params = nmt.initialize(6, rng, dtype=np.float32, **TINY)
    X = nmt.one_hot(rng.integers(0, 6, size=(4, 8)), 6, np.float32)
    labels = rng.integers(0, TINY["n_y"], size=(4, 3))
    v1, g1 = nmt.loss_and_grads(X, labels, params)
    v2, g2 = nmt.loss_and_grads(X, labels, params)
    assert v1 == v2
    for _, p, g in optim.pairs(params, g1):
        assert g.dtype == np.float32
    assert nmt.forward(X, params, 3)[0].dtype == np.float32


def test_a_few_adam_steps_lower_the_loss():
    rng = np.random.default_rng(4)
    params = nmt.initialize(6, rng, **TINY)
    X = nmt.one_hot(rng.integers(0, 6, size=(8, 8)), 6)
    labels = rng.integers(0, TINY["n_y"], size=(8, 3))
    opt = optim.Adam(lr=0.02)
    first = nmt.loss_and_grads(X, labels, params)[0]
    for _ in range(30):
        value, grads = nmt.loss_and_grads(X, labels, params)
        grads.pop("dX")
        opt.step(params, grads)
    assert value < 0.7 * first


def test_encode_texts_lowercases_pads_cuts_and_maps_unknowns():
    vocab = {" ": 0, "1": 1, "a": 2, "<unk>": 3, "<pad>": 4}
    out = nmt.encode_texts(["A 1", "", "a?1é", "aaaaaaaa"], vocab, 5)
    assert out.tolist() == [[2, 0, 1, 4, 4], [4] * 5, [2, 3, 1, 3, 4], [2] * 5]
    oh = nmt.one_hot(out, 5)
    assert oh.shape == (5, 4, 5) and np.all(oh.sum(axis=0) == 1) and np.all(oh.argmax(axis=0) == out)
    assert nmt.decode([[1, 0, 2]], {0: " ", 1: "1", 2: "a"}) == ["1 a"]
    machine = {ch: i for i, ch in enumerate("-0123456789")}
    assert nmt.encode_texts(["2001-03-04"], machine, 10).tolist() == [[3, 1, 1, 2, 0, 1, 4, 0, 1, 5]]
    with pytest.raises(ValueError, match="<pad>"):
        nmt.encode_texts(["2001-03"], machine, 10)
    with pytest.raises(KeyError, match="<unk>"):
        nmt.encode_texts(["2001-03-0x"], machine, 10)


def test_match_rate():
    overall, per_position = nmt.match_rate(["2001-03-03", "2001-03-04"], ["2001-03-03", "2001-03-05"])
    assert overall == 0.5
    assert per_position.shape == (10,) and per_position[-1] == 0.5 and per_position[:9].min() == 1.0


@pytest.fixture(scope="module")
def pretrained():
    if not dates.WEIGHTS.is_file():
        pytest.skip("data/dates/weights.npz is not there yet (run python -m data.dates.train)")
    return dates.load_model()


def test_pretrained_weights_are_small_float32_of_the_right_shapes(pretrained):
    params, human, _ = pretrained
    template = nmt.initialize(len(human), np.random.default_rng(0))
    io.load_params(str(dates.WEIGHTS), expected=template)
    assert all(v.dtype == np.float32 for v in io.flatten(params).values())
    assert io.count_params(params) == nmt.param_count(len(human))
    assert dates.WEIGHTS.stat().st_size < 300_000


def test_pretrained_model_translates_the_held_out_dates(pretrained):
    """Exact match on the 1,000 held-out test dates is at least 99.5%."""
    params, human, inv_machine = pretrained
    test = dates.load_pairs("test")
    predicted = nmt.translate_texts([h for h, _, _ in test], params, human, inv_machine)
    overall, per_position = nmt.match_rate(predicted, [iso for _, iso, _ in test])
    assert overall >= 0.995, f"exact match {overall:.4f}"
    assert per_position.min() >= 0.995


def run_cli(*args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "utils.dates", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def test_command_line_translates_in_order(pretrained):
    res = run_cli("3rd of March 2001", "tue 12 jun 2001", "Saturday 12 May 2018", "12/9/87")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["2001-03-03", "2001-06-12", "2018-05-12", "1987-12-09"]


def test_command_line_bad_input_gets_an_answer_not_a_traceback(pretrained):
    """Empty, 200-character and non-Latin inputs: one line each, a date and a note, exit code 0."""
    res = run_cli("", "x" * 200, "二〇〇一年三月三日", "3 мая 2001")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 4
    assert all(re.match(r"\d{4}-\d\d-\d\d", line) for line in lines)
    assert "empty" in lines[0] and "first 30 of 200" in lines[1]
    assert all(line.count("(") == 1 for line in lines)                 # every line carries a note
    assert "<unk>" in lines[2] and "U+4E8C" in lines[2] and "<unk>" in lines[3]


def test_command_line_without_arguments_prints_usage():
    res = run_cli()
    assert res.returncode == 2 and "usage" in res.stdout and "Traceback" not in res.stderr
