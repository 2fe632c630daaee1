"""Reference solution of assignment 1 (rnn_step_by_step): RNN, LSTM and GRU cells, forward and backward.

These are the functions the autograder compares student outputs with, so their signatures and cache
layouts are fixed. They are thin adapters over utils/recurrent.py: the cell maths lives there once,
and this module only adds the softmax output layer and the course's cache tuples.

Shapes: xt (n_x, m), x (n_x, m, T_x); a_prev, c_prev (n_a, m); a, c (n_a, m, T_x);
yt_pred (n_y, m), y_pred (n_y, m, T_x).
"""
import numpy as np

from utils import recurrent
from utils.activations import softmax


def _output(Wy, by, a):
    """softmax(Wy a + by) over the class axis for a of shape (n_a, m) or (n_a, m, T_x)."""
    n_a = a.shape[0]
    z = Wy @ a.reshape(n_a, -1) + by                                   # (n_y, m * T_x)
    return softmax(z, axis=0).reshape((Wy.shape[0],) + a.shape[1:])


# --------------------------------------------------------------------------- basic RNN

def rnn_cell_forward(xt, a_prev, parameters):
    """One step of a basic RNN.

    xt (n_x, m); a_prev (n_a, m); parameters Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a),
    ba (n_a, 1), by (n_y, 1).
    Returns a_next (n_a, m) = tanh(Waa a_prev + Wax xt + ba), yt_pred (n_y, m) = softmax(Wya a_next + by),
    and cache = (a_next, a_prev, xt, parameters).
    """
    a_next, cache = recurrent.rnn_step_forward(xt, a_prev, parameters)
    return a_next, _output(parameters["Wya"], parameters["by"], a_next), cache


def rnn_forward(x, a0, parameters):
    """A basic RNN over a whole sequence.

    x (n_x, m, T_x); a0 (n_a, m); parameters as in ``rnn_cell_forward``.
    Returns a (n_a, m, T_x), y_pred (n_y, m, T_x) and caches = (list of T_x cell caches, x).
    """
    a, _ = recurrent.rnn_sequence_forward(x, parameters, a0)
    y_pred = _output(parameters["Wya"], parameters["by"], a)
    steps = [(a[:, :, t], a0 if t == 0 else a[:, :, t - 1], x[:, :, t], parameters) for t in range(x.shape[2])]
    return a, y_pred, (steps, x)


def rnn_cell_backward(da_next, cache):
    """Backward of one RNN step through a_next (the softmax output is not part of it).

    da_next (n_a, m): gradient of the loss w.r.t. a_next; cache from ``rnn_cell_forward``.
    Returns dict dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    return recurrent.rnn_step_backward(da_next, cache)


def rnn_backward(da, caches):
    """Backward of ``rnn_forward``.

    da (n_a, m, T_x): upstream gradient of every hidden state; caches from ``rnn_forward``.
    Returns dict dx (n_x, m, T_x), da0 (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    steps, x = caches
    dx = np.zeros_like(x, dtype=np.result_type(x, da))
    grads = {"dWax": 0.0, "dWaa": 0.0, "dba": 0.0}
    da_prev = np.zeros_like(da[:, :, 0])
    for t in reversed(range(x.shape[2])):
        g = rnn_cell_backward(da[:, :, t] + da_prev, steps[t])
        dx[:, :, t], da_prev = g["dxt"], g["da_prev"]
        for k in grads:
            grads[k] = grads[k] + g[k]
    grads.update(dx=dx, da0=da_prev)
    return grads


# --------------------------------------------------------------------------- LSTM

def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    """One LSTM step.

    xt (n_x, m); a_prev, c_prev (n_a, m); parameters Wf, Wi, Wc, Wo (n_a, n_a + n_x) acting on
    [a_prev; xt], bf, bi, bc, bo (n_a, 1), Wy (n_y, n_a), by (n_y, 1).
    Returns a_next (n_a, m), c_next (n_a, m), yt_pred (n_y, m) and
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters), gates (n_a, m).
    """
    a_next, c_next, cache = recurrent.lstm_step_forward(xt, a_prev, c_prev, parameters)
    return a_next, c_next, _output(parameters["Wy"], parameters["by"], a_next), cache


def lstm_forward(x, a0, parameters):
    """An LSTM over a whole sequence; the cell state starts at zeros.

    x (n_x, m, T_x); a0 (n_a, m); parameters as in ``lstm_cell_forward``.
    Returns a (n_a, m, T_x), y (n_y, m, T_x), c (n_a, m, T_x) and caches = (list of T_x cell caches, x).
    """
    a, seq = recurrent.lstm_sequence_forward(x, parameters, a0)
    gates = recurrent.lstm_sequence_gates(seq)                          # each (n_a, m, T_x)
    c, ft, it, cct, ot = (gates[k] for k in ("c", "ft", "it", "cct", "ot"))
    c0 = np.zeros_like(a[:, :, 0])
    steps = []
    for t in range(x.shape[2]):
        a_prev, c_prev = (a0, c0) if t == 0 else (a[:, :, t - 1], c[:, :, t - 1])
        steps.append((a[:, :, t], c[:, :, t], a_prev, c_prev, ft[:, :, t], it[:, :, t], cct[:, :, t],
                      ot[:, :, t], x[:, :, t], parameters))
    return a, _output(parameters["Wy"], parameters["by"], a), c, (steps, x)


def lstm_cell_backward(da_next, dc_next, cache):
    """Backward of one LSTM step through a_next and c_next.

    da_next, dc_next (n_a, m); cache from ``lstm_cell_forward``.
    Returns dict dxt (n_x, m), da_prev (n_a, m), dc_prev (n_a, m),
    dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1).
    """
    return recurrent.lstm_step_backward(da_next, dc_next, cache)


def lstm_backward(da, caches):
    """Backward of ``lstm_forward``, carrying both da_prev and dc_prev back through time.

    da (n_a, m, T_x): upstream gradient of every hidden state; caches from ``lstm_forward``.
    Returns dict dx (n_x, m, T_x), da0 (n_a, m), dWf, dWi, dWc, dWo (n_a, n_a + n_x),
    dbf, dbi, dbc, dbo (n_a, 1).
    """
    steps, x = caches
    dx = np.zeros_like(x, dtype=np.result_type(x, da))
    grads = {k: 0.0 for k in ("dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")}
    da_prev = np.zeros_like(da[:, :, 0])
    dc_prev = np.zeros_like(da_prev)
    for t in reversed(range(x.shape[2])):
        g = lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, steps[t])
        dx[:, :, t], da_prev, dc_prev = g["dxt"], g["da_prev"], g["dc_prev"]
        for k in grads:
            grads[k] = grads[k] + g[k]
    grads.update(dx=dx, da0=da_prev)
    return grads


# --------------------------------------------------------------------------- GRU

def gru_cell_forward(xt, a_prev, parameters):
    """One GRU step.

    xt (n_x, m); a_prev (n_a, m); parameters Wu, Wr, Wc (n_a, n_a + n_x), bu, br, bc (n_a, 1),
    Wy (n_y, n_a), by (n_y, 1). u, r act on [a_prev; xt], cct = tanh(Wc [r * a_prev; xt] + bc),
    a_next = u * cct + (1 - u) * a_prev.
    Returns a_next (n_a, m), yt_pred (n_y, m) and cache = (a_next, a_prev, xt, u, r, cct, parameters).
    """
    a_next, cache = recurrent.gru_step_forward(xt, a_prev, parameters)
    return a_next, _output(parameters["Wy"], parameters["by"], a_next), cache


def gru_cell_backward(da_next, cache):
    """Backward of one GRU step through a_next.

    da_next (n_a, m); cache from ``gru_cell_forward``.
    Returns dict dxt (n_x, m), da_prev (n_a, m), dWu, dWr, dWc (n_a, n_a + n_x), dbu, dbr, dbc (n_a, 1).
    """
    return recurrent.gru_step_backward(da_next, cache)
