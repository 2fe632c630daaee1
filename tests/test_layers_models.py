"""Layers composed into the course's models: gradient checks of whole models, overfitting, determinism.

- date translation: bidirectional LSTM -> attention step -> LSTM step -> dense -> softmax loss;
- trigger word: Conv1D -> batch norm -> GRU -> GRU -> dense -> sigmoid loss;
- a copy task for each recurrent cell.
Overfitting is asserted loosely (the loss falls below a fraction of its start), never as exact values.
"""
import numpy as np
import pytest

from utils import gradcheck, init, layers, losses, nmt, optim, recurrent


# --------------------------------------------------------------------------- date translation model

def date_params(n_x, n_a, n_s, n_e, n_y, rng):
    return {"pre": {"fwd": init.lstm_params(n_x, n_a, rng), "bwd": init.lstm_params(n_x, n_a, rng)},
            "att": init.attention_params(n_s, 2 * n_a, n_e, rng),
            "post": init.lstm_params(2 * n_a, n_s, rng),
            "out": init.dense_params(n_s, n_y, rng, names=("Wy", "by"))}


def date_loss(params, x, labels, T_y, backward=True):
    """x (n_x, m, T_x); labels (m, T_y) class ids. Returns loss and the mirrored gradient dict."""
    m, n_s = x.shape[1], params["post"]["Wf"].shape[0]
    a, c_pre = recurrent.bidirectional_forward(x, params["pre"], "lstm")            # (2 n_a, m, T_x)
    s, c = np.zeros((n_s, m)), np.zeros((n_s, m))
    steps, logits = [], []
    for _ in range(T_y):
        context, c_att = nmt.attention_step_forward(a, s, params["att"])
        s, c, c_post = recurrent.lstm_step_forward(context, s, c, params["post"])
        z, c_out = layers.dense_forward(s, params["out"]["Wy"], params["out"]["by"])
        steps.append((c_att, c_post, c_out))
        logits.append(z)
    loss, dlogits = losses.softmax_cross_entropy(np.stack(logits, axis=2), labels)
    if not backward:
        return loss, None
    da, ds, dc = np.zeros_like(a), np.zeros((n_s, m)), np.zeros((n_s, m))
    g_att = {k: 0.0 for k in ("dW1", "db1", "dW2", "db2")}
    g_post = {"d" + k: 0.0 for k in params["post"]}
    g_out = {"dWy": 0.0, "dby": 0.0}
    for t in reversed(range(T_y)):
        c_att, c_post, c_out = steps[t]
        gd = layers.dense_backward(dlogits[:, :, t], c_out)
        gp = recurrent.lstm_step_backward(ds + gd["dx"], dc, c_post)
        ga = nmt.attention_step_backward(gp["dxt"], c_att)
        ds, dc = gp["da_prev"] + ga["ds_prev"], gp["dc_prev"]
        da += ga["da"]
        g_out = {"dWy": g_out["dWy"] + gd["dW"], "dby": g_out["dby"] + gd["db"]}
        g_post = {k: g_post[k] + gp[k] for k in g_post}
        g_att = {k: g_att[k] + ga[k] for k in g_att}
    g_pre = recurrent.bidirectional_backward(da, c_pre)
    return loss, {"dpre": {"dfwd": g_pre["dfwd"], "dbwd": g_pre["dbwd"]}, "datt": g_att, "dpost": g_post,
                  "dout": g_out, "dx": g_pre["dx"]}


def _mirror(params):
    """A gradient-shaped dict (d + every key) of the parameters themselves, to walk them with optim.pairs."""
    return {"d" + k: _mirror(v) if isinstance(v, dict) else v for k, v in params.items()}


def _leaves(params, grads):
    """Flatten matching params / grads into two dicts keyed by path (for the gradient checker)."""
    arrays, analytic = {}, {}
    for path, p, g in optim.pairs(params, grads):
        arrays[path], analytic[path] = p, g
    return arrays, analytic


def test_date_model_gradcheck():
    """Bidirectional LSTM -> attention -> LSTM -> softmax loss: every parameter and x match centred differences."""
    rng = np.random.default_rng(0)
    params = date_params(n_x=3, n_a=3, n_s=4, n_e=5, n_y=3, rng=rng)
    for _, p, _ in optim.pairs(params, _mirror(params)):      # unit-scale weights: gradients well above
        p[...] = rng.standard_normal(p.shape)                  # the differences' noise (about 1e-11)
    params["att"]["b2"] += 3.0                                   # and the relu away from its kink
    x, labels = rng.standard_normal((3, 2, 4)), rng.integers(0, 3, (2, 2))
    loss, grads = date_loss(params, x, labels, T_y=2)
    arrays, analytic = _leaves(params, {k: v for k, v in grads.items() if k != "dx"})
    arrays["x"], analytic["x"] = x, grads["dx"]
    # with every score e > 0 the relu is the identity, and a softmax over time ignores a shift of all
    # scores: b2 has exactly zero gradient (its centred difference is pure rounding noise)
    assert np.max(np.abs(analytic.pop("att/b2"))) < 1e-12
    del arrays["att/b2"]
    gradcheck.assert_gradients(lambda: date_loss(params, x, labels, 2, backward=False)[0], arrays, analytic)


# --------------------------------------------------------------------------- trigger word model

def trigger_params(n_freq, n_f, k, n_a, rng):
    return {"conv": init.conv1d_params(n_freq, n_f, k, rng), "bn": init.batchnorm_params(n_f),
            "gru1": init.gru_params(n_f, n_a, rng), "gru2": init.gru_params(n_a, n_a, rng),
            "out": init.dense_params(n_a, 1, rng, names=("Wy", "by"))}


def trigger_loss(params, x, labels, stride, bn_state, backward=True):
    """x (n_freq, m, T_x); labels (1, m, T_out) in {0, 1}. Returns loss and the mirrored gradient dict."""
    z, c_conv = layers.conv1d_forward(x, params["conv"]["W"], params["conv"]["b"], stride)
    h, c_bn = layers.batchnorm_forward(z, params["bn"]["gamma"], params["bn"]["beta"], bn_state, training=True)
    a1, c_g1 = recurrent.gru_sequence_forward(h, params["gru1"])
    a2, c_g2 = recurrent.gru_sequence_forward(a1, params["gru2"])
    logits, c_out = layers.dense_forward(a2, params["out"]["Wy"], params["out"]["by"])
    loss, dlogits = losses.sigmoid_cross_entropy(logits, labels)
    if not backward:
        return loss, None
    g_out = layers.dense_backward(dlogits, c_out)
    g2 = recurrent.gru_sequence_backward(g_out["dx"], c_g2)
    g1 = recurrent.gru_sequence_backward(g2.pop("dx"), c_g1)
    g_bn = layers.batchnorm_backward(g1.pop("dx"), c_bn)
    g_conv = layers.conv1d_backward(g_bn["dx"], c_conv)
    for g in (g1, g2):
        g.pop("da0")
    return loss, {"dconv": {"dW": g_conv["dW"], "db": g_conv["db"]},
                  "dbn": {"dgamma": g_bn["dgamma"], "dbeta": g_bn["dbeta"]}, "dgru1": g1, "dgru2": g2,
                  "dout": {"dWy": g_out["dW"], "dby": g_out["db"]}, "dx": g_conv["dx"]}


def test_trigger_model_gradcheck():
    """Conv1D -> batch norm -> GRU -> GRU -> sigmoid loss: every parameter and x match centred differences."""
    rng = np.random.default_rng(1)
    params = trigger_params(n_freq=3, n_f=4, k=3, n_a=3, rng=rng)
    params["bn"]["gamma"] += 0.5 * rng.standard_normal((4, 1))
    x = rng.standard_normal((3, 2, 9))
    labels = (rng.random((1, 2, 4)) > 0.5).astype(float)
    state = layers.batchnorm_state(4)
    loss, grads = trigger_loss(params, x, labels, 2, state)
    arrays, analytic = _leaves(params, {k: v for k, v in grads.items() if k != "dx"})
    arrays["x"], analytic["x"] = x, grads["dx"]
    gradcheck.assert_gradients(lambda: trigger_loss(params, x, labels, 2, state, backward=False)[0],
                               arrays, analytic)


# --------------------------------------------------------------------------- overfitting small tasks

def copy_task(rng, m=16, T_x=6, V=4, delay=2):
    """One-hot inputs (V, m, T_x); target at step t is the input symbol at t - delay (class V before that)."""
    ids = rng.integers(0, V, (m, T_x))
    x = np.eye(V)[ids].transpose(2, 0, 1)
    target = np.full((m, T_x), V)
    target[:, delay:] = ids[:, :-delay]
    return x, target


def train_copy(kind, seed, steps=150):
    rng = np.random.default_rng(seed)
    x, target = copy_task(rng)
    params = {"cell": getattr(init, f"{kind}_params")(4, 16, rng), "out": init.dense_params(16, 5, rng)}
    forward, backward = recurrent.SEQUENCE[kind]
    opt = optim.Adam(lr=0.03, clip_norm=5.0)
    history = []
    for _ in range(steps):
        a, c_seq = forward(x, params["cell"])
        z, c_out = layers.dense_forward(a, params["out"]["W"], params["out"]["b"])
        loss, dz = losses.softmax_cross_entropy(z, target)
        g_out = layers.dense_backward(dz, c_out)
        g_cell = backward(g_out.pop("dx"), c_seq)
        g_cell.pop("dx"), g_cell.pop("da0"), g_cell.pop("dc0", None)
        opt.step(params, {"dcell": g_cell, "dout": g_out})
        history.append(loss)
    return history


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_each_cell_overfits_a_copy_task(kind):
    """A 16-unit cell learns to repeat its input two steps later: the loss ends far below its start."""
    history = train_copy(kind, seed=3)
    assert np.isclose(history[0], np.log(5), rtol=0.2)              # untrained: about log V per step
    assert history[-1] < 0.25 * history[0], f"{kind}: loss went from {history[0]:.3f} to {history[-1]:.3f}"


def test_attention_model_overfits_a_tiny_seq2seq_set():
    """The date-translation model memorises reversing 8 short sequences (loss falls below a third of its start)."""
    rng = np.random.default_rng(4)
    V, T_x, m = 5, 4, 8
    ids = rng.integers(0, V, (m, T_x))
    x, labels = np.eye(V)[ids].transpose(2, 0, 1), ids[:, ::-1]
    params = date_params(n_x=V, n_a=8, n_s=16, n_e=8, n_y=V, rng=rng)
    opt = optim.Adam(lr=0.02, clip_norm=5.0)
    history = []
    for _ in range(120):
        loss, grads = date_loss(params, x, labels, T_y=T_x)
        grads.pop("dx")
        opt.step(params, grads)
        history.append(loss)
    assert history[-1] < 0.33 * history[0], f"loss went from {history[0]:.3f} to {history[-1]:.3f}"


def test_trigger_model_overfits_and_runs_in_float32():
    """The trigger-word model fits 6 random label sequences in float32 (loss below half its start)."""
    rng = np.random.default_rng(5)
    params = trigger_params(n_freq=8, n_f=12, k=5, n_a=16, rng=rng)
    params = {k: {n: v.astype(np.float32) for n, v in p.items()} for k, p in params.items()}
    x = rng.standard_normal((8, 6, 41)).astype(np.float32)
    labels = (rng.random((1, 6, 10)) > 0.6).astype(np.float32)
    state = layers.batchnorm_state(12, np.float32)
    opt = optim.Adam(lr=0.02, clip_norm=5.0)
    history = []
    for _ in range(100):
        loss, grads = trigger_loss(params, x, labels, 4, state)
        assert grads["dconv"]["dW"].dtype == np.float32
        grads.pop("dx")
        opt.step(params, grads)
        history.append(loss)
    assert history[-1] < 0.5 * history[0], f"loss went from {history[0]:.3f} to {history[-1]:.3f}"


def test_training_is_deterministic():
    """The same seed gives bit-identical loss curves."""
    assert train_copy("lstm", seed=6, steps=20) == train_copy("lstm", seed=6, steps=20)
