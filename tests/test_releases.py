"""No release ships the answer to its own graded functions.

Two checks for every assignment: (1) the utils modules of release/<id>/ define none of the names of its graded
functions; (2) nothing importable from those modules computes what a graded function computes: every public
function of every shipped module is called with the arguments of the assignment's hidden checks (a fixed seed),
in a separate process that imports the release's own utils package, and none may return an output of the
teacher's function (an array that is not one of the inputs, not constant, and equal within the course's
tolerance). A third test shows that the second check does find an answer key: run on the repository's utils/,
which holds utils/nmt.py, it names nmt's attention step and match rate for date_translation.
"""
import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from grading import core
from grading import plan as P
from tools import course
from utils import testing

ASSIGNMENTS = [a for a in course.assignments() if os.path.exists(os.path.join(course.ROOT, "grading", "specs", a + ".py"))]

# Runs in the release folder: ``import utils`` finds the release's package (the folder comes first on sys.path).
PROBE = r"""
import importlib, importlib.util, inspect, json, os, sys, warnings
warnings.simplefilter("ignore")
import matplotlib
matplotlib.use("Agg")
spec = importlib.util.spec_from_file_location("plan", sys.argv[1])
P = importlib.util.module_from_spec(spec)
spec.loader.exec_module(P)
calls = P.decode_plan(json.loads(sys.stdin.read()))
functions = {}
for name in sorted(os.listdir("utils")):
    if not name.endswith(".py") or name == "__init__.py":
        continue
    module = importlib.import_module("utils." + name[:-3])
    for fname, f in inspect.getmembers(module, inspect.isfunction):
        if f.__module__ == module.__name__ and not fname.startswith("_"):
            functions[f"{name[:-3]}.{fname}"] = f
out = {}
for k, call in enumerate(calls):
    for qualname, f in functions.items():
        probe = P.Call(qualname, *call.args, out={"all": ()}, **call.kwargs)
        out[f"{k}|{qualname}"] = P.run_plan([probe], functions)["all"]
print(json.dumps(out))
"""


def graded_names(assignment):
    """Names of the functions the teacher's solution cells define."""
    names = set()
    for src in course.teacher_answers(assignment).values():
        names |= {n.name for n in ast.parse(src).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return names


def defined_names(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    return names


@pytest.mark.parametrize("assignment", course.assignments())
def test_release_utils_define_none_of_the_graded_names(assignment):
    folder = os.path.join(course.ROOT, "release", assignment, "utils")
    graded = graded_names(assignment)
    assert graded
    clashes = {name: sorted(defined_names(os.path.join(folder, name)) & graded)
               for name in sorted(os.listdir(folder)) if name.endswith(".py")}
    assert not {k: v for k, v in clashes.items() if v}, f"release/{assignment}/utils defines graded names: {clashes}"


def teacher_namespace(assignment):
    """The teacher's graded functions with the imports of the notebook (import lines of its code cells)."""
    ns = {}
    for cell in course.teacher_notebook(assignment).cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if line.startswith(("import ", "from ")):
                    exec(line, ns)
    return course.teacher_namespace(assignment, ns)


def _signature(value):
    """The structure of an argument: arrays by shape and dtype, containers by their items, the rest by type."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_signature(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _signature(v)) for k, v in sorted(value.items()))
    return type(value).__name__


def graded_calls(assignment, names):
    """The calls of the hidden checks (seed 0) to graded functions whose arguments need no earlier result, one per
    graded function and structure of arguments (a utils function that answers one set of arguments of a
    structure answers the others: checking them all only repeats the work, 50 s for trigger_word)."""
    calls, seen = [], set()
    for case in core.build_cases(assignment, 0).values():
        for call in case.plan:
            if call.func in names and not call.student_only and "Ref(" not in repr(call.args) + repr(call.kwargs):
                key = (call.func, _signature(call.args), _signature(call.kwargs))
                if key not in seen:
                    seen.add(key)
                    calls.append(P.Call(call.func, *call.args, out={"all": ()}, **call.kwargs))
    return calls


def _leaves(value, out):
    if isinstance(value, dict):
        for v in value.values():
            _leaves(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _leaves(v, out)
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        with np.errstate(invalid="ignore", over="ignore"):
            value = value.astype(np.float64)
        if np.all(np.isfinite(value)):
            out.append(value)
    return out


def informative(value, inputs):
    """The numeric arrays of a teacher's output that say something: 2 entries or more, not one constant, not
    an input handed back (caches hold their inputs)."""
    return [v for v in _leaves(value, []) if v.size >= 2 and np.ptp(v) > 0
            and not any(i.shape == v.shape and testing.close(i, v) for i in inputs)]


def answers_found(assignment, folder):
    """["module.function answers graded_function"] for the public functions of ``folder``/utils that return an
    output of a graded function on its hidden checks' arguments."""
    names = graded_names(assignment)
    calls = graded_calls(assignment, names)
    teacher = teacher_namespace(assignment)
    expected = [P.decode(P.run_plan([c], teacher)["all"]) for c in calls]
    proc = subprocess.run([sys.executable, "-c", PROBE, os.path.join(course.ROOT, "grading", "plan.py")],
                          cwd=folder, input=json.dumps(P.encode_plan(calls)), capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = set()
    for key, value in json.loads(proc.stdout.splitlines()[-1]).items():
        k, qualname = key.split("|")
        if isinstance(value, dict) and set(value) == {"error"}:     # the function refused these arguments
            continue
        call, got = calls[int(k)], P.decode(value)
        inputs = _leaves([call.args, call.kwargs], [])
        got_leaves = _leaves(got, [])
        if any(any(g.shape == e.shape and testing.close(g, e) for g in got_leaves)
               for e in informative(expected[int(k)], inputs)):
            found.add(f"{qualname} answers {call.func}")
    return sorted(found)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nothing_in_a_release_computes_its_graded_functions(assignment):
    found = answers_found(assignment, os.path.join(course.ROOT, "release", assignment))
    assert not found, f"release/{assignment}/utils gives away graded answers: {found}"


def test_the_probe_finds_an_answer_key_when_one_is_there():
    """Run on the course's own utils/ (which holds the answer key utils/nmt.py), the probe names it."""
    found = answers_found("date_translation", course.ROOT)
    assert "nmt.attention_step_forward answers one_step_attention" in found
    assert "nmt.match_rate answers exact_match" in found
