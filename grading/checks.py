"""Reusable building blocks for specs: random inputs, gradient probes, consistency rules.

Isolation rule: each test cell judges one graded function. When a function builds on another
graded function (rnn_forward on rnn_cell_forward, a backward pass on a forward pass), a mistake in
the building block is charged to the building block only: the dependent function passes when it
matches the reference, or when it is consistent with the student's own (wrong) building block, and
that building block shows real work on the case (``substantive``): finite numbers, not one constant
everywhere (all zeros is the typical stub), and different outputs for different inputs. A loop over
a wrong cell keeps the loop's points; zeros built on zeros earn nothing.
"""
import numpy as np

from utils import gradcheck, testing
from .plan import Call, Ref, take
from .spec import NotJudged, mismatch

def randn(rng, *shape):
    return rng.standard_normal(shape)


def params_like(rng, shapes, scale=1.0):
    """{name: standard normal array of shape} (float64)."""
    return {k: scale * rng.standard_normal(s) for k, s in shapes.items()}


def perturbations(rng, arrays, per_array=3):
    """[(name, index)] a few entries of every array, chosen by rng (utils.gradcheck.sample_indices)."""
    return [(name, idx) for name, a in arrays.items() for idx in gradcheck.sample_indices(a.shape, per_array, rng)]


def gradient_probe(forward, build_args, arrays, outputs, backward_calls, rng, per_array=3):
    """A plan that lets the grader check a backward pass against the student's own forward pass.

    forward:        name of the forward function.
    build_args:     f(arrays) -> positional args of ``forward`` (arrays: dict name -> array).
    arrays:         dict name -> float64 array (inputs and parameters to probe).
    outputs:        {label: path} of the forward outputs entering the loss, e.g. {"a": (0,)}.
    backward_calls: f() -> list of Calls that compute the analytic gradients from Ref("fw", ...)
                    and label them "grad" (a dict with keys d+name).
    Returns (plan, picks): the loss is sum(W_label * output) with the W given in the compare.
    """
    plan = [Call(forward, *build_args(arrays), save="fw", out={f"base_{k}": v for k, v in outputs.items()})]
    plan += backward_calls()
    picks = perturbations(rng, arrays, per_array)
    for n, (name, idx) in enumerate(picks):
        for sign in (1, -1):
            moved = {k: v.copy() for k, v in arrays.items()}
            moved[name][idx] += sign * gradcheck.H
            plan.append(Call(forward, *build_args(moved), student_only=True,
                             out={f"p{n}{'+' if sign > 0 else '-'}_{k}": v for k, v in outputs.items()}))
    return plan, picks


def gradient_compare(picks, weights, deps=(), tol=gradcheck.TOLERANCE, grad_label="grad"):
    """Compare function for ``gradient_probe``: numeric vs analytic on the picked entries.

    weights: {output label: W} so that loss = sum_label sum(W * output).
    deps:    labels of a building block that must match the reference for the check to mean
             anything; when one does not (and shows real work, see ``substantive``), the check
             passes here and the mistake is charged to the test cell of that function. When the
             forward outputs differ from the reference, the check passes too: the backward pass of
             a wrong forward cannot be judged by differences (its values cases still judge it).
    """
    def compare(student, reference):
        for label in ("base_" + k for k in weights):
            if mismatch(label, student.get(label), reference[label]):
                return NotJudged("your forward pass differs from the expected one here, so finite differences "
                                 "of it cannot judge the backward pass (the other checks of this cell do)")
        for label in deps:
            if mismatch(label, student.get(label), reference[label]) and substantive(student.get(label)):
                return NotJudged("a building block it relies on is wrong here; that block's own test cell "
                                 "is charged for it")
        grads = student.get(grad_label)
        if isinstance(grads, dict) and set(grads) == {"error"}:   # the backward pass raised
            return [str(grads["error"])]
        if not isinstance(grads, dict):
            return [f"the gradients should be a dict, got {type(grads).__name__}"]
        num, ana = [], []
        for n, (name, idx) in enumerate(picks):
            loss = {}
            for sign in "+-":
                total = 0.0
                for k, w in weights.items():
                    out = student.get(f"p{n}{sign}_{k}")
                    if not isinstance(out, np.ndarray) or out.shape != w.shape:
                        return [f"the forward pass failed on a perturbed input ({k})"]
                    total += float(np.sum(w * out))
                loss[sign] = total
            g = grads.get("d" + name)
            if not isinstance(g, np.ndarray) or g.shape != reference[grad_label]["d" + name].shape:
                return [f"d{name} is missing or has the wrong shape"]
            num.append(gradcheck.centred_difference(loss["+"], loss["-"]))
            ana.append(float(g[idx]))
        err = gradcheck.relative_error(np.array(ana), np.array(num))
        if not err < tol:
            worst = picks[int(np.argmax(np.abs(np.array(ana) - np.array(num))))][0]
            return [f"gradient check against your own forward pass failed: relative error {err:.2e} "
                    f"(should be < {tol:g}); worst on d{worst}"]
        return []
    return compare


def _numbers(value, out):
    """Collect the numeric leaves of ``value`` as float arrays into ``out``; False if a leaf is not numeric."""
    if isinstance(value, dict):
        if set(value) == {"error"}:
            return False
        return all(_numbers(v, out) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_numbers(v, out) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.number)):
        out.append(np.array([float(value)]))
        return True
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        out.append(value.astype(np.float64).ravel())
        return True
    return False


def substantive(*groups):
    """True when a building block's outputs look like real work.

    groups: the block's outputs on different inputs (each a value or a list of values, plain data).
    Real work: every leaf is a finite number, the numbers are not all one constant, and (given two
    or more groups) the outputs differ between the inputs.
    """
    flat = []
    for group in groups:
        leaves = []
        if not _numbers(group, leaves) or not leaves:
            return False
        v = np.concatenate(leaves)
        if v.size == 0 or not np.all(np.isfinite(v)):
            return False
        flat.append(v)
    everything = np.concatenate(flat)
    if np.ptp(everything) == 0:
        return False
    if len(flat) > 1 and all(a.shape == flat[0].shape and np.array_equal(a, flat[0]) for a in flat[1:]):
        return False
    return True


def stepwise_rules(T, names, axis=-1):
    """Consistency rules for a sequence function built from a step function (rnn_forward from
    rnn_cell_forward, a decoder from its attention step): for every t < T and every name, the
    sequence's output ``name`` sliced at t along ``axis`` equals the step call's output labelled
    ``f"step{t}_{name}"`` (the plan runs the student's step function on the student's own previous
    outputs). Returns f(student) -> [labels that differ]."""
    def rules(s):
        bad = []
        for t in range(T):
            for name in names:
                got, step = s.get(name), s.get(f"step{t}_{name}")
                if not (isinstance(got, np.ndarray) and isinstance(step, np.ndarray) and got.ndim == step.ndim + 1
                        and -got.ndim <= axis < got.ndim and t < got.shape[axis]
                        and testing.close(np.take(got, t, axis=axis), step)):
                    bad.append(f"{name} at step {t}")
        return bad
    return rules


def summed_rules(T, names, total_label, step_label="g{t}", extra=None):
    """Consistency rules for a backward pass composed of step backward passes (rnn_backward from
    rnn_cell_backward): each gradient in ``names`` of the dict ``total_label`` equals the sum over t
    of the step gradients (dicts labelled ``step_label.format(t=t)``); ``extra(steps)`` may return
    more {name: expected array} (e.g. the stacked input gradients). Returns f(student) -> [names that differ]."""
    def rules(s):
        total, steps = s.get(total_label), [s.get(step_label.format(t=t)) for t in range(T)]
        if not isinstance(total, dict) or not all(isinstance(st, dict) for st in steps):
            return ["not comparable"]
        want = {n: sum(st[n] for st in steps) for n in names}
        want.update(extra(steps) if extra else {})
        return [n for n in want if not testing.close(total.get(n), want[n])]
    return rules


def consistent_or_matching(main_labels, rules, block_labels, block_groups=None):
    """Compare for a function built on another graded function.

    main_labels:  labels of the function's own outputs, compared with the reference first.
    rules:        f(student) -> list of failure messages: is the output consistent with the
                  student's own building block (per-step outputs returned in the same plan)?
    block_labels: labels of the building block on inputs that are identical on both sides; if
                  they match the reference, the block is right and consistency is not enough.
    block_groups: lists of labels of the block on different inputs (e.g. two time steps); the
                  block must be ``substantive`` over them for consistency to count (default: the
                  block labels as one group).
    """
    groups = block_groups or [block_labels]

    def compare(student, reference):
        direct = [m for m in (mismatch(k, student.get(k, {"error": "missing"}), reference[k])
                              for k in main_labels) if m]
        if not direct:
            return []
        block_wrong = any(mismatch(k, student.get(k, {"error": "missing"}), reference[k]) for k in block_labels)
        if not block_wrong:
            return direct
        values = [[student.get(k) for k in g] for g in groups]
        raised = any(isinstance(v, dict) and set(v) == {"error"} for g in values for v in g)
        if not raised and not substantive(*values):  # a block that raised is left to ``rules``
            return direct + ["(your building block returns no real values here, so it cannot excuse this one)"]
        try:
            inconsistent = rules(student)
        except Exception:  # noqa: BLE001 - an unexpected kind of value is simply not consistent
            inconsistent = ["not comparable"]
        return direct if inconsistent else []
    return compare


__all__ = ["Call", "Ref", "take", "randn", "params_like", "gradient_probe", "gradient_compare",
           "consistent_or_matching", "substantive", "stepwise_rules", "summed_rules"]
