"""utils/seq2seq.py: the parts of the date model that date_translation ships (its backward pass given an attention
step's backward, sizes, initialisation, heat maps), checked against the answer key utils/nmt.py."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils import dates, gradcheck, io, losses, nmt, optim, seq2seq
from utils.activations import softmax
from utils.recurrent import bidirectional_forward, lstm_step_forward

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(n_a=3, n_s=4, n_e=3, n_y=4)


def attention_step(a, s, p):
    """An attention step whose cache is the six library caches (as the assignment's one_step_attention)."""
    context, cache = nmt.attention_step_forward(a, s, p)
    return context, cache["alphas"], cache["parts"]


def attention_step_backward(dcontext, parts):
    return nmt.attention_step_backward(dcontext, {"parts": parts})


def forward(X, params, T_y):
    """The forward pass in the cache layout seq2seq.backward reads (what the assignment's model_forward returns)."""
    a, pre = bidirectional_forward(X, params["pre"], "lstm")
    n_s, m = params["post"]["Wf"].shape[0], X.shape[1]
    s, c = np.zeros((n_s, m)), np.zeros((n_s, m))
    S, logits, attention, lstm = [], [], [], []
    for _ in range(T_y):
        context, _, att_cache = attention_step(a, s, params["attention"])
        s, c, lstm_cache = lstm_step_forward(context, s, c, params["post"])
        S.append(s)
        logits.append(params["output"]["Wy"] @ s + params["output"]["by"])
        attention.append(att_cache)
        lstm.append(lstm_cache)
    logits = np.stack(logits, axis=2)
    return softmax(logits, axis=0), {"a": a, "pre": pre, "attention": attention, "lstm": lstm,
                                     "s": np.stack(S, axis=2), "logits": logits}


def tiny(seed, n_h=5, m=2, T_x=6):
    rng = np.random.default_rng(seed)
    params = seq2seq.initialize(n_h, rng, **TINY)
    params["attention"]["b1"] += rng.normal(0, 0.3, params["attention"]["b1"].shape)
    params["attention"]["b2"][:] = 0.05
    X = np.eye(n_h)[rng.integers(0, n_h, size=(m, T_x))].transpose(2, 0, 1)
    return params, X, rng.integers(0, TINY["n_y"], size=(m, 3))


@pytest.mark.parametrize("seed", [2, 4])
def test_backward_matches_centred_differences_and_the_answer_key(seed):
    """Every parameter and the input match centred differences (float64, h = 1e-5, relative error < 1e-7) for a
    random linear function of the logits (gradients of order 1); the same gradients as nmt.backward."""
    params, X, _ = tiny(seed)
    Y_hat, cache = forward(X, params, 3)
    np.testing.assert_allclose(Y_hat, nmt.forward(X, params, 3)[0], rtol=1e-12)
    w = np.random.default_rng(seed + 100).normal(size=cache["logits"].shape)
    grads = seq2seq.backward(w, cache, params, attention_step_backward)
    arrays, analytic = {"X": X}, {"X": grads["dX"]}
    for path, p, g in optim.pairs(params, grads):
        arrays[path], analytic[path] = p, g
    gradcheck.assert_gradients(lambda: float(np.sum(w * forward(X, params, 3)[1]["logits"])), arrays, analytic)
    _, _, key_cache = nmt.forward(X, params, 3)
    key = nmt.backward(w, key_cache)
    for (path, _, a), (_, _, b) in zip(optim.pairs(params, grads), optim.pairs(params, key)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14, err_msg=path)


def test_backward_says_what_the_cache_lacks():
    params, X, labels = tiny(1)
    _, cache = forward(X, params, 3)
    dlogits = losses.softmax_cross_entropy(cache["logits"], labels)[1]
    with pytest.raises(KeyError, match="'lstm'"):
        seq2seq.backward(dlogits, {k: v for k, v in cache.items() if k != "lstm"}, params, attention_step_backward)
    with pytest.raises(ValueError, match="3 attention and 3 LSTM caches"):
        seq2seq.backward(dlogits, dict(cache, lstm=cache["lstm"][:2]), params, attention_step_backward)


def test_sizes_count_and_the_pretrained_weights():
    """53,472 parameters at the data's 39 symbols (52,960 at the original's 37); the weights load without nmt."""
    assert seq2seq.param_count(37) == 52_960 and seq2seq.param_count(39) == 53_472
    params, human, inv = dates.load_model()
    assert len(human) == 39 and len(inv) == 11
    assert io.count_params(params) == 53_472
    assert seq2seq.sizes(params) == {"n_h": 39, "n_a": 32, "n_s": 64, "n_e": 10, "n_y": 11}


def test_attention_figure_labels_the_characters():
    rng = np.random.default_rng(0)
    alphas = softmax(rng.normal(size=(30, 10)), axis=0)
    fig = seq2seq.attention_figure([(alphas, "3rd of March 2001", "2001-03-03")] * 3)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:4] == ["3", "r", "d", "␣"] and labels[-1] == "·" and len(labels) == 17 + 3
    assert [t.get_text() for t in ax.get_yticklabels()] == list("2001-03-03")
    assert not fig.axes[3].axison                                     # the unused fourth panel is blank


def test_release_command_line_explains_that_the_model_is_not_shipped():
    """In the release of date_translation (no utils/nmt.py), `python -m utils.dates` says so, without a traceback."""
    proc = subprocess.run([sys.executable, "-m", "utils.dates", "3rd of March 2001"], capture_output=True, text=True,
                          cwd=ROOT / "release" / "date_translation", timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot load the pretrained date model" in proc.stderr
