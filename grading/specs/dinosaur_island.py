"""Hidden checks of assignment 2 (dinosaur_island).

clip and sample are compared with the teacher's functions on fresh random inputs; sample draws from a
Generator built from the same seed on both sides, so its indices must match exactly.

optimize and model build on other graded functions, so each passes when it matches the reference or
when it is consistent with the student's own building block (grading/checks.py, isolation rule):

- optimize: the plan also runs the student's clip on the raw gradients of the same name (computed
  here with utils.char_model); the expected update is computed here from that clip output.
- model: a short training run (1,000 iterations on 100 names) is compared with the reference; the plan replays the
  same run step by step with the student's optimize (same weights, same order of names); the smoothed
  losses of the replay are computed here. A second, shorter run checks the sampled names, and only when
  the student's sample is right; the first run samples nothing, so a broken sample never costs model.

Both use the assignment's sizes (the 27-character vocabulary of data/dinos.txt, n_a = 50): a building
block that returns arrays of the notebook's shapes whatever its input (e.g. a clip that replays its
first answer) still lets the dependent function run, and be judged consistent with it.
The run is short and its learning rate small on purpose: perturbing its initial weights by 1e-12
(relative) moves the trained weights by at most about 1e-7 (relative), far inside the 1e-5
tolerance, so the comparison does not depend on the BLAS. Longer runs or learning rates above about
0.014 turn chaotic (the same perturbation then changes the result completely): keep these settings.
"""
import os

import numpy as np

from utils import char_model as cm
from utils import testing

from ..checks import Call, Ref, substantive
from ..plan import Rng
from ..spec import Case, NotJudged, mismatch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_A = 50
KEYS = ("Wax", "Waa", "Wya", "ba", "by")


def _names():
    with open(os.path.join(ROOT, "data", "dinos.txt")) as f:
        return f.read().lower().splitlines()


def _vocabulary():
    """(names, char_to_ix, vocab_size) of the course data."""
    names = _names()
    char_to_ix, _ = cm.vocabulary(names)
    return names, char_to_ix, len(char_to_ix)


def _params(rng, n_a, V, scale):
    return {"Wax": scale * rng.standard_normal((n_a, V)), "Waa": scale * rng.standard_normal((n_a, n_a)),
            "Wya": scale * rng.standard_normal((V, n_a)), "ba": scale * rng.standard_normal((n_a, 1)),
            "by": scale * rng.standard_normal((V, 1))}


def _is_error(value):
    return isinstance(value, dict) and set(value) == {"error"}


# ------------------------------------------------------------------ clip

def _visible_clip_gradients():
    """The notebook's np.random.seed(3) draws, from a legacy generator of the same stream (no global seeding)."""
    legacy = np.random.RandomState(3)
    shapes = [("dWax", (5, 3)), ("dWaa", (5, 5)), ("dWya", (2, 5)), ("dba", (5, 1)), ("dby", (2, 1))]
    return {k: legacy.randn(*s) * 10 for k, s in shapes}


def _clip_plan(grads, max_value):
    return [Call("id", grads, save="g"),
            Call("clip", Ref("g"), max_value, out={"returned gradients": ()}),
            Call("id", Ref("g"), out={"gradients after the call (in place)": ()})]


def clip_values(rng):
    cases = [Case("seeded gradients shown in the notebook", _clip_plan(_visible_clip_gradients(), 10),
                  hidden=False)]
    for k in range(3):
        n_a, V = int(rng.integers(2, 30)), int(rng.integers(2, 30))
        scale, max_value = float(rng.uniform(1, 12)), float(rng.uniform(0.5, 10))
        grads = {"dWax": rng.standard_normal((n_a, V)), "dWaa": rng.standard_normal((n_a, n_a)),
                 "dWya": rng.standard_normal((V, n_a)), "dba": rng.standard_normal((n_a, 1)),
                 "dby": rng.standard_normal((V, 1))}
        grads = {g: scale * v for g, v in grads.items()}
        cases.append(Case(f"random gradients and max_value #{k + 1}", _clip_plan(grads, max_value)))
    return cases


# ------------------------------------------------------------------ sample

def _random_model(rng):
    """A random vocabulary (some letters and the newline, sorted) and random parameters for it."""
    letters = sorted(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=int(rng.integers(4, 27)), replace=False))
    chars = ["\n"] + [str(c) for c in letters]
    char_to_ix = {c: i for i, c in enumerate(chars)}
    n_a, V = int(rng.integers(3, 60)), len(chars)
    p = _params(rng, n_a, V, 1.0)
    p["Waa"] *= 0.5
    return p, char_to_ix


def sample_values(rng):
    cases = []
    for k in range(3):
        p, c2i = _random_model(rng)
        cases.append(Case(f"random model and seed #{k + 1}", [
            Call("sample", p, c2i, Rng(int(rng.integers(2**31))), out={"indices": ()})]))
    # one Generator shared by three calls: exactly one draw per character
    p, c2i = _random_model(rng)
    plan = [Call("id", Rng(int(rng.integers(2**31))), save="rng")]
    plan += [Call("sample", p, c2i, Ref("rng"), out={f"name {i + 1} of 3 from one Generator": ()}) for i in range(3)]
    cases.append(Case("three names from one Generator", plan))
    # a model that never predicts the newline: 50 characters, then the newline
    p, c2i = _random_model(rng)
    p["Wya"] = np.zeros_like(p["Wya"])
    p["by"] = np.where(np.arange(len(c2i))[:, None] == len(c2i) - 1, 30.0, -30.0)
    cases.append(Case("a model that never ends a name", [
        Call("sample", p, c2i, Rng(int(rng.integers(2**31))), out={"indices": ()})]))
    return cases


# ------------------------------------------------------------------ optimize

def _optimize_compare(params, lr):
    main = ("loss", "gradients", "a_last", "parameters after the call")

    def compare(student, reference):
        direct = [m for m in (mismatch(k, student.get(k, {"error": "missing"}), reference[k]) for k in main) if m]
        if not direct:
            return []
        own = [m for m in (mismatch(k, student.get(k, {"error": "missing"}), reference[k])
                           for k in ("loss", "a_last")) if m]
        clipped = student.get("clip_out")
        if own or not mismatch("clip_out", clipped, reference["clip_out"]) or not isinstance(clipped, dict) \
                or not substantive(clipped):
            return direct                       # clip is right (or unusable, or no real work): judged alone
        # the student's clip is wrong: optimize must use what it returns
        grads, updated = student.get("gradients"), student.get("parameters after the call")
        consistent = isinstance(grads, dict) and isinstance(updated, dict) and all(
            testing.close(grads.get("d" + k), clipped.get("d" + k)) and
            testing.close(updated.get(k), params[k] - lr * np.asarray(clipped.get("d" + k), dtype=np.float64))
            for k in KEYS)
        return [] if consistent else direct
    return compare


def optimize_values(rng):
    names, c2i, V = _vocabulary()
    cases = []
    for k, scale in enumerate((0.1, 0.3, 0.6)):              # no clipping, some, a lot
        p = _params(rng, N_A, V, scale)
        a_prev = np.tanh(rng.standard_normal((N_A, 1)))
        X, Y = cm.encode(names[int(rng.integers(len(names)))], c2i)
        lr = float(rng.uniform(0.005, 0.05))
        raw = cm.backward(cm.forward(X, Y, a_prev, {n: v.copy() for n, v in p.items()})[2])
        plan = [Call("id", p, save="p"),
                Call("optimize", X, Y, a_prev, Ref("p"), lr,
                     out={"loss": (0,), "gradients": (1,), "a_last": (2,)}),
                Call("id", Ref("p"), out={"parameters after the call": ()}),
                Call("clip", raw, 5, out={"clip_out": ()})]
        cases.append(Case(f"one step on a random model and name #{k + 1}", plan, compare=_optimize_compare(p, lr)))
    return cases


# ------------------------------------------------------------------ model

def _model_run(names, c2i, n_iter, seed):
    """The reference's weights and order of names for model(names, ..., n_a=N_A, seed=seed)."""
    rng = np.random.default_rng(seed)
    p = cm.initialize_parameters(N_A, len(c2i), rng)
    order = rng.permutation(len(names))
    return p, [cm.encode(names[order[j % len(names)]], c2i) for j in range(n_iter)]


def _shape_failures(student, V, n_iter):
    p, losses = student.get("parameters"), student.get("losses")
    if _is_error(p):
        return [f"parameters: {p['error']}"]
    shapes = {"Wax": (N_A, V), "Waa": (N_A, N_A), "Wya": (V, N_A), "ba": (N_A, 1), "by": (V, 1)}
    if not isinstance(p, dict) or set(p) != set(shapes):
        return [f"the parameters should be a dict with keys {sorted(shapes)}"]
    bad = [k for k, s in shapes.items() if not isinstance(p[k], np.ndarray) or p[k].shape != s]
    if bad:
        return [f"parameters[{bad[0]!r}] should be an array of shape {shapes[bad[0]]}"]
    if not isinstance(losses, (list, tuple, np.ndarray)) or len(losses) != n_iter:
        return [f"the loss history should be a list of {n_iter} numbers, one per iteration"]
    return []


def _model_compare(names, c2i, n_iter, params0):
    V = len(c2i)

    def compare(student, reference):
        failures = _shape_failures(student, V, n_iter)
        if failures:
            return failures
        direct = [m for m in (mismatch("parameters", student["parameters"], reference["parameters"]),
                              None if testing.close(student["losses"], reference["losses"]) else
                              "the smoothed losses differ from the expected ones") if m]
        if not direct:
            return []
        steps = [f"step loss {j}" for j in range(n_iter)]
        block_wrong = mismatch("replay", student.get("replay"), reference["replay"]) is not None or \
            any(not testing.close(student.get(k), reference[k]) for k in steps)
        if not block_wrong:                      # optimize is right: model is judged alone
            trained, fresh = cm.loss_on(names, student["parameters"], c2i), cm.loss_on(names, params0, c2i)
            if not trained < fresh - 5:
                direct.append(f"training barely lowers the loss: {trained:.1f} per name after it, "
                              f"{fresh:.1f} before")
            return direct
        # the student's optimize differs from the reference: is model consistent with it?
        own = [student.get(k) for k in steps]
        if not substantive(own):                 # optimize returns no real losses: nothing to be consistent with
            return direct
        smoothed, history = cm.initial_loss(V, names), []
        for value in own:
            try:
                smoothed = cm.smooth(smoothed, float(np.asarray(value, dtype=np.float64)))
            except (TypeError, ValueError):
                return direct
            history.append(smoothed)
        replay = student.get("replay")
        consistent = isinstance(replay, dict) and all(testing.close(student["parameters"][k], replay.get(k)) for k in KEYS) \
            and testing.close(student["losses"], history)
        return [] if consistent else direct
    return compare


def _names_compare(n_samples):
    def compare(student, reference):
        if mismatch("sample", student.get("sample"), reference["sample"]):
            return NotJudged("your sample differs from the expected one here; it is charged to sample's own "
                             "test cell, so the names sampled during training are not judged")
        got = student.get("sampled")
        if _is_error(got):
            return [f"sampled names: {got['error']}"]
        if not isinstance(got, (list, tuple)) or len(got) != n_samples or not all(isinstance(s, str) for s in got):
            return [f"the names sampled last should be a list of {n_samples} strings"]
        return []
    return compare


def model_trains(rng):
    names_all, c2i, V = _vocabulary()
    cases = []
    # a short run compared with the reference, and replayed with the student's optimize
    names = [names_all[int(i)] for i in rng.choice(len(names_all), 100, replace=False)]
    n_iter, seed, lr = 1000, int(rng.integers(10_000)), 0.008
    params0, pairs = _model_run(names, c2i, n_iter, seed)
    plan = [Call("model", names, c2i, num_iterations=n_iter, n_a=N_A, learning_rate=lr, seed=seed,
                 sample_every=500, n_samples=0, out={"parameters": (0,), "losses": (2,)}),
            Call("id", params0, save="p")]
    for j, (X, Y) in enumerate(pairs):
        a_prev = np.zeros((N_A, 1)) if j == 0 else Ref(f"o{j - 1}", 2)
        plan.append(Call("optimize", X, Y, a_prev, Ref("p"), lr, save=f"o{j}", out={f"step loss {j}": (0,)}))
    plan.append(Call("id", Ref("p"), out={"replay": ()}))
    cases.append(Case("a short training run on 100 names", plan, compare=_model_compare(names, c2i, n_iter, params0)))
    # the names sampled along the way (judged only when sample itself is right)
    names = [names_all[int(i)] for i in rng.choice(len(names_all), 30, replace=False)]
    probe_p, probe_seed = _params(rng, N_A, V, 0.5), int(rng.integers(2**31))
    plan = [Call("model", names, c2i, num_iterations=300, n_a=N_A, seed=int(rng.integers(10_000)),
                 sample_every=100, n_samples=3, out={"sampled": (1,)}),
            Call("sample", probe_p, c2i, Rng(probe_seed), out={"sample": ()})]
    cases.append(Case("the names sampled during a short run", plan, compare=_names_compare(3)))
    return cases


CHECKS = {
    "clip_values": clip_values,
    "sample_values": sample_values,
    "optimize_values": optimize_values,
    "model_trains": model_trains,
}
