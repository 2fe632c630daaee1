"""Saving and loading parameters as .npz, and parameter counts.

Nested parameter dicts are stored flat with "/" in the keys ({"lstm": {"Wf": ...}} -> "lstm/Wf").

    save_params("weights.npz", params)
    params = load_params("weights.npz", expected=template)   # template: same nesting, arrays or shapes
"""
import os

import numpy as np


def flatten(params, prefix=""):
    """{"a": {"b": arr}} -> {"a/b": arr}."""
    flat = {}
    for k, v in params.items():
        if "/" in k:
            raise ValueError(f"parameter names may not contain '/', got '{prefix + k}'")
        if isinstance(v, dict):
            flat.update(flatten(v, prefix + k + "/"))
        else:
            flat[prefix + k] = v
    return flat


def unflatten(flat):
    """{"a/b": arr} -> {"a": {"b": arr}} (the inverse of ``flatten``)."""
    nested = {}
    for key, v in flat.items():
        *parents, leaf = key.split("/")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return nested


def save_params(path, params):
    """Write a (nested) dict of arrays to ``path``, which must end in .npz (uncompressed)."""
    if not str(path).endswith(".npz"):
        raise ValueError(f"save_params: the path should end in .npz, got '{path}'")
    np.savez(path, **{k: np.asarray(v) for k, v in flatten(params).items()})


def load_params(path, expected=None):
    """Read parameters written by ``save_params``; returns the nested dict of arrays.

    expected: optional dict with the same nesting whose leaves are arrays or shape tuples; every key it
    names must be in the file with that shape. Raises FileNotFoundError (missing file), KeyError
    (missing key, naming it and the keys present) or ValueError (wrong shape, naming both shapes).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no parameter file at '{path}' (make it with save_params or the training script)")
    with np.load(path, allow_pickle=False) as data:
        flat = {k: data[k] for k in data.files}
    if expected is not None:
        for key, want in flatten(expected).items():
            want = tuple(np.shape(want)) if not isinstance(want, tuple) else want
            if key not in flat:
                raise KeyError(f"'{path}' has no parameter '{key}'; it has {sorted(flat)}")
            if flat[key].shape != want:
                raise ValueError(f"parameter '{key}' in '{path}' has shape {flat[key].shape}, expected {want}")
    return unflatten(flat)


def count_params(params):
    """Total number of entries in a (nested) dict of arrays."""
    return int(sum(np.size(v) for v in flatten(params).values()))


def rnn_param_count(n_x, n_a):
    """Plain RNN cell: Waa, Wax, ba -> n_a (n_a + n_x + 1)."""
    return n_a * (n_a + n_x + 1)


def lstm_param_count(n_x, n_a):
    """LSTM cell: four gates of W (n_a, n_a + n_x) and b (n_a, 1) -> 4 n_a (n_a + n_x + 1)."""
    return 4 * n_a * (n_a + n_x + 1)


def gru_param_count(n_x, n_a):
    """GRU cell (one bias per gate, as in the course's equations) -> 3 n_a (n_a + n_x + 1)."""
    return 3 * n_a * (n_a + n_x + 1)


def bidirectional_param_count(cell_count):
    """A bidirectional layer holds two cells: 2 * the cell's count."""
    return 2 * cell_count


def dense_param_count(n_in, n_out):
    """Dense: W (n_out, n_in) and b (n_out, 1) -> n_out (n_in + 1)."""
    return n_out * (n_in + 1)


def conv1d_param_count(n_x, n_f, kernel_size):
    """Conv1D: W (n_f, n_x, k) and b (n_f, 1) -> n_f (n_x k + 1)."""
    return n_f * (n_x * kernel_size + 1)


def batchnorm_param_count(n_x):
    """Batch norm: trainable gamma and beta -> 2 n_x (the running mean and var, 2 n_x more, are not trained)."""
    return 2 * n_x
