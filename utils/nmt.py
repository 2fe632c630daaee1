"""The date-translation model: character-level translation with attention ("3rd of March 2001" -> 2001-03-03).

This is the answer key of assignment 4 (date_translation): no release of that assignment ships this module.
Its functions therefore carry their own names (``encode_texts``, ``attention_forward``, ``attention_step_forward``,
``forward``, ``translate_texts``, ``match_rate``), none of them the name of a graded function. The parts the
assignment provides (sizes, layout, count, initialisation, and the backward pass given an attention step's
backward) are in utils/seq2seq.py, which it ships; they are imported here under the same names as before.

The model (the sizes of the original course; 52,960 parameters when the human vocabulary has 37 symbols)::

    X (n_h, m, T_x) one-hot characters
      -> bidirectional LSTM, n_a = 32 each way          a (2 n_a, m, T_x)
      -> for t = 1 .. T_y:
           attention step: e = relu(W2 tanh(W1 [repeat(s_prev); a] + b1) + b2)   (1, m, T_x)
                           alphas = softmax of e over time, context = sum_t alphas a   (2 n_a, m)
           post-attention LSTM step (n_s = 64), input the context: s, c = lstm(context, s, c)
           logits_t = Wy s + by (n_y, m), Y_hat_t = softmax(logits_t)
    s and c start at zero; the decoder never sees its previous output, so the greedy argmax at every step
    is the most probable output string.

Parameters (nested dict; gradients mirror it with "d" before every key, as utils.optim expects)::

    {"pre": {"fwd": LSTM cell, "bwd": LSTM cell},     Wf, Wi, Wc, Wo (n_a, n_a + n_h), bf, bi, bc, bo (n_a, 1)
     "attention": {"W1" (n_e, n_s + 2 n_a), "b1" (n_e, 1), "W2" (1, n_e), "b2" (1, 1)},
     "post": LSTM cell,                               Wf, ... (n_s, n_s + 2 n_a), bf, ... (n_s, 1)
     "output": {"Wy" (n_y, n_s), "by" (n_y, 1)}}

W1's first n_s columns act on s_prev, the other 2 n_a on a (the order [repeat(s_prev); a] of the concatenation).
The model's forward computes W1's a-part once for all T_y steps (it does not depend on t); the result is the
same as concatenating at every step.
"""
import numpy as np

from utils import layers, losses
from utils.activations import softmax
from utils.recurrent import bidirectional_backward, bidirectional_forward, lstm_step_backward, lstm_step_forward
# the model's sizes, layout, count and initialisation live in utils.seq2seq (shipped with the assignment)
from utils.seq2seq import N_A, N_E, N_S, N_Y, T_X, T_Y, cast, initialize, param_count, sizes  # noqa: F401

PAD, UNK = "<pad>", "<unk>"


# --------------------------------------------------------------------------- text <-> arrays

def encode_texts(texts, vocab, length):
    """Character indices of strings: lower-cased, cut to ``length``, padded with vocab["<pad>"] at the end;
    characters outside the vocabulary become vocab["<unk>"]. A vocabulary without "<pad>" or "<unk>" (the
    machine one) raises ValueError for a short string and KeyError for an unknown character.

    texts: list of str (m of them); vocab: dict character -> index. Returns int array (m, length).
    """
    if isinstance(texts, str):
        texts = [texts]
    pad, unk = vocab.get(PAD), vocab.get(UNK)
    out = np.full((len(texts), length), -1 if pad is None else pad, dtype=np.int64)
    for i, text in enumerate(texts):
        text = str(text).lower()
        if pad is None and len(text) < length:
            raise ValueError(f"{text!r} is shorter than {length} and the vocabulary has no '{PAD}'")
        for t, ch in enumerate(text[:length]):
            idx = vocab.get(ch, unk)
            if idx is None:
                raise KeyError(f"character {ch!r} of {text!r} is not in the vocabulary, which has no '{UNK}'")
            out[i, t] = idx
    return out


def one_hot(indices, n, dtype=np.float64):
    """indices int (m, T) with values in [0, n) -> one-hot (n, m, T) in the course layout."""
    indices = np.asarray(indices)
    out = np.zeros((n,) + indices.shape, dtype=dtype)
    np.put_along_axis(out, indices[None], 1, axis=0)
    return out


def decode(indices, inv_vocab):
    """int (m, T) -> list of m strings, inv_vocab: dict index -> character."""
    return ["".join(inv_vocab[int(i)] for i in row) for row in np.asarray(indices)]


# --------------------------------------------------------------------------- attention step

def attention_shared(a, params, n_s):
    """What every attention step over the same states a can share: proj (n_e, m, T_x), W1's a-columns applied
    to a (the part of W1 [repeat(s_prev); a] that does not change with s_prev), and a_mT (m, n_a2, T_x), a
    contiguous copy of a with the examples first (for the batched matmuls of the weighted sum).
    a (n_a2, m, T_x); params as in ``attention_forward``; n_s: size of s_prev."""
    W1 = params["W1"]
    n_a2, m, T_x = a.shape
    proj = (W1[:, n_s:] @ a.reshape(n_a2, m * T_x)).reshape(W1.shape[0], m, T_x)
    return {"proj": proj, "a_mT": np.ascontiguousarray(a.transpose(1, 0, 2))}


def attention_forward(a, s_prev, params, shared=None):
    """One attention step: e = relu(W2 tanh(W1 [repeat(s_prev); a] + b1) + b2), alphas = softmax over time,
    context = sum over time of alphas a.

    a (n_a2, m, T_x) pre-attention states; s_prev (n_s, m); params W1 (n_e, n_s + n_a2), b1 (n_e, 1),
    W2 (1, n_e), b2 (1, 1). shared: optional ``attention_shared(a, params, n_s)``, computed once by a caller
    that runs several steps over the same a (the results are the same).
    Returns context (n_a2, m), alphas (1, m, T_x) (summing to 1 over T_x) and cache.
    """
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    a, s_prev = np.asarray(a), np.asarray(s_prev)
    if a.ndim != 3 or s_prev.ndim != 2 or s_prev.shape[1] != a.shape[1]:
        raise ValueError(f"attention_forward: a should be (n_a, m, T_x) and s_prev (n_s, m), got a {a.shape}, "
                         f"s_prev {s_prev.shape}")
    n_a2, m, T_x = a.shape
    n_s, n_e = s_prev.shape[0], W1.shape[0]
    if W1.shape != (n_e, n_s + n_a2):
        raise ValueError(f"attention_forward: W1 should be (n_e, n_s + n_a) = (n_e, {n_s} + {n_a2}), got {W1.shape}")
    given = shared is not None
    if not given:
        shared = attention_shared(a, params, n_s)
    h = np.tanh(shared["proj"] + (W1[:, :n_s] @ s_prev + b1)[:, :, None])       # (n_e, m, T_x)
    e = (W2 @ h.reshape(n_e, m * T_x)).reshape(1, m, T_x) + b2.reshape(1, 1, 1)   # (1, m, T_x)
    alphas = softmax(np.maximum(e, 0), axis=2)
    context = np.matmul(shared["a_mT"], alphas.reshape(m, T_x, 1)).reshape(m, n_a2).T   # (n_a2, m)
    return context, alphas, (a, s_prev, params, shared, h, e, alphas, given)


def _attention_backward_inner(dcontext, cache):
    """Every gradient of an attention step except the ones w.r.t. a: ds_prev, dW1 (its s_prev-columns only),
    db1, dW2, db2, and dproj (n_e, m, T_x), the gradient w.r.t. shared["proj"]."""
    a, s_prev, params, shared, h, e, alphas, _ = cache
    W1, W2 = params["W1"], params["W2"]
    n_a2, m, T_x = a.shape
    n_s, n_e = s_prev.shape[0], W1.shape[0]
    dalphas = np.matmul(dcontext.T.reshape(m, 1, n_a2), shared["a_mT"]).reshape(1, m, T_x)
    de = alphas * (dalphas - np.sum(dalphas * alphas, axis=2, keepdims=True))    # softmax over time
    de *= e > 0                                                                   # relu
    de2 = de.reshape(1, m * T_x)
    h2 = h.reshape(n_e, m * T_x)
    dz = (W2.T @ de2) * (1 - h2 * h2)                                             # (n_e, m T_x), tanh
    dz_s = dz.reshape(n_e, m, T_x).sum(axis=2)                                    # (n_e, m): repeat
    dW1 = np.zeros_like(W1)
    dW1[:, :n_s] = dz_s @ s_prev.T
    return {"ds_prev": W1[:, :n_s].T @ dz_s, "dW1": dW1, "db1": dz.sum(axis=1, keepdims=True),
            "dW2": de2 @ h2.T, "db2": de2.sum(axis=1, keepdims=True), "dproj": dz.reshape(n_e, m, T_x)}


def attention_backward(dcontext, cache):
    """Backward of ``attention_forward``. dcontext (n_a2, m).

    Returns dict da (n_a2, m, T_x), ds_prev (n_s, m), dW1 (n_e, n_s + n_a2), db1 (n_e, 1), dW2 (1, n_e),
    db2 (1, 1).
    """
    a, s_prev, params, _, _, _, alphas, _ = cache
    n_a2, m, T_x = a.shape
    n_s = s_prev.shape[0]
    grads = _attention_backward_inner(dcontext, cache)
    dz = grads.pop("dproj").reshape(-1, m * T_x)
    grads["dW1"][:, n_s:] = dz @ a.reshape(n_a2, m * T_x).T
    grads["da"] = alphas * dcontext[:, :, None] + (params["W1"][:, n_s:].T @ dz).reshape(n_a2, m, T_x)
    return grads


def attention_step_forward(a, s_prev, params):
    """The same attention step as ``attention_forward``, composed of utils.layers' pieces (repeat, concat,
    two dense layers, softmax over time, weighted sum); the tests check the two against each other:
    e = relu(W2 tanh(W1 [repeat(s_prev); a] + b1) + b2), alphas = softmax over time of e,
    context = sum_t alphas a.

    a (n_a, m, T_x) pre-attention states (2 n_a of a bidirectional LSTM, say); s_prev (n_s, m);
    params W1 (n_e, n_s + n_a), b1 (n_e, 1), W2 (1, n_e), b2 (1, 1).
    Returns context (n_a, m) and cache (cache["alphas"] (1, m, T_x) holds the attention weights).
    """
    a = np.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"attention_step_forward: a should have shape (n_a, m, T_x), got shape {a.shape}")
    rep, c_rep = layers.repeat_forward(s_prev, a.shape[2])
    cat, c_cat = layers.concat_forward([rep, a])
    h, c_h = layers.dense_forward(cat, params["W1"], params["b1"], "tanh")
    e, c_e = layers.dense_forward(h, params["W2"], params["b2"], "relu")
    alphas, c_sm = layers.softmax_time_forward(e)
    context, c_ws = layers.weighted_sum_forward(alphas, a)
    return context, {"alphas": alphas, "parts": (c_rep, c_cat, c_h, c_e, c_sm, c_ws)}


def attention_step_backward(dcontext, cache):
    """Backward of ``attention_step_forward``. dcontext (n_a, m).

    Returns dict da (n_a, m, T_x), ds_prev (n_s, m), dW1, db1, dW2, db2.
    """
    c_rep, c_cat, c_h, c_e, c_sm, c_ws = cache["parts"]
    g_ws = layers.weighted_sum_backward(dcontext, c_ws)
    g_e = layers.dense_backward(layers.softmax_time_backward(g_ws["dalphas"], c_sm)["de"], c_e)
    g_h = layers.dense_backward(g_e["dx"], c_h)
    drep, da = layers.concat_backward(g_h["dx"], c_cat)["dxs"]
    return {"da": da + g_ws["da"], "ds_prev": layers.repeat_backward(drep, c_rep)["ds"],
            "dW1": g_h["dW"], "db1": g_h["db"], "dW2": g_e["dW"], "db2": g_e["db"]}


# --------------------------------------------------------------------------- the whole model

def forward(X, params, T_y=T_Y, attention_step=None):
    """The model's forward pass.

    X (n_h, m, T_x) one-hot characters (any float array of that shape); params as in the module docstring.
    attention_step: optional function (a, s_prev, attention params) -> (context (n_a2, m), alphas with m T_x
    entries, cache) to use instead of this module's (for instance a student's); ``backward`` then needs its
    backward too.
    Returns Y_hat (n_y, m, T_y) probabilities, alphas (T_x, m, T_y) attention weights (column t: the weights
    the output step t gave to each input character) and cache (cache["logits"] (n_y, m, T_y)).
    """
    X = np.asarray(X)
    n_h = sizes(params)["n_h"]
    if X.ndim != 3 or X.shape[0] != n_h:
        raise ValueError(f"forward: X should be one-hot of shape (n_h, m, T_x) with n_h = {n_h}, got {X.shape}")
    att, post, out = params["attention"], params["post"], params["output"]
    a, pre_cache = bidirectional_forward(X, params["pre"], "lstm")                # (2 n_a, m, T_x)
    n_a2, m, T_x = a.shape
    n_s = post["Wf"].shape[0]
    shared = attention_shared(a, att, n_s) if attention_step is None else None
    s = np.zeros((n_s, m), dtype=a.dtype)
    c = np.zeros_like(s)
    logits = np.empty((out["Wy"].shape[0], m, T_y), dtype=a.dtype)
    alphas = np.empty((T_x, m, T_y), dtype=a.dtype)
    steps = []
    for t in range(T_y):
        if attention_step is None:
            context, alpha, att_cache = attention_forward(a, s, att, shared)
        else:
            context, alpha, att_cache = attention_step(a, s, att)
        s, c, lstm_cache = lstm_step_forward(context, s, c, post)
        logits[:, :, t] = out["Wy"] @ s + out["by"]
        alphas[:, :, t] = np.reshape(alpha, (m, T_x)).T
        steps.append((att_cache, lstm_cache, s))
    Y_hat = softmax(logits, axis=0)
    return Y_hat, alphas, {"logits": logits, "alphas": alphas, "a": a, "pre": pre_cache, "steps": steps,
                           "params": params, "shared": shared}


def backward(dlogits, cache, attention_step_backward=None):
    """Backward of ``forward``. dlogits (n_y, m, T_y): gradient of the loss w.r.t. cache["logits"] (what
    utils.losses.softmax_cross_entropy returns). attention_step_backward: (dcontext, its step's cache) ->
    dict da, ds_prev, dW1, db1, dW2, db2; needed when ``forward`` ran with an attention_step of its own.

    Returns gradients mirroring the parameters: {"dpre": {"dfwd": ..., "dbwd": ...}, "dattention": {...},
    "dpost": {...}, "doutput": {"dWy", "dby"}}, plus "dX" (n_h, m, T_x).
    """
    params, a, steps = cache["params"], cache["a"], cache["steps"]
    att, post, out = params["attention"], params["post"], params["output"]
    fast = cache["shared"] is not None
    if not fast and attention_step_backward is None:
        raise ValueError("backward: forward ran with its own attention_step; pass its attention_step_backward")
    n_a2, m, T_x = a.shape
    n_s, T_y = post["Wf"].shape[0], len(steps)
    dt = a.dtype
    g_att = {"d" + k: np.zeros_like(v) for k, v in att.items()}
    g_post = {"d" + k: np.zeros_like(v) for k, v in post.items()}
    dWy, dby = np.zeros_like(out["Wy"]), np.zeros_like(out["by"])
    da = np.zeros_like(a)
    dproj = np.zeros_like(cache["shared"]["proj"]) if fast else None
    dcontexts = np.empty((m, n_a2, T_y), dtype=dt)
    ds = np.zeros((n_s, m), dtype=dt)
    dc = np.zeros((n_s, m), dtype=dt)
    for t in reversed(range(T_y)):
        att_cache, lstm_cache, s = steps[t]
        dlog = dlogits[:, :, t]
        dWy += dlog @ s.T
        dby += dlog.sum(axis=1, keepdims=True)
        ds = ds + out["Wy"].T @ dlog
        g = lstm_step_backward(ds, dc, lstm_cache)
        for k in g_post:
            g_post[k] += g[k]
        if fast:
            ga = _attention_backward_inner(g["dxt"], att_cache)
            dproj += ga["dproj"]
            dcontexts[:, :, t] = g["dxt"].T
        else:
            ga = attention_step_backward(g["dxt"], att_cache)
            da += ga["da"]
        for k in g_att:
            g_att[k] += ga[k]
        ds, dc = g["da_prev"] + ga["ds_prev"], g["dc_prev"]
    if fast:
        # W1's a-columns, applied once to the sum over steps; the weighted sums' da = sum_t alphas_t dcontext_t
        dp2 = dproj.reshape(-1, m * T_x)
        g_att["dW1"][:, n_s:] += dp2 @ a.reshape(n_a2, m * T_x).T
        da += (att["W1"][:, n_s:].T @ dp2).reshape(n_a2, m, T_x)
        alphas_m = np.ascontiguousarray(cache["alphas"].transpose(1, 2, 0))      # (m, T_y, T_x)
        da += np.matmul(dcontexts, alphas_m).transpose(1, 0, 2)                  # (n_a2, m, T_x)
    g_pre = bidirectional_backward(da, cache["pre"])
    return {"dpre": {"dfwd": g_pre["dfwd"], "dbwd": g_pre["dbwd"]}, "dattention": g_att, "dpost": g_post,
            "doutput": {"dWy": dWy, "dby": dby}, "dX": g_pre["dx"]}


def loss(cache, labels):
    """Mean softmax cross-entropy over every output position (example and step).

    cache from ``forward``; labels int (m, T_y) class ids, or one-hot (n_y, m, T_y).
    Returns loss (float) and dlogits (n_y, m, T_y), the input of ``backward``.
    """
    return losses.softmax_cross_entropy(cache["logits"], labels)


def loss_and_grads(X, labels, params, T_y=None):
    """Forward, loss and backward in one call. X (n_h, m, T_x); labels int (m, T_y).
    Returns loss (float) and gradients (as ``backward``)."""
    labels = np.asarray(labels)
    _, _, cache = forward(X, params, labels.shape[-1] if T_y is None else T_y)
    value, dlogits = loss(cache, labels)
    return value, backward(dlogits, cache)


# --------------------------------------------------------------------------- using a trained model

def predict(X, params, T_y=T_Y, batch=1000):
    """Greedy predictions: the argmax class at every output step. X (n_h, m, T_x) -> int (m, T_y)."""
    m = X.shape[1]
    out = np.empty((m, T_y), dtype=np.int64)
    for i in range(0, m, batch):
        Y_hat, _, _ = forward(X[:, i:i + batch], params, T_y)
        out[i:i + batch] = Y_hat.argmax(axis=0)
    return out


def translate_texts(texts, params, human_vocab, inv_machine_vocab, T_x=T_X, T_y=T_Y):
    """Raw strings -> list of predicted machine strings (e.g. '2001-03-03'), one per text, in order.

    texts: list of str; human_vocab: dict character -> index; inv_machine_vocab: dict index -> character.
    """
    if isinstance(texts, str):
        texts = [texts]
    n_h = sizes(params)["n_h"]
    if len(human_vocab) != n_h:
        raise ValueError(f"translate_texts: the vocabulary has {len(human_vocab)} symbols, the parameters "
                         f"expect n_h = {n_h}")
    dtype = params["output"]["Wy"].dtype
    X = one_hot(encode_texts(list(texts), human_vocab, T_x), n_h, dtype)
    return decode(predict(X, params, T_y), inv_machine_vocab)


def match_rate(predictions, targets):
    """Share of whole strings predicted exactly, and share correct at each character position.

    predictions, targets: lists of equal-length strings (m of them, T_y characters).
    Returns (overall float, per_position float array (T_y,)).
    """
    if len(predictions) != len(targets):
        raise ValueError(f"match_rate: {len(predictions)} predictions for {len(targets)} targets")
    if not targets:
        return 0.0, np.zeros(0)
    T = max(len(t) for t in targets)
    p = np.array([list(s.ljust(T)[:T]) for s in predictions])
    q = np.array([list(s.ljust(T)[:T]) for s in targets])
    return float(np.mean(np.all(p == q, axis=1))), np.mean(p == q, axis=0)
