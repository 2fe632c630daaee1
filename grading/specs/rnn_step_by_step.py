"""Hidden checks of assignment 1 (rnn_step_by_step).

Every test cell gets a few cases on fresh random shapes (plus, where the notebook shows one, the
visible seeded case). Backward passes are checked on caches built by the reference library
(utils.rnn), so a wrong forward pass never costs backward points, and against the student's own
forward pass by centred differences.
"""
import numpy as np

from utils import init
from utils import rnn as ref

from ..checks import (Call, Ref, consistent_or_matching, gradient_compare, gradient_probe, params_like,
                      randn, stepwise_rules, summed_rules, take)
from ..spec import Case


def _dims(rng):
    return dict(n_x=int(rng.integers(2, 5)), n_a=int(rng.integers(2, 6)), n_y=int(rng.integers(2, 4)),
                m=int(rng.integers(2, 6)), T=int(rng.integers(2, 5)))


def _params(kind):
    """A builder of random parameters of a ``kind`` cell (utils.init.cell_shapes) with an output layer."""
    def build(rng, d):
        return params_like(rng, init.cell_shapes(kind, d["n_x"], d["n_a"], d["n_y"]), 0.7)
    return build


_rnn_params, _lstm_params, _gru_params = _params("rnn"), _params("lstm"), _params("gru")


def _visible_rnn_cell():
    """The notebook's visible case (np.random.seed(1) there; a local RandomState gives the same draws)."""
    r = np.random.RandomState(1)
    xt, a_prev = r.randn(3, 10), r.randn(5, 10)
    p = {"Waa": r.randn(5, 5), "Wax": r.randn(5, 3), "Wya": r.randn(2, 5), "ba": r.randn(5, 1), "by": r.randn(2, 1)}
    return xt, a_prev, p


OUTPUT_PARAMS = {"Wya", "Wy", "by"}  # the softmax layer is not part of the backward passes
CACHE = {"cache[0] (a_next)": (2, 0), "cache[1] (a_prev)": (2, 1), "cache[2] (xt)": (2, 2)}
LSTM_CACHE = {f"cache[{i}] ({n})": (3, i) for i, n in
              enumerate(["a_next", "c_next", "a_prev", "c_prev", "ft", "it", "cct", "ot", "xt"])}
GRU_CACHE = {f"cache[{i}] ({n})": (2, i) for i, n in enumerate(["a_next", "a_prev", "xt", "u", "r", "cct"])}


def _cell_forward_cases(rng, kind, n=3):
    """``n`` cases of <kind>_cell_forward on fresh random shapes, inputs and parameters."""
    out = {"rnn": {"a_next": (0,), "yt_pred": (1,), **CACHE},
           "lstm": {"a_next": (0,), "c_next": (1,), "yt_pred": (2,), **LSTM_CACHE},
           "gru": {"a_next": (0,), "yt_pred": (1,), **GRU_CACHE}}[kind]
    cases = []
    for k in range(n):
        d = _dims(rng)
        states = [randn(rng, d["n_a"], d["m"]) for _ in range(2 if kind == "lstm" else 1)]  # a_prev (, c_prev)
        cases.append(Case(f"random shapes #{k + 1}", [Call(
            f"{kind}_cell_forward", randn(rng, d["n_x"], d["m"]), *states, _params(kind)(rng, d), out=out)]))
    return cases


def rnn_cell_forward_values(rng):
    xt, a_prev, p = _visible_rnn_cell()
    cases = [Case("seeded batch shown in the notebook", [Call("rnn_cell_forward", xt, a_prev, p,
                  out={"a_next": (0,), "yt_pred": (1,), **CACHE})], hidden=False)]
    cases += _cell_forward_cases(rng, "rnn")
    # with Wax = 0 the input has no effect at all: two different inputs, one answer
    d = _dims(rng)
    p = dict(_rnn_params(rng, d), Wax=np.zeros((d["n_a"], d["n_x"])))
    a_prev = randn(rng, d["n_a"], d["m"])
    cases.append(Case("Wax = 0: the input has no effect", [
        Call("rnn_cell_forward", randn(rng, d["n_x"], d["m"]), a_prev, p, out={"a_next, first input": (0,)}),
        Call("rnn_cell_forward", randn(rng, d["n_x"], d["m"]), a_prev, p, out={"a_next, second input": (0,)})]))
    return cases


def _sequence_forward_cases(rng, func, cell, params_fn, lstm):
    cases = []
    for k in range(3):
        d = _dims(rng)
        x, a0, p = randn(rng, d["n_x"], d["m"], d["T"]), randn(rng, d["n_a"], d["m"]), params_fn(rng, d)
        out = {"a": (0,), "y": (1,), "caches[1] (x)": (2, 1)} if not lstm else \
            {"a": (0,), "y": (1,), "c": (2,), "caches[1] (x)": (3, 1)}
        plan = [Call(func, x, a0, p, save="fw", out=out)]
        c0 = np.zeros_like(a0)
        for t in range(d["T"]):
            a_prev = a0 if t == 0 else Ref("fw", 0, take(2, t - 1))
            args = (x[:, :, t], a_prev, p) if not lstm else \
                (x[:, :, t], a_prev, c0 if t == 0 else Ref("fw", 2, take(2, t - 1)), p)
            cell_out = {f"step{t}_a": (0,), f"step{t}_y": (1,)} if not lstm else \
                {f"step{t}_a": (0,), f"step{t}_c": (1,), f"step{t}_y": (2,)}
            plan.append(Call(cell, *args, out=cell_out, student_only=t > 0))  # step 0's inputs are the same on both sides
        T = d["T"]
        rules = stepwise_rules(T, ["a", "y"] + (["c"] if lstm else []), axis=2)
        main = list(out)
        steps = [[f"step{t}_a", f"step{t}_y"] + ([f"step{t}_c"] if lstm else []) for t in range(T)]
        cases.append(Case(f"random shapes #{k + 1}", plan,
                          compare=consistent_or_matching(main, rules, steps[0], block_groups=steps)))
    return cases


def rnn_forward_values(rng):
    return _sequence_forward_cases(rng, "rnn_forward", "rnn_cell_forward", _rnn_params, lstm=False)


def lstm_cell_forward_values(rng):
    return _cell_forward_cases(rng, "lstm")


def lstm_forward_values(rng):
    return _sequence_forward_cases(rng, "lstm_forward", "lstm_cell_forward", _lstm_params, lstm=True)


def gru_cell_forward_values(rng):
    cases = _cell_forward_cases(rng, "gru")
    # a closed update gate (u = 0, through a very negative bias) copies a_prev unchanged
    d = _dims(rng)
    p = dict(_gru_params(rng, d), Wu=np.zeros((d["n_a"], d["n_a"] + d["n_x"])), bu=np.full((d["n_a"], 1), -50.0))
    cases.append(Case("closed update gate: a_prev passes unchanged", [Call(
        "gru_cell_forward", randn(rng, d["n_x"], d["m"]), randn(rng, d["n_a"], d["m"]), p,
        out={"a_next with u = 0": (0,)})]))
    return cases


# ------------------------------------------------------------------ backward

def _cell_backward_cases(rng, kind):
    forward = {"rnn": "rnn_cell_forward", "lstm": "lstm_cell_forward", "gru": "gru_cell_forward"}[kind]
    backward = {"rnn": "rnn_cell_backward", "lstm": "lstm_cell_backward", "gru": "gru_cell_backward"}[kind]
    params_fn = {"rnn": _rnn_params, "lstm": _lstm_params, "gru": _gru_params}[kind]
    cases = []
    for k in range(2):
        d = _dims(rng)
        xt, a_prev, c_prev = randn(rng, d["n_x"], d["m"]), randn(rng, d["n_a"], d["m"]), randn(rng, d["n_a"], d["m"])
        p = params_fn(rng, d)
        G, Gc = randn(rng, d["n_a"], d["m"]), randn(rng, d["n_a"], d["m"])
        if kind == "lstm":
            cache = ref.lstm_cell_forward(xt, a_prev, c_prev, p)[3]
            plan = [Call(backward, G, Gc, cache, out={"gradients": ()})]
        else:
            cache = getattr(ref, forward)(xt, a_prev, p)[2]
            plan = [Call(backward, G, cache, out={"gradients": ()})]
        cases.append(Case(f"values on a reference cache, random shapes #{k + 1}", plan))
        # gradient check against the student's own forward pass
        arrays = {"xt": xt, "a_prev": a_prev, **{n: v for n, v in p.items() if n not in OUTPUT_PARAMS}}
        if kind == "lstm":
            arrays["c_prev"] = c_prev
            outputs = {"a": (0,), "c": (1,)}
            weights = {"a": G, "c": Gc}

            def build(a):
                return (a["xt"], a["a_prev"], a["c_prev"], {**p, **{n: a[n] for n in p if n in a}})
            calls = lambda: [Call(backward, G, Gc, Ref("fw", 3), out={"grad": ()})]  # noqa: E731
        else:
            outputs, weights = {"a": (0,)}, {"a": G}

            def build(a):
                return (a["xt"], a["a_prev"], {**p, **{n: a[n] for n in p if n in a}})
            calls = lambda: [Call(backward, G, Ref("fw", 2), out={"grad": ()})]  # noqa: E731
        plan, picks = gradient_probe(forward, build, arrays, outputs, calls, rng)
        cases.append(Case(f"gradient check against your own {forward}, random shapes #{k + 1}", plan,
                          compare=gradient_compare(picks, weights)))
    return cases


def rnn_cell_backward_values(rng):
    return _cell_backward_cases(rng, "rnn")


def lstm_cell_backward_values(rng):
    return _cell_backward_cases(rng, "lstm")


def gru_cell_backward_values(rng):
    return _cell_backward_cases(rng, "gru")


def _sequence_backward_cases(rng, kind):
    lstm = kind == "lstm"
    func, cell = ("lstm_backward", "lstm_cell_backward") if lstm else ("rnn_backward", "rnn_cell_backward")
    names = ["dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"] if lstm else ["dWax", "dWaa", "dba"]
    cases = []
    for k in range(2):
        d = _dims(rng)
        x, a0 = randn(rng, d["n_x"], d["m"], d["T"]), randn(rng, d["n_a"], d["m"])
        p = _lstm_params(rng, d) if lstm else _rnn_params(rng, d)
        caches = ref.lstm_forward(x, a0, p)[3] if lstm else ref.rnn_forward(x, a0, p)[2]
        da = randn(rng, d["n_a"], d["m"], d["T"])
        T = d["T"]
        plan = [Call(func, da, caches, out={"gradients": ()})]
        # the same gradients composed from the student's own cell backward, step by step
        for t in reversed(range(T)):
            step_cache = caches[0][t]
            if t == T - 1:
                args = (da[:, :, t], np.zeros_like(a0), step_cache) if lstm else (da[:, :, t], step_cache)
            else:
                plan.append(Call("+", da[:, :, t], Ref(f"g{t + 1}", "da_prev"), save=f"dn{t}", student_only=True))
                args = (Ref(f"dn{t}"), Ref(f"g{t + 1}", "dc_prev"), step_cache) if lstm else (Ref(f"dn{t}"), step_cache)
            plan.append(Call(cell, *args, save=f"g{t}", out={f"g{t}": ()}, student_only=t < T - 1))

        rules = summed_rules(T, names, "gradients", extra=lambda steps: {
            "da0": steps[0]["da_prev"], "dx": np.stack([st["dxt"] for st in steps], axis=2)})
        cases.append(Case(f"values on reference caches, random shapes #{k + 1}", plan,
                          compare=consistent_or_matching(["gradients"], rules, [f"g{T - 1}"],
                                                         block_groups=[[f"g{t}"] for t in range(T)])))
    # gradient check of the whole sequence against the student's own forward pass
    d = _dims(rng)
    x, a0 = randn(rng, d["n_x"], d["m"], d["T"]), randn(rng, d["n_a"], d["m"])
    p = _lstm_params(rng, d) if lstm else _rnn_params(rng, d)
    G = randn(rng, d["n_a"], d["m"], d["T"])
    arrays = {"x": x, "a0": a0, **{n: v for n, v in p.items() if n not in OUTPUT_PARAMS}}

    def build(a):
        return (a["x"], a["a0"], {**p, **{n: a[n] for n in p if n in a}})
    forward = "lstm_forward" if lstm else "rnn_forward"
    caches_path = 3 if lstm else 2
    step_cache = (ref.lstm_forward if lstm else ref.rnn_forward)(x, a0, p)[caches_path][0][-1]
    dep_args = (G[:, :, -1], np.zeros_like(a0), step_cache) if lstm else (G[:, :, -1], step_cache)

    def calls():
        return [Call(func, G, Ref("fw", caches_path), out={"grad": ()}), Call(cell, *dep_args, out={"dep_cell": ()})]
    plan, picks = gradient_probe(forward, build, arrays, {"a": (0,)}, calls, rng, per_array=2)
    cases.append(Case(f"gradient check against your own {forward}", plan,
                      compare=gradient_compare(picks, {"a": G}, deps=["dep_cell"])))
    return cases


def rnn_backward_values(rng):
    return _sequence_backward_cases(rng, "rnn")


def lstm_backward_values(rng):
    return _sequence_backward_cases(rng, "lstm")


CHECKS = {
    "rnn_cell_forward_values": rnn_cell_forward_values,
    "rnn_forward_values": rnn_forward_values,
    "lstm_cell_forward_values": lstm_cell_forward_values,
    "lstm_forward_values": lstm_forward_values,
    "rnn_cell_backward_values": rnn_cell_backward_values,
    "rnn_backward_values": rnn_backward_values,
    "lstm_cell_backward_values": lstm_cell_backward_values,
    "lstm_backward_values": lstm_backward_values,
    "gru_cell_forward_values": gru_cell_forward_values,
    "gru_cell_backward_values": gru_cell_backward_values,
}
