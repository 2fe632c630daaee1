"""A character-level language model: a plain RNN that reads a name and predicts its next character.

One name is one sequence (m = 1). Characters are indices into a vocabulary of V characters
(``vocabulary``); the input of step t is the one-hot vector of X[t], or zeros where X[t] is None
(the first step), and the target of step t is Y[t], the character that follows:

    a<t>     = tanh(Waa a<t-1> + Wax x<t> + ba)          (the cell of utils/recurrent.py)
    y_hat<t> = softmax(Wya a<t> + by)
    loss     = - sum_t log y_hat<t>[Y[t]]                 (summed over the T_x steps of the name)

Parameters: Wax (n_a, V), Waa (n_a, n_a), Wya (V, n_a), ba (n_a, 1), by (V, 1); gradients are the
same names with a leading ``d``. The recurrence is utils/recurrent.py's ``rnn_recurrence_forward`` and
``rnn_recurrence_backward`` (its step kernels are the one place where the RNN cell is written); this
module adds what is specific to characters:

- a one-hot input times Wax is a column of Wax, so the input projection of every step is one
  gather of columns (no one-hot vectors, no matmul), and dWax is a scatter-add of columns;
- the output layer does not feed back into the recurrence, so its scores, softmax, loss and
  gradients are computed for all steps at once, after the forward loop and before the backward one;
- the buffers of a name (inputs, states, step gradients) are allocated once per call; inside the
  loops only the kernels' matrix-vector products make new arrays.

    loss, a, cache = forward(X, Y, a_prev, parameters)     # a: (n_a, 1, T_x)
    gradients = backward(cache)

It trains at about 170 microseconds per name of 12 letters with n_a = 50 (benchmarks/bench_dinosaur.py).
"""
import numpy as np

from utils import recurrent
from utils.activations import softmax

NEWLINE = "\n"


# --------------------------------------------------------------------------- data

def vocabulary(names):
    """The characters of ``names`` (plus the newline that ends every name), sorted.

    names: iterable of strings (lower-cased here). Returns char_to_ix (dict char -> index) and
    ix_to_char (dict index -> char); index 0 is "\\n" when the names hold only letters.
    """
    chars = sorted(set("".join(names).lower()) | {NEWLINE})
    return {c: i for i, c in enumerate(chars)}, dict(enumerate(chars))


def encode(name, char_to_ix):
    """The training pair of one name: X = [None, c1, ..., cn], Y = [c1, ..., cn, "\\n"] (indices)."""
    X = [None] + [char_to_ix[c] for c in name.lower()]
    return X, X[1:] + [char_to_ix[NEWLINE]]


def to_name(indices, ix_to_char):
    """Indices (a sampled name, usually ending with "\\n") -> the capitalised name without the newline."""
    return "".join(ix_to_char[int(i)] for i in indices).strip(NEWLINE).capitalize()


# --------------------------------------------------------------------------- parameters

def initialize_parameters(n_a, vocab_size, rng, scale=0.01):
    """Small random weights and zero biases, drawn from ``rng`` in the order Wax, Waa, Wya.

    n_a: hidden size; vocab_size: V; rng: numpy Generator.
    Returns dict Wax (n_a, V), Waa (n_a, n_a), Wya (V, n_a), ba (n_a, 1), by (V, 1), float64.
    """
    return {"Wax": scale * rng.standard_normal((n_a, vocab_size)),
            "Waa": scale * rng.standard_normal((n_a, n_a)),
            "Wya": scale * rng.standard_normal((vocab_size, n_a)),
            "ba": np.zeros((n_a, 1)), "by": np.zeros((vocab_size, 1))}


def initial_loss(vocab_size, names):
    """The loss per name of a model that guesses uniformly: log(V) times the mean T_x = len(name) + 1."""
    return float(np.log(vocab_size) * np.mean([len(n) + 1 for n in names]))


def smooth(smoothed, loss, beta=0.999):
    """One step of an exponential moving average: beta * smoothed + (1 - beta) * loss."""
    return beta * smoothed + (1.0 - beta) * loss


# --------------------------------------------------------------------------- forward / backward

def _inputs(X):
    """(steps with an input, their character indices); None means a zero input. The usual X = [None, ...]
    gives (slice(1, None), indices of X[1:])."""
    if X[0] is None and None not in X[1:]:
        return slice(1, None), np.array(X[1:], dtype=np.intp)
    steps = [t for t, c in enumerate(X) if c is not None]
    return np.array(steps, dtype=np.intp), np.array([X[t] for t in steps], dtype=np.intp)


def forward(X, Y, a0, parameters):
    """Run the model over one name and score its predictions.

    X: list of T_x input indices (None for a zero input, normally X[0]); Y: list of T_x target indices.
    a0 (n_a, 1): the state before the first step; parameters: dict Wax (n_a, V), Waa (n_a, n_a),
    Wya (V, n_a), ba (n_a, 1), by (V, 1).
    Returns loss (float, summed over the steps), a (n_a, 1, T_x): the state after every step (a view,
    a[:, :, -1] is the last one), and a cache for ``backward``.
    """
    Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    T, n_a = len(X), Waa.shape[0]
    if len(Y) != T:
        raise ValueError(f"forward: X and Y should have the same length, got {T} and {len(Y)}")
    if np.shape(a0) != (n_a, 1):
        raise ValueError(f"forward: a0 should have shape (n_a, 1) = ({n_a}, 1), got {np.shape(a0)}")
    steps, chars = _inputs(X)
    # Z[t] = Wax x<t> + ba, time-major (T, n_a, 1); a one-hot x<t> picks column X[t] of Wax
    Z = np.empty((T, n_a, 1))
    Z2 = Z.reshape(T, n_a)
    Z2[:] = parameters["ba"].reshape(n_a)
    Z2[steps] += Wax.T[chars]
    A = recurrent.rnn_recurrence_forward(Z, Waa, a0)                      # A[0] = a0, A[t + 1] = a<t>
    H = A[1:].reshape(T, n_a)                                             # (T, n_a), row t is a<t>
    rows = np.arange(T)
    Y = np.array(Y, dtype=np.intp)
    probs = softmax(Wya @ H.T + parameters["by"], axis=0)                 # (V, T), columns sum to 1
    loss = -float(np.log(probs[Y, rows]).sum())
    return loss, A[1:].transpose(1, 2, 0), (steps, chars, Y, rows, parameters, A, probs)


def backward(cache):
    """Gradients of ``forward``'s loss.

    cache: from ``forward``. Returns dict dWax (n_a, V), dWaa (n_a, n_a), dWya (V, n_a),
    dba (n_a, 1), dby (V, 1).
    """
    steps, chars, Y, rows, parameters, A, probs = cache
    Waa, Wya = parameters["Waa"], parameters["Wya"]
    T, n_a = len(rows), Waa.shape[0]
    H = A[1:].reshape(T, n_a)
    dscores = probs.copy()                                                # (V, T): softmax - one-hot(Y)
    dscores[Y, rows] -= 1.0
    dA = (dscores.T @ Wya).reshape(T, n_a, 1)                             # loss gradient of every a<t>
    dZ, _ = recurrent.rnn_recurrence_backward(dA, A, Waa)                 # (T, n_a, 1): each step's tanh input
    dZ2 = dZ.reshape(T, n_a)
    dWax = np.zeros((n_a, Wya.shape[0]))
    np.add.at(dWax, (slice(None), chars), dZ2[steps].T)                 # column X[t] of dWax gets dz<t>
    return {"dWax": dWax, "dWaa": dZ2.T @ A[:-1].reshape(T, n_a), "dWya": dscores @ H,
            "dba": dZ2.sum(axis=0).reshape(n_a, 1), "dby": dscores.sum(axis=1, keepdims=True)}


def loss_on(names, parameters, char_to_ix):
    """Mean loss per name of ``parameters`` on ``names`` (each read from a zero state); a float."""
    n_a = parameters["Waa"].shape[0]
    a0 = np.zeros((n_a, 1))
    return float(np.mean([forward(*encode(n, char_to_ix), a0, parameters)[0] for n in names]))
