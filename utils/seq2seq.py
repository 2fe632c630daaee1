"""The provided parts of the date-translation model (assignment 4, date_translation).

The attention step, its backward and the model's forward pass are exercises of that assignment, so this
module has none of them (utils/nmt.py, the answer key, has them and is never shipped with it). It has what the
assignment gives: the sizes, the parameter layout and count, the initialisation, the backward pass of the
whole model given the backward of its attention step, and the attention heat map.

The model (the original course's sizes)::

    X (n_h, m, T_x) one-hot characters
      -> bidirectional LSTM, n_a = 32 each way            a (2 n_a, m, T_x)
      -> for t = 1 .. T_y: attention step on (a, s_prev)   context (2 n_a, m), alphas (1, m, T_x)
                           post-attention LSTM step, n_s = 64, input the context: s, c = lstm(context, s, c)
                           logits[:, :, t] = Wy s + by (n_y, m)
      -> Y_hat = softmax of the logits over the n_y classes

Parameters: a nested dict; gradients mirror it with "d" before every key, as utils.optim expects::

    {"pre": {"fwd": LSTM cell, "bwd": LSTM cell},   Wf, Wi, Wc, Wo (n_a, n_a + n_h), bf, bi, bc, bo (n_a, 1)
     "attention": {"W1" (n_e, n_s + 2 n_a), "b1" (n_e, 1), "W2" (1, n_e), "b2" (1, 1)},
     "post": LSTM cell,                             Wf, ... (n_s, n_s + 2 n_a), bf, ... (n_s, 1)
     "output": {"Wy" (n_y, n_s), "by" (n_y, 1)}}

W1's first n_s columns act on s_prev, the other 2 n_a on a: the order [repeat(s_prev); a].

The cache ``backward`` reads (what the assignment's model_forward returns)::

    {"a": (2 n_a, m, T_x) pre-attention states,  "pre": the cache of recurrent.bidirectional_forward,
     "attention": list of T_y attention-step caches,  "lstm": list of T_y caches of recurrent.lstm_step_forward,
     "s": (n_s, m, T_y) post-attention states,  "logits": (n_y, m, T_y)}
"""
import numpy as np

from utils import init
from utils.io import dense_param_count, lstm_param_count
from utils.recurrent import bidirectional_backward, lstm_step_backward

T_X, T_Y = 30, 10
N_A, N_S, N_E, N_Y = 32, 64, 10, 11


def param_count(n_h, n_a=N_A, n_s=N_S, n_e=N_E, n_y=N_Y):
    """Number of parameters: 2 LSTM(n_h -> n_a) + Dense(n_s + 2 n_a -> n_e) + Dense(n_e -> 1)
    + LSTM(2 n_a -> n_s) + Dense(n_s -> n_y). With the default sizes, 43,488 + 256 n_h (52,960 at n_h = 37)."""
    return (2 * lstm_param_count(n_h, n_a) + dense_param_count(n_s + 2 * n_a, n_e) + dense_param_count(n_e, 1)
            + lstm_param_count(2 * n_a, n_s) + dense_param_count(n_s, n_y))


def initialize(n_h, rng, n_a=N_A, n_s=N_S, n_e=N_E, n_y=N_Y, dtype=np.float64):
    """Fresh parameters (module docstring for the layout). n_h: human vocabulary size; rng: numpy Generator.
    LSTM weights: orthogonal recurrent part, Glorot input part, forget bias 1; dense weights Glorot, biases 0."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"initialize: rng should be a numpy.random.Generator, got {type(rng).__name__}")
    return {"pre": {"fwd": init.lstm_params(n_h, n_a, rng, dtype), "bwd": init.lstm_params(n_h, n_a, rng, dtype)},
            "attention": init.attention_params(n_s, 2 * n_a, n_e, rng, dtype),
            "post": init.lstm_params(2 * n_a, n_s, rng, dtype),
            "output": init.dense_params(n_s, n_y, rng, dtype, ("Wy", "by"))}


def sizes(params):
    """dict n_h, n_a, n_s, n_e, n_y read from the parameter shapes."""
    n_a, n_ah = params["pre"]["fwd"]["Wf"].shape
    return {"n_h": n_ah - n_a, "n_a": n_a, "n_s": params["post"]["Wf"].shape[0],
            "n_e": params["attention"]["W1"].shape[0], "n_y": params["output"]["Wy"].shape[0]}


def cast(params, dtype):
    """A copy of a (nested) parameter dict with every array converted to dtype."""
    return {k: cast(v, dtype) if isinstance(v, dict) else np.asarray(v, dtype=dtype).copy() for k, v in params.items()}


CACHE_KEYS = ("a", "pre", "attention", "lstm", "s", "logits")


def backward(dlogits, cache, params, attention_backward):
    """Backward pass of the whole model.

    dlogits (n_y, m, T_y): gradient of the loss w.r.t. the logits (what utils.losses.softmax_cross_entropy
    returns); cache: the model's forward cache (module docstring); params: the parameters the forward used;
    attention_backward: f(dcontext (2 n_a, m), one attention-step cache) -> dict with da (2 n_a, m, T_x),
    ds_prev (n_s, m), dW1, db1, dW2, db2.
    Returns gradients mirroring the parameters ({"dpre": {"dfwd", "dbwd"}, "dattention", "dpost", "doutput"})
    plus "dX" (n_h, m, T_x).
    """
    if not isinstance(cache, dict) or any(k not in cache for k in CACHE_KEYS):
        got = sorted(cache) if isinstance(cache, dict) else type(cache).__name__
        raise KeyError(f"backward: the cache should be a dict with keys {list(CACHE_KEYS)}, got {got}")
    a, s_all = cache["a"], cache["s"]
    post, Wy = params["post"], params["output"]["Wy"]
    n_y, m, T_y = dlogits.shape
    n_s = s_all.shape[0]
    if len(cache["attention"]) != T_y or len(cache["lstm"]) != T_y:
        raise ValueError(f"backward: the cache should hold {T_y} attention and {T_y} LSTM caches (one per output "
                         f"step), got {len(cache['attention'])} and {len(cache['lstm'])}")
    g_att = {"d" + k: np.zeros_like(v) for k, v in params["attention"].items()}
    g_post = {"d" + k: np.zeros_like(v) for k, v in post.items()}
    doutput = {"dWy": dlogits.reshape(n_y, m * T_y) @ s_all.reshape(n_s, m * T_y).T,   # every step at once
               "dby": dlogits.sum(axis=(1, 2)).reshape(n_y, 1)}
    da = np.zeros_like(a)
    ds, dc = np.zeros((n_s, m), dtype=a.dtype), np.zeros((n_s, m), dtype=a.dtype)
    for t in reversed(range(T_y)):
        ds = ds + Wy.T @ dlogits[:, :, t]                   # s_t feeds the output of step t and the next steps
        g = lstm_step_backward(ds, dc, cache["lstm"][t])
        for k in g_post:
            g_post[k] += g[k]
        ga = attention_backward(g["dxt"], cache["attention"][t])    # the context was the LSTM's input
        da += ga["da"]
        for k in g_att:
            g_att[k] += ga[k]
        ds, dc = g["da_prev"] + ga["ds_prev"], g["dc_prev"]    # s_{t-1} fed the LSTM and the attention step
    g_pre = bidirectional_backward(da, cache["pre"])
    return {"dpre": {"dfwd": g_pre["dfwd"], "dbwd": g_pre["dbwd"]}, "dattention": g_att, "dpost": g_post,
            "doutput": doutput, "dX": g_pre["dx"]}


# --------------------------------------------------------------------------- attention heat maps

def _symbol(ch):
    return {" ": "␣", "<pad>": "·", "<unk>": "?"}.get(ch, ch)


def attention_map(alphas, text, prediction, ax, T_x=T_X, show_padding=3):
    """Draw one example's attention weights on a matplotlib axis: output characters down, input characters across.

    alphas (T_x, T_y): weights of the example (column t: what output step t read); text: the input string
    (lower-cased and cut as the model read it); prediction: the T_y output characters; show_padding: how many
    <pad> columns after the text to keep (the model attends to them too).
    Returns the image (for a colour bar).
    """
    chars = list(text.lower()[:T_x])
    keep = min(T_x, len(chars) + show_padding)
    chars += ["<pad>"] * (keep - len(chars))
    image = ax.imshow(np.asarray(alphas)[:keep].T, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(keep))
    ax.set_xticklabels([_symbol(c) for c in chars], fontsize=9, family="monospace")
    ax.set_yticks(range(len(prediction)))
    ax.set_yticklabels(list(prediction), fontsize=9, family="monospace")
    ax.set_xlabel("input character")
    ax.set_ylabel("output character")
    ax.set_title(f"{text.strip()!r} -> {prediction}", fontsize=10)
    return image


def attention_figure(examples, T_x=T_X, ncols=2):
    """A Figure of attention maps, one per example: examples is a list of (alphas (T_x, T_y), text, prediction).
    Spaces are drawn as ␣ and padding as ·."""
    from matplotlib.figure import Figure
    n = len(examples)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(6.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.axis("off")
            continue
        image = attention_map(*examples[k], ax=ax, T_x=T_x)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="attention weight")
    return fig
