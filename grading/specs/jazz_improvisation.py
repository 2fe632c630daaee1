"""Hidden checks of assignment 3 (jazz_improvisation).

Every case draws fresh small shapes (n_values 5-12, n_a 3-8, m 2-4, T 3-6) and fresh random parameters.

- djmodel: the loss and dlogits are compared with the reference, and the cache is judged through the
  notebook's provided (locked) djmodel_backward: the gradients it computes from the student's cache must
  match the reference's.
- music_inference_model: argmax runs and sampled runs; a sampled run gets a Generator built from the same
  seed on both sides, so its indices must match exactly (one rng.choice per example and step).
- predict_and_sample builds on music_inference_model. Isolation rule (grading/checks.py): it passes when it
  matches the reference, or, when the student's music_inference_model is wrong on the same inputs (run in the
  same plan, same seed), when it is consistent with it: the same indices, and their one-hot. When the student's
  music_inference_model raises (or is missing) and predict_and_sample raises the same error, the mistake is
  charged to the block; the unanswered stub's NotImplementedError is not excused (a blank notebook earns nothing).
"""
import numpy as np

from utils import testing

from ..checks import Call, Ref, consistent_or_matching, randn
from ..plan import Rng
from ..spec import Case

LSTM_GATES = ("f", "i", "c", "o")


def _dims(rng):
    return dict(n_values=int(rng.integers(5, 13)), n_a=int(rng.integers(3, 9)), m=int(rng.integers(2, 5)),
                T=int(rng.integers(3, 7)))


def _params(rng, n_values, n_a, scale=0.8):
    p = {f"W{g}": scale * randn(rng, n_a, n_a + n_values) for g in LSTM_GATES}
    p.update({f"b{g}": scale * randn(rng, n_a, 1) for g in LSTM_GATES})
    p["Wy"], p["by"] = 2.0 * randn(rng, n_values, n_a), randn(rng, n_values, 1)
    return p


def _one_hot(indices, n_values):
    """(m, T) integers -> (n_values, m, T) float one-hot."""
    return np.eye(n_values)[indices].transpose(2, 0, 1)


# ------------------------------------------------------------------ djmodel

def _visible_djmodel():
    """The notebook's visible batch (same draws, same order)."""
    rng = np.random.default_rng(1)
    n_v, n_h, m, T = 6, 5, 3, 4
    tokens = rng.integers(0, n_v, size=(m, T + 1))
    X, Y = _one_hot(tokens[:, :-1], n_v), _one_hot(tokens[:, 1:], n_v)
    a0, c0 = 0.5 * rng.standard_normal((n_h, m)), 0.5 * rng.standard_normal((n_h, m))
    p = {f"W{g}": 0.5 * rng.standard_normal((n_h, n_h + n_v)) for g in LSTM_GATES}
    p.update({f"b{g}": 0.5 * rng.standard_normal((n_h, 1)) for g in LSTM_GATES})
    p["Wy"], p["by"] = rng.standard_normal((n_v, n_h)), rng.standard_normal((n_v, 1))
    return X, Y, a0, c0, p


def _djmodel_plan(X, Y, a0, c0, p):
    return [Call("djmodel", X, Y, a0, c0, p, save="fw", out={"loss": (0,), "dlogits (cache[2])": (1, 2)}),
            Call("djmodel_backward", Ref("fw", 1), out={"gradients from djmodel_backward(cache)": ()})]


def djmodel_values(rng):
    cases = [Case("seeded batch shown in the notebook", _djmodel_plan(*_visible_djmodel()), hidden=False)]
    for k in range(3):
        d = _dims(rng)
        tokens = rng.integers(0, d["n_values"], size=(d["m"], d["T"] + 1))
        X, Y = _one_hot(tokens[:, :-1], d["n_values"]), _one_hot(tokens[:, 1:], d["n_values"])
        if k == 0:
            a0 = c0 = np.zeros((d["n_a"], d["m"]))
        else:
            a0, c0 = randn(rng, d["n_a"], d["m"]), randn(rng, d["n_a"], d["m"])
        cases.append(Case(f"random sequences and parameters #{k + 1}",
                          _djmodel_plan(X, Y, a0, c0, _params(rng, d["n_values"], d["n_a"]))))
    return cases


# ------------------------------------------------------------------ music_inference_model

def _start(rng, d):
    x0 = _one_hot(rng.integers(0, d["n_values"], size=(d["m"], 1)), d["n_values"])[:, :, 0]   # (n_values, m)
    a0, c0 = 0.5 * randn(rng, d["n_a"], d["m"]), 0.5 * randn(rng, d["n_a"], d["m"])
    return x0, a0, c0


def music_inference_model_values(rng):
    cases = []
    for k, temperature in enumerate((None, None, 1.0, float(rng.uniform(0.4, 0.9)), float(rng.uniform(1.2, 2.0)))):
        d = _dims(rng)
        x0, a0, c0 = _start(rng, d)
        p = _params(rng, d["n_values"], d["n_a"])
        kwargs = {} if temperature is None else {"temperature": temperature, "rng": Rng(int(rng.integers(2**31)))}
        what = "argmax" if temperature is None else f"sampling at temperature {temperature:.2f}"
        cases.append(Case(f"{what}, random model #{k + 1}", [
            Call("music_inference_model", x0, a0, c0, p, d["T"], **kwargs, out={"probs": (0,), "indices": (1,)})]))
    # two runs drawing from one Generator: exactly one draw per example and step
    d = _dims(rng)
    x0, a0, c0 = _start(rng, d)
    p = _params(rng, d["n_values"], d["n_a"])
    plan = [Call("id", Rng(int(rng.integers(2**31))), save="rng")]
    plan += [Call("music_inference_model", x0, a0, c0, p, d["T"], temperature=1.0, rng=Ref("rng"),
                  out={f"indices of run {i + 1} of 2 from one Generator": (1,)}) for i in range(2)]
    cases.append(Case("two sampled runs from one Generator", plan))
    return cases


# ------------------------------------------------------------------ predict_and_sample

def _error_text(value):
    """The exception of a call that raised ("f raised T: msg" -> "T: msg"), or None (a value, or an unreadable one)."""
    if isinstance(value, dict) and set(value) == {"error"} and isinstance(value["error"], str) \
            and " raised " in value["error"]:
        return value["error"].split(" raised ", 1)[1]
    return None


def _predict_compare(n_values):
    """consistent_or_matching for predict_and_sample, plus the case of a block that raises.

    A block that raises (or is missing, e.g. its cell crashed) makes predict_and_sample raise the same error:
    that is charged to the block, but only when the error is not the unanswered stub's NotImplementedError
    (a blank notebook earns nothing).
    """
    def rules(s):
        ix, res, own = s.get("indices"), s.get("results"), s.get("block indices")
        if not isinstance(own, np.ndarray):
            block_error, own_error = _error_text(own), _error_text(ix)
            if block_error is None or own_error is None or "NotImplementedError" in block_error:
                return ["not comparable"]
            missing = "is not defined" in block_error and "NameError" in own_error and "music_inference_model" in own_error
            return [] if missing or own_error == block_error else ["not comparable"]
        try:
            own = np.asarray(own).astype(int)
            if not (isinstance(ix, np.ndarray) and ix.shape == own.shape and np.array_equal(ix, own)):
                return ["indices differ from your music_inference_model's"]
            # one-hot rows 0 .. n_values - 1 of the block's indices, whatever they are (a block that replays an
            # earlier answer may return indices of another vocabulary)
            want = (np.arange(n_values)[:, None, None] == own[None]).astype(float)
            if not (isinstance(res, np.ndarray) and res.shape == want.shape
                    and testing.close(res, want)):
                return ["results are not the one-hot of your music_inference_model's indices"]
        except (TypeError, ValueError, IndexError):
            return ["not comparable"]
        return []
    return consistent_or_matching(["results", "indices"], rules, ["block probs", "block indices"])


def predict_and_sample_values(rng):
    cases = []
    for k, temperature in enumerate((None, 1.0, float(rng.uniform(0.5, 1.8)))):
        d = _dims(rng)
        x0, a0, c0 = _start(rng, d)
        p = _params(rng, d["n_values"], d["n_a"])
        seed = int(rng.integers(2**31))
        kwargs = {} if temperature is None else {"temperature": temperature, "rng": Rng(seed)}
        plan = [Call("predict_and_sample", p, x0, a0, c0, d["T"], **kwargs,
                     out={"results": (0,), "indices": (1,)}),
                Call("music_inference_model", x0, a0, c0, p, d["T"], **kwargs,
                     out={"block probs": (0,), "block indices": (1,)})]
        what = "argmax" if temperature is None else f"sampling at temperature {temperature:.2f}"
        cases.append(Case(f"{what}, random model #{k + 1}", plan, compare=_predict_compare(d["n_values"])))
    return cases


CHECKS = {
    "djmodel_values": djmodel_values,
    "music_inference_model_values": music_inference_model_values,
    "predict_and_sample_values": predict_and_sample_values,
}
