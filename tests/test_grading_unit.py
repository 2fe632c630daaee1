"""Unit tests of the trusted grader: plain-data transport, canonical notebooks, the sandbox."""
import json
import os
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from grading import plan, sandbox
from grading import notebook as nbk
from grading.spec import Case, default_compare, mismatch


# ------------------------------------------------------------------ plain data

def roundtrip(value):
    return plan.decode(plan.encode(value))


def test_plain_data_roundtrip():
    value = {"a": np.arange(6.0).reshape(2, 3), "t": (1, 2.5, "x", None, True), "l": [np.int64(3)]}
    back = roundtrip(value)
    assert np.array_equal(back["a"], value["a"]) and back["t"] == (1, 2.5, "x", None, True)
    assert isinstance(back["l"][0], np.ndarray) and back["l"][0].shape == () and back["l"][0] == 3


class AlwaysEqual:
    def __eq__(self, other):
        return True


class SneakyArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


def test_objects_that_are_not_plain_data_cannot_pass():
    back = roundtrip(AlwaysEqual())
    assert isinstance(back, plan.Unsupported)
    assert mismatch("a_next", back, np.zeros((2, 2))) is not None
    sneaky = np.zeros((2, 2)).view(SneakyArray)
    got = roundtrip(sneaky)
    assert type(got) is np.ndarray  # reduced to its data: its __eq__ is gone
    assert mismatch("a_next", got, np.ones((2, 2))) is not None
    obj = np.array([AlwaysEqual()], dtype=object)
    assert isinstance(roundtrip(obj), plan.Unsupported)


def test_mismatch_messages_name_value_and_shape():
    assert "shape (2, 3), expected (3, 2)" in mismatch("a", np.zeros((2, 3)), np.zeros((3, 2)))
    msg = mismatch("a", np.array([1.0, 2.0]), np.array([1.0, 2.5]), reveal=True)
    assert "first at index (1,)" in msg and "expected 2.5" in msg
    # a hidden check says what kind of mistake it is, never the expected value
    e = np.array([[0.123456, -1.5], [2.75, 3.25]])
    for got, words in ((np.zeros((2, 2)), "every entry is 0"), (-e, "sign is flipped"), (e.T, "transposed"),
                       (3 * e, "3 times"), (e + np.array([[0, 0], [0, 1.0]]), "most entries are right")):
        msg = mismatch("a", got, e)
        assert words in msg and "largest error" in msg, msg
        assert not any(f"{v:.4g}" in msg or f"{v:.8g}" in msg for v in e.ravel() if v not in (0.0,)), msg
    assert "expected" not in mismatch("x", 1.0, 2.5) and "off by 1.5" in mismatch("x", 1.0, 2.5)
    assert "keys are off" in mismatch("g", {"dx": np.zeros(1)}, {"dx": np.zeros(1), "da0": np.zeros(1)})
    assert mismatch("x", 1.0, 1.0 + 1e-12) is None


def test_run_plan_refs_errors_and_isolation_of_inputs():
    def f(x):
        x[0] = 99.0  # writes into its input: must not leak into the next call
        return x.sum(), {"twice": 2 * x}

    def boom(_):
        raise SystemExit(3)
    calls = [plan.Call("f", np.ones(3), save="r", out={"sum": (0,), "twice": (1, "twice")}),
             plan.Call("f", plan.Ref("r", 1, "twice"), out={"again": (0,)}),
             plan.Call("boom", 1, save="b", out={"boom": ()}),
             plan.Call("f", plan.Ref("b"), out={"dep": ()}),
             plan.Call("missing", out={"missing": ()})]
    res = plan.run_plan(plan.decode_plan(plan.encode_plan(calls)), {"f": f, "boom": boom})
    assert plan.decode(res["sum"]) == 101.0 and plan.decode(res["again"]) == 103.0
    assert "SystemExit" in res["boom"]["error"] and "did not succeed" in res["dep"]["error"]
    assert "not defined" in res["missing"]["error"]


def test_an_array_several_calls_take_travels_once_and_is_never_shared():
    def f(x):
        x[0] = 99.0                                  # writes into its input
        return x.sum()
    big = np.ones(10_000)
    calls = [plan.Call("f", big, out={"first": ()}), plan.Call("f", [big, 1], out={}),
             plan.Call("f", big, out={"second": ()})]
    encoded = plan.encode_plan(calls)
    assert len(encoded["arrays"]) == 1
    assert len(json.dumps(encoded)) < 1.2 * len(json.dumps(plan.encode(big)))
    res = plan.run_plan(plan.decode_plan(json.loads(json.dumps(encoded))), {"f": f})
    assert plan.decode(res["first"]) == plan.decode(res["second"]) == 99.0 + 9_999.0
    with pytest.raises(ValueError, match="not in the plan"):
        plan.decode_plan({"arrays": [], "calls": [{"func": "f", "args": [{"nd_at": 0}], "kwargs": {"dict": {}}}]})


def test_default_compare_fails_on_error_and_passes_on_match():
    case = Case("c", [])
    ref = {"a": np.ones(2)}
    assert default_compare(case, {"a": np.ones(2)}, ref) == []
    assert default_compare(case, {"a": {"error": "f raised ValueError: boom"}}, ref) == ["f raised ValueError: boom"]
    two = {"a": np.ones(2), "b": np.ones(2)}
    same = {"error": "f raised ValueError: boom"}
    assert default_compare(case, {"a": same, "b": same}, two) == ["f raised ValueError: boom"]  # said once


# ------------------------------------------------------------------ canonical notebooks

def _nb():
    nb = nbformat.v4.new_notebook()

    def cell(kind, src, **meta):
        c = nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
        c.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False, "locked": True, **meta}
        return c
    nb.cells = [cell("md", "# Intro", grade_id="intro"),
                cell("code", "import numpy as np", grade_id="setup"),
                cell("code", "def f(x):\n    raise NotImplementedError()", grade_id="f", solution=True, locked=False),
                cell("code", "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS",
                     grade_id="f_test", grade=True, points=1),
                cell("code", "def g(x):\n    raise NotImplementedError()", grade_id="g", solution=True, locked=False),
                cell("code", "assert g(1) == 1", grade_id="g_test", grade=True, points=1)]
    return nb


def _release():
    nb = _nb()
    for c in nb.cells:
        c.source = nbk.strip_hidden(c.source)
    return nb


def _answered():
    nb = _release()
    nb.cells[2].source = "def f(x):\n    return x + 1"
    nb.cells[4].source = "def g(x):\n    return x"
    return nb


def _sources(nb):
    return [c.source for c in nb.cells]


def test_canonical_of_honest_notebook_is_release_with_answers():
    canon = nbk.canonical_notebook(_answered(), _release())
    assert _sources(canon) == _sources(_answered())
    assert [c["source"] for c in nbk.exec_cells(canon)] == ["import numpy as np", "def f(x):\n    return x + 1",
                                                           "def g(x):\n    return x"]


@pytest.mark.parametrize("damage", ["delete_test", "duplicate_test", "rename_grade_id", "new_cell_ids",
                                    "strip_metadata", "points_changed", "extra_helper"])
def test_canonical_survives_damage(damage):
    nb = _answered()
    if damage == "delete_test":
        del nb.cells[3]
    elif damage == "duplicate_test":
        nb.cells.insert(4, nbformat.from_dict(dict(nb.cells[3])))
    elif damage == "rename_grade_id":
        nb.cells[2].metadata["nbgrader"]["grade_id"] = "my_f"
    elif damage == "new_cell_ids":
        for i, c in enumerate(nb.cells):
            c["id"] = f"changed-{i}"
    elif damage == "strip_metadata":
        nb.cells[4].metadata = {}
    elif damage == "points_changed":
        nb.cells[3].metadata["nbgrader"]["points"] = 100
    canon = nbk.canonical_notebook(nb, _release())
    if damage == "extra_helper":
        nb.cells.insert(3, nbformat.v4.new_code_cell("def helper():\n    return 1"))
        canon = nbk.canonical_notebook(nb, _release())
        assert "def helper():\n    return 1" in _sources(canon)
        return
    assert _sources(canon) == _sources(_answered())
    assert canon.cells[3].metadata["nbgrader"]["points"] == 1


def test_strip_hidden_removes_markers_and_body():
    assert nbk.strip_hidden(_nb().cells[3].source) == "assert f(1) == 2"


def test_read_notebook_reports_why(tmp_path):
    p = tmp_path / "bad.ipynb"
    p.write_text("{ not json")
    nb, why = nbk.read_notebook(str(p))
    assert nb is None and "not a valid notebook" in why
    nb, why = nbk.read_notebook(str(tmp_path / "missing.ipynb"))
    assert nb is None and "cannot open" in why


# ------------------------------------------------------------------ sandbox

needs_sandbox = pytest.mark.skipif(not sandbox.available()[0], reason="sandbox unavailable: " + sandbox.available()[1])


def _run_inside(tmp_path, code, **limits):
    proc = sandbox.launch([os.path.realpath(sys.executable), "-c", code], str(tmp_path),
                          {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, limits=limits, stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=120)
    return out.decode(), proc.returncode


@needs_sandbox
def test_sandbox_hides_the_course_and_the_network(tmp_path):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = f"""
import os, socket
print('source', os.path.exists({os.path.join(here, 'source')!r}), 'grading', os.path.exists({os.path.join(here, 'grading')!r}))
print('gradebook', os.path.exists({os.path.join(here, 'gradebook.db')!r}))
try:
    socket.create_connection(('127.0.0.1', 22), timeout=2); print('net open')
except OSError as e:
    print('net closed', e.errno)
try:
    open('/etc/x', 'w')
except OSError:
    print('etc read-only')
open('/sandbox/mine.txt', 'w').write('ok'); print('uid', os.getuid())
"""
    out, code_ = _run_inside(tmp_path, code)
    assert "source False grading False" in out and "gradebook False" in out
    assert "net closed" in out and "etc read-only" in out
    assert (tmp_path / "mine.txt").read_text() == "ok"
    assert "uid 0" not in out


@needs_sandbox
def test_sandbox_caps_memory_and_processes(tmp_path):
    out, _ = _run_inside(tmp_path, "b = None\ntry:\n    b = bytearray(3 * 2**30)\n    print('allocated')\nexcept MemoryError:\n    print('capped')",
                         memory_mb=1024)
    assert "capped" in out
    out, _ = _run_inside(tmp_path, """
import os
n = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            import time; time.sleep(5); os._exit(0)
        n += 1
except OSError:
    pass
print('forked', n)
""", processes=16)
    assert int(out.split("forked")[1].split()[0]) < 16


def test_grading_refuses_to_run_unsandboxed_unless_allowed(monkeypatch):
    from grading import nbgrader_plugin as plugin
    monkeypatch.setitem(plugin._state, "sandbox_ok", (False, "no user namespaces"))
    monkeypatch.setitem(plugin._state, "allow_unsandboxed", False)
    with pytest.raises(RuntimeError, match="Refusing to grade.*no user namespaces"):
        plugin._sandboxed()
    monkeypatch.setitem(plugin._state, "allow_unsandboxed", True)
    assert plugin._sandboxed() is False


def test_reference_runs_skip_student_only_calls():
    calls = [plan.Call("f", 1, out={"y": ()}), plan.Call("f", 2, out={"p0+": ()}, student_only=True)]
    assert [c["out"] for c in plan.encode_plan(calls)["calls"]] == [{"y": []}, {"p0+": []}]
    assert [c["out"] for c in plan.encode_plan(calls, reference=True)["calls"]] == [{"y": []}]


def test_seed_scopes():
    from grading import core
    assert core.seed_for(core.Settings()) != core.seed_for(core.Settings())
    run = core.Settings(seed_scope="run")
    assert core.seed_for(run) == core.seed_for(run) == core._RUN_SEED
    assert core.seed_for(core.Settings(seed=7, seed_scope="run")) == 7
    with pytest.raises(ValueError):
        core.Settings(seed_scope="class")
