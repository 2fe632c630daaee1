"""Losses over sequences; each returns (loss, gradient of the loss w.r.t. its first argument).

Losses are means over every position (example and time step), so the gradient of a sum over
time is not hidden in the scale: an untrained V-way softmax gives about log V.
"""
import numpy as np

from utils.activations import sigmoid, softmax


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) over the class axis 0.

    logits (n_y, m, T_y) or (n_y, m); labels: integer class ids (m, T_y) / (m,), or one-hot (or any
    distribution) shaped like logits. Returns loss (float) and dlogits (shaped like logits).
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if labels.shape == logits.shape:
        target = labels.astype(logits.dtype)
    elif labels.shape == logits.shape[1:] and np.issubdtype(labels.dtype, np.integer):
        n_y = logits.shape[0]
        if labels.size and (labels.min() < 0 or labels.max() >= n_y):
            raise ValueError(f"softmax_cross_entropy: labels should be class ids in [0, {n_y}), "
                             f"got values from {labels.min()} to {labels.max()}")
        target = (np.arange(n_y).reshape((n_y,) + (1,) * labels.ndim) == labels).astype(logits.dtype)
    else:
        raise ValueError(f"softmax_cross_entropy: labels should be integer ids of shape {logits.shape[1:]} "
                         f"or one-hot of shape {logits.shape}, got {labels.dtype} of shape {labels.shape}")
    count = logits[0].size
    shifted = logits - logits.max(axis=0, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    loss = -float(np.sum(target * log_probs)) / count
    dlogits = (softmax(logits, axis=0) * target.sum(axis=0, keepdims=True) - target) / count
    return loss, dlogits


def sigmoid_cross_entropy(logits, labels):
    """Mean binary cross-entropy of sigmoid(logits) per entry, computed stably from the logits.

    logits any shape, e.g. (1, m, T_y); labels in [0, 1] of the same shape.
    Returns loss (float) and dlogits = (sigmoid(logits) - labels) / count (shaped like logits).
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    if labels.shape != logits.shape:
        raise ValueError(f"sigmoid_cross_entropy: labels should have the logits' shape {logits.shape}, "
                         f"got {labels.shape}")
    # log(1 + exp(z)) - y z, written so that exp never overflows
    per_entry = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
    count = logits.size
    return float(per_entry.sum()) / count, (sigmoid(logits) - labels) / count


def binary_cross_entropy(probs, labels, eps=1e-7):
    """Mean binary cross-entropy of probabilities (e.g. a sigmoid layer's output) per entry.

    probs any shape, e.g. (1, m, T_y), clipped to [eps, 1 - eps]; labels in [0, 1], same shape.
    Returns loss (float) and dprobs (shaped like probs).
    """
    probs, labels = np.asarray(probs), np.asarray(labels)
    if labels.shape != probs.shape:
        raise ValueError(f"binary_cross_entropy: labels should have the probabilities' shape {probs.shape}, "
                         f"got {labels.shape}")
    p = np.clip(probs, eps, 1 - eps)
    count = probs.size
    loss = -float(np.sum(labels * np.log(p) + (1 - labels) * np.log(1 - p))) / count
    dprobs = (p - labels) / (p * (1 - p)) / count
    return loss, dprobs
