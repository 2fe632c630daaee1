"""Plans: what a check asks a notebook's functions to do, written as plain data.

A plan is a list of ``Call``s. Each call names a function defined by the notebook, gives its
arguments (arrays, numbers, strings, lists, tuples, dicts, ``Ref`` to an earlier result, ``Rng``
for a fresh ``numpy.random.Generator``) and says which parts of the result to hand back (``out``).
The same plan runs twice: inside the sandbox against the student's functions, and in a trusted
process against the teacher's. Only plain data crosses the sandbox wall, in both directions:
``encode``/``decode`` turn values into JSON plus ``.npy`` bytes, and refuse anything else.

This module is copied into the sandbox, so it imports only numpy and the standard library.
"""
import base64
import io
import json

import numpy as np

MAX_ARRAY_BYTES = 64 * 2**20


class Ref:
    """The result of the earlier call saved as ``name``, then indexed by ``path`` (ints or keys)."""

    def __init__(self, name, *path):
        self.name, self.path = name, list(path)

    def __repr__(self):
        return f"Ref({self.name!r}, *{self.path!r})"


class Rng:
    """A fresh ``numpy.random.default_rng(seed)`` built on the side where the plan runs."""

    def __init__(self, seed):
        self.seed = int(seed)


class Call:
    """Call ``func(*args, **kwargs)``; keep the result as ``save``; return ``out`` labels.

    out: dict label -> path (tuple of ints/keys into the result), or None to return nothing.
         The path () returns the whole result.
    student_only: the call probes the student's own functions (a perturbed forward pass for a
         gradient check, a step on the student's own previous outputs); its results are compared
         with other student results only, so the teacher's reference run skips it.
    """

    def __init__(self, func, *args, save=None, out=None, student_only=False, **kwargs):
        self.func, self.args, self.kwargs, self.save, self.out = func, list(args), kwargs, save, out or {}
        self.student_only = bool(student_only)


# ---------------------------------------------------------------- encoding to plain data

def _array_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _array_from(text):
    raw = base64.b64decode(text.encode("ascii"))
    if len(raw) > MAX_ARRAY_BYTES + 1024:
        raise ValueError("array too large")
    return np.load(io.BytesIO(raw), allow_pickle=False)


def encode(value, _depth=0, table=None):
    """Turn a value into JSON-able plain data; anything that is not plain data becomes a note.

    ndarray (numeric, bool or str) -> {"nd": base64 .npy}; tuple -> {"tuple": [...]};
    dict with str keys -> {"dict": {...}}; list; int/float/bool/str/None as themselves;
    anything else -> {"unsupported": type name}. Subclasses are reduced to their base types.
    table: a plan's array table (see encode_plan): an ndarray becomes {"nd_at": k}, the same array object
    stored once however often it appears.
    """
    if _depth > 20:
        return {"unsupported": "nesting deeper than 20"}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if table is not None and type(value) is np.ndarray:
        k = table["index"].get(id(value))
        if k is None:
            stored = encode(value)
            if "nd" not in stored:
                return stored
            k = table["index"][id(value)] = len(table["arrays"])
            table["arrays"].append(stored["nd"])
        return {"nd_at": k}
    if isinstance(value, (np.generic, np.ndarray)):
        a = np.array(value, copy=True)
        a = a.view(np.ndarray) if isinstance(a, np.ndarray) else np.asarray(a)
        if a.dtype.kind not in "biufUS" or a.nbytes > MAX_ARRAY_BYTES:
            return {"unsupported": f"array of dtype {a.dtype} and {a.nbytes} bytes"}
        return {"nd": _array_bytes(a)}
    if isinstance(value, (bool, int, float, str)):  # subclasses of plain types
        base = next(t for t in (bool, int, float, str) if isinstance(value, t))
        return base.__new__(base, value) if base is not bool else bool(int(value))
    if isinstance(value, tuple):
        return {"tuple": [encode(v, _depth + 1, table) for v in tuple.__iter__(value)]}
    if isinstance(value, list):
        return [encode(v, _depth + 1, table) for v in list.__iter__(value)]
    if isinstance(value, dict):
        out = {}
        for k in dict.keys(value):
            if type(k) is not str:
                return {"unsupported": "dict with non-string keys"}
            out[k] = encode(dict.__getitem__(value, k), _depth + 1, table)
        return {"dict": out}
    if isinstance(value, Ref):
        return {"ref": value.name, "path": encode(value.path, _depth + 1)}
    if isinstance(value, Rng):
        return {"rng": value.seed}
    return {"unsupported": type(value).__name__}


def decode(data, _depth=0, arrays=None):
    """Inverse of ``encode`` for plain data (Ref/Rng become markers resolved by ``run_plan``); ``arrays`` is a
    plan's _ArrayTable."""
    if _depth > 40:
        raise ValueError("nesting too deep")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v, _depth + 1, arrays) for v in data]
    if type(data) is dict:
        if "nd" in data:
            return _array_from(data["nd"])
        if "nd_at" in data and arrays is not None:
            return arrays.get(int(data["nd_at"]))
        if "tuple" in data:
            return tuple(decode(v, _depth + 1, arrays) for v in data["tuple"])
        if "dict" in data:
            return {str(k): decode(v, _depth + 1, arrays) for k, v in data["dict"].items()}
        if "ref" in data:
            return Ref(str(data["ref"]), *decode(data["path"], _depth + 1, arrays))
        if "rng" in data:
            return Rng(int(data["rng"]))
        if "unsupported" in data:
            return Unsupported(str(data["unsupported"]))
    raise ValueError(f"not plain data: {type(data).__name__}")


class Unsupported:
    """Stands for a returned value that was not plain data (e.g. a custom object)."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<not plain data: {self.what}>"


def encode_plan(plan, reference=False):
    """A list of Calls -> JSON-able {"arrays": [base64 .npy], "calls": [...]} (for the reference run: without
    the student-only calls). An array that several calls take (the same object: a background passed to the
    function, to probes of its building blocks and to a replay) is sent once; every place it appears still
    gets an array of its own when the call runs."""
    table = {"arrays": [], "index": {}}
    calls = [{"func": c.func, "args": encode(c.args, table=table), "kwargs": encode(c.kwargs, table=table),
              "save": c.save, "out": {k: list(v) for k, v in c.out.items()}}
             for c in plan if not (reference and c.student_only)]
    return {"arrays": table["arrays"], "calls": calls}


class _ArrayTable:
    """The arrays of a decoded plan, each decoded once (run_plan copies every array argument when it calls a
    function, so the places an array appears never share it)."""

    def __init__(self, texts):
        self.texts, self.done = list(texts), {}

    def get(self, k):
        if not 0 <= k < len(self.texts):
            raise ValueError(f"array {k} is not in the plan")
        if k not in self.done:
            self.done[k] = _array_from(str(self.texts[k]))
        return self.done[k]


def decode_plan(data):
    arrays = _ArrayTable(data.get("arrays", []))
    plan = []
    for d in data["calls"]:
        c = Call(str(d["func"]), *decode(d["args"], arrays=arrays), save=d.get("save"),
                 out={str(k): tuple(tuple(p) if isinstance(p, list) else p for p in v)
                      for k, v in d.get("out", {}).items()})
        c.kwargs = decode(d["kwargs"], arrays=arrays)
        plan.append(c)
    return plan


# ---------------------------------------------------------------- running a plan

def _follow(value, path):
    """Index ``value`` by each step of ``path``; a step ["take", axis, i] is np.take(value, i, axis)."""
    for step in path:
        if isinstance(step, (list, tuple)) and len(step) == 3 and step[0] == "take":
            value = np.take(np.asarray(value), int(step[2]), axis=int(step[1]))
        else:
            value = value[step]
    return value


def take(axis, index):
    """A path step selecting ``index`` along ``axis`` (e.g. time step t of an (n, m, T) array)."""
    return ["take", int(axis), int(index)]


# Operations a plan may apply to plain data on either side (not functions of the notebook).
# "id" hands back its argument, so a plan can keep a dict a function updates in place (Ref it later).
OPS = {"+": lambda a, b: np.add(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)),
       "id": lambda x: x}


def _resolve(arg, saved):
    if isinstance(arg, Ref):
        if arg.name not in saved:
            raise LookupError(f"the call saved as '{arg.name}' did not succeed")
        return _follow(saved[arg.name], arg.path)
    if isinstance(arg, Rng):
        return np.random.default_rng(arg.seed)
    if isinstance(arg, list):
        return [_resolve(a, saved) for a in arg]
    if isinstance(arg, tuple):
        return tuple(_resolve(a, saved) for a in arg)
    if isinstance(arg, dict):
        return {k: _resolve(v, saved) for k, v in arg.items()}
    if isinstance(arg, np.ndarray):
        return arg.copy()  # a function that writes into its inputs must not leak into the next call
    return arg


def run_plan(plan, namespace):
    """Run a plan against the functions in ``namespace``; return {label: plain data or error note}.

    A call that raises, or a label whose path does not exist, gives {"error": "..."} for its labels;
    later calls that depend on it fail the same way. Never raises for student errors.
    """
    saved, results = {}, {}
    for call in plan:
        try:
            func = OPS.get(call.func) or namespace.get(call.func)
            if not callable(func):
                raise NameError(f"{call.func} is not defined (or not a function)")
            value = func(*_resolve(call.args, saved), **_resolve(call.kwargs, saved))
        except BaseException as exc:  # noqa: B036 - student code may raise anything, SystemExit included
            if isinstance(exc, KeyboardInterrupt):
                raise
            why = str(exc)[:300]
            note = {"error": f"{call.func} raised {type(exc).__name__}" + (f": {why}" if why else "")}
            for label in call.out:
                results[label] = note
            continue
        if call.save:
            saved[call.save] = value
        for label, path in call.out.items():
            try:
                results[label] = encode(_follow(value, path))
            except Exception as exc:
                where = "".join(f"[{p!r}]" for p in path)
                results[label] = {"error": f"{call.func}(...){where} is missing: {type(exc).__name__}: {exc}"}
    return results


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))
