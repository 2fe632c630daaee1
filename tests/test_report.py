"""The class report (tools/report.py), the per-function grades (grading/export.py) and the integrity scan
(grading/integrity.py), on a small fake class: a gradebook made with nbgrader's API, a release notebook with two
graded functions and grading reports written by hand. The real graded class is reported in test_autograde.py."""
import csv
import json
import os
import re

import nbformat
import pytest

from grading import export, integrity
from grading import notebook as nbk
from tools import course, report

A = "fake_assignment"
pytestmark = pytest.mark.filterwarnings("ignore:Object of type")   # nbgrader's gradebook API (see tools/course.run)


# ------------------------------------------------------------------ failure kinds

@pytest.mark.parametrize("message, kind", [
    ("hidden check 'random shapes #1': rnn_forward raised NotImplementedError: ", "not answered"),
    ("hidden check 'x': a: f raised NotImplementedError: ; y: f raised NotImplementedError: ", "not answered"),
    ("hidden check 'x': this check did not run (see the outcome of the submission)", "not run"),
    ("visible check 'x': djmodel raised NameError: djmodel is not defined (or not a function)", "raised NameError"),
    ("hidden check 'x': f(...)[0] is missing: TypeError: 'NoneType' object is not subscriptable", "type"),
    ("hidden check 'x': overall is 0.51, expected 0.5; overall (short predictions) is 0.01, expected 0", "values"),
    ("hidden check 'x': a: rnn_forward raised ValueError: could not broadcast input array from shape (5,10)",
     "raised ValueError"),
    ("hidden check 'x': f(...)[0] is missing: TypeError: 'NoneType' object is not subscriptable; "
     "g raised TypeError: boom", "type"),
    ("hidden check 'x': gradients should be a dict with keys ['da'], got a NoneType", "type"),
    ("hidden check 'x': results has dtype <U32, expected numbers", "type"),
    ("hidden check 'x': your result could not be compared (UFuncTypeError); check the types", "type"),
    ("hidden check 'x': a_next has shape (5, 10), expected (3, 2); yt_pred has shape (2, 10), expected (3, 2)",
     "shape"),
    ("hidden check 'x': dxt is missing or has the wrong shape", "shape"),
    ("hidden check 'x': indices should be a sequence of length 5, got a list", "shape"),
    ("hidden check 'x': a_next is wrong at 1 of 15 entries; first at index (0, 0); largest error 0.01", "values"),
    ("visible check 'x': loss is 2.0059995, expected 1.9959995", "values"),
    ("hidden check 'x': gradient check against your own forward pass failed: relative error 3.56e-03", "values"),
    ("hidden check 'x': this check exceeded 60 s", "other"),
])
def test_failure_kind_reads_the_message(message, kind):
    """A report line ("hidden check 'name': " and the case's failures joined by "; ") gets the kind the grader
    gives the case's first failure (spec.failure_kind)."""
    assert export.failure_kind(message) == kind


def test_check_failures_prefer_the_graders_case_kinds():
    check = {"passed": False, "failures": ["hidden check 'a': x is wrong at 1 of 4 entries",
                                           "hidden check 'b': x has shape (1,), expected (2,)"]}
    assert export.check_failures(check) == [("values", check["failures"][0]), ("shape", check["failures"][1])]
    check["cases"] = [{"name": "a", "hidden": True, "passed": False, "kind": "other"},
                      {"name": "c", "hidden": True, "passed": True, "kind": ""},
                      {"name": "b", "hidden": True, "passed": False, "kind": "raised KeyError"}]
    assert export.check_failures(check) == [("other", check["failures"][0]), ("raised KeyError", check["failures"][1])]


# ------------------------------------------------------------------ integrity scan

def _flags(code):
    return [(f.category, f.what) for f in integrity.scan_source(code)]


def _categories(code):
    return {f.category for f in integrity.scan_source(code)}


@pytest.mark.parametrize("code", [
    "import numpy as np\nnp.allclose = lambda *a, **k: True",
    "import numpy\nnumpy.testing.assert_allclose = print",
    "from utils import testing\ntesting.assert_close = lambda *a, **k: None",
    "import utils.testing as t\nt.RTOL = 1.0",
    "np.random.seed = lambda s: None",                       # np from the setup cell
    "import numpy as np\nsetattr(np, 'isclose', max)",
    "setattr(__import__('numpy'), 'allclose', max)",
    "import sys\nsys.modules['numpy'] = None",
    "import sys\nsys.modules.update(numpy=None)",
    "import builtins\nbuiltins.print = lambda *a: None",
    "__builtins__['len'] = lambda x: 0",
    "get_ipython().events.register('post_run_cell', print)",
    "ip = get_ipython()\nip.set_custom_exc((Exception,), print)",
    "get_ipython().input_transformers_post.append(lambda lines: [])",
    "import sys\nsys.excepthook = print",
    "from unittest import mock\nmock.patch('numpy.allclose', return_value=True).start()",
    "del np.allclose",
])
def test_patching_is_flagged(code):
    assert _categories(code) == {"patch"}, _flags(code)


@pytest.mark.parametrize("code", [
    "open('/home/teacher/source/a/a.ipynb').read()",
    "import numpy as np\nw = np.load('../../source/weights.npz')",
    "import os\nos.listdir('/')",
    "import glob\nglob.glob('/*/source/*/*.ipynb')",
    "from pathlib import Path\nPath('~/secrets').expanduser().read_text()",
    "import os\nopen(os.path.join('..', 'gradebook.db'), 'rb')",
    "open(f'/tmp/{name}.txt')",
    "from pathlib import Path\nlist(Path.home().iterdir())",
])
def test_reading_outside_the_folder_is_flagged(code):
    assert _categories(code) == {"files"}, _flags(code)


@pytest.mark.parametrize("code", [
    "import os\nos.write(3, b'x')",
    "import os\nf = os.fdopen(4, 'w')",
    "import os\nos.kill(os.getppid(), 9)",
    "import os\nos._exit(0)",
    "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)",
    "import ctypes",
    "import socket\nsocket.socket()",
    "import subprocess\nsubprocess.run(['ls'])",
    "from os import _exit\n_exit(2)",
    "!cat /etc/passwd",
    "x = open('/proc/self/fd/1', 'w')",
])
def test_talking_to_the_process_is_flagged(code):
    assert "process" in _categories(code) and _categories(code) <= {"process", "files"}, _flags(code)


@pytest.mark.parametrize("code", [
    "import sys\nf = sys._getframe(1).f_globals",
    "import inspect\nframes = inspect.stack()",
    "import gc\nobjs = gc.get_objects()",
    "def f():\n    import inspect\n    return inspect.currentframe().f_back.f_locals",
    "subs = object.__subclasses__()",
])
def test_walking_frames_or_the_gc_is_flagged(code):
    assert _categories(code) == {"introspection"}, _flags(code)


def test_code_that_does_not_parse_is_flagged_not_an_error():
    flags = integrity.scan_source("def f(:\n    return 1")
    assert [f.category for f in flags] == ["unparsable"] and flags[0].line == 1
    assert "could not be parsed" in flags[0].what


def test_a_flag_says_where_and_which_line():
    flag, = integrity.scan_source("import numpy as np\n\ndef helper(x):\n    np.dot = lambda a, b: 0\n    return x")
    assert (flag.category, flag.line, flag.where, flag.code) == ("patch", 4, "helper", "np.dot = lambda a, b: 0")


@pytest.mark.parametrize("code", [
    "import numpy as np\nX = np.load('data/trigger/weights.npz')\nnames = open('data/dinos.txt').read()",
    "%matplotlib inline\nimport numpy as np\nrng = np.random.default_rng(0)\nnp.random.seed(1)",
    "import sys, warnings\nprint('note', file=sys.stderr)\nwarnings.warn('careful')",
    "def f(parameters):\n    parameters['Wax'] -= 0.1\n    grads = {}\n    grads['dWax'] = 1\n    return grads",
    "import numpy as np\nnp.set_printoptions(precision=3)\nx = np.testing.assert_allclose(1, 1)",
    "from utils import testing\ntesting.assert_close('a', 1.0, 1.0)",
    "import os\nos.makedirs('out', exist_ok=True)\npath = os.path.join('data', 'jazz')",
    "class Model:\n    def __init__(self):\n        self.W = 0\nm = Model()\nm.W = 3",
])
def test_honest_code_is_not_flagged(code):
    assert integrity.scan_source(code) == []


def test_the_teachers_answers_raise_no_flag():
    """Every graded function of every assignment, as the teacher wrote it (a false positive here would flag
    every perfect submission)."""
    for a in course.assignments():
        nb = nbformat.read(os.path.join(course.ROOT, "source", a, a + ".ipynb"), as_version=4)
        modules = integrity.imports_of([c.source for c in nb.cells if c.cell_type == "code"])
        for gid, code in nbk.solutions(nb).items():
            assert integrity.scan_source(code, modules) == [], f"{a}/{gid}: {integrity.scan_source(code, modules)}"


# ------------------------------------------------------------------ a fake graded class

FUNCS = {"add_one": ("def add_one(x):\n    return x + 1\n", 2.0), "double": ("def double(x):\n    return 2 * x\n", 3.0)}


def _release():
    nb = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("import numpy as np")
    setup.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": "setup"}
    nb.cells.append(setup)
    for name, (_, points) in FUNCS.items():
        sol = nbformat.v4.new_code_cell(f"def {name}(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
        sol.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": name}
        test = nbformat.v4.new_code_cell(f'"""{name} works"""')
        test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                                     "grade_id": f"{name}_values"}
        nb.cells += [sol, test]
    return nb


# student -> (answers, {function: failure message or None}, outcome, cause, extra cell)
CLASS = {
    "ada": ({n: c for n, (c, _) in FUNCS.items()}, {"add_one": None, "double": None}, "graded", "", None),
    "bob": ({}, {"add_one": "rnn raised NotImplementedError: ", "double": "double raised NotImplementedError: "},
            "graded", "", None),
    "cyd": ({"add_one": FUNCS["add_one"][0], "double": "def double(x):\n    return x\n"},
            {"add_one": None, "double": "y is wrong at 3 of 4 entries; first at index (0,); largest error 2"},
            "graded", "", None),
    "eve": ({"add_one": "import numpy as np\nnp.allclose = lambda *a, **k: True\n" + FUNCS["add_one"][0],
             "double": FUNCS["double"][0]},
            {"add_one": "y has shape (3,), expected (4,)", "double": None}, "graded", "", None),
    "mal": ({n: c for n, (c, _) in FUNCS.items()}, {"add_one": None, "double": "this check did not run (see the "
                                                     "outcome of the submission)"},
            "crashed", "cell 5 ended the process (exit status 3)", "import os\nos._exit(3)"),
    "pat": ({n: c for n, (c, _) in FUNCS.items()}, {"add_one": None, "double": None}, "graded", "",
            "import json\nsecret = json.load(open('/srv/course/source/fake/fake.ipynb'))"),
}


@pytest.fixture
def fake_class(tmp_path, gradebook_template):
    from nbgrader.api import Gradebook
    root = tmp_path
    os.makedirs(root / "release" / A)
    release = _release()
    nbformat.write(release, str(root / "release" / A / (A + ".ipynb")))
    gradebook_template(root)
    gb = Gradebook("sqlite:///" + str(root / "gradebook.db"))
    gb.add_assignment(A)
    gb.add_notebook(A, A)
    for name, (_, points) in FUNCS.items():
        gb.add_grade_cell(f"{name}_values", A, A, max_score=points, cell_type="code")
        gb.add_solution_cell(name, A, A)
    for student in list(CLASS) + ["nos"]:   # nos never submitted
        gb.add_student(student)
    os.makedirs(root / "grading_reports" / A)
    for student, (answers, verdicts, outcome, cause, extra) in CLASS.items():
        gb.add_submission(A, student)
        for name, message in verdicts.items():
            grade = gb.find_grade(f"{name}_values", A, A, student)
            grade.auto_score = 0.0 if message else FUNCS[name][1]
        gb.db.commit()
        canonical = nbk.with_answers(release, answers)
        if extra:
            canonical.cells.insert(2, nbformat.v4.new_code_cell(extra))
        checks = {f"{name}_values": {"passed": message is None, "n": 2, "hidden": 1,
                                     "failures": [] if message is None else [f"hidden check 'random #1': {message}"]}
                  for name, message in verdicts.items()}
        rep = {"student": student, "assignment": A, "notebook": A, "outcome": outcome, "cause": cause,
               "issues": [], "checks": checks, "seconds": 1.5, "canonical": canonical, "cells": {}}
        with open(root / "grading_reports" / A / f"{student}.{A}.json", "w") as f:
            json.dump(rep, f)
    gb.close()
    return root


def test_the_report_of_a_fake_class(fake_class):
    data = report.collect(str(fake_class), A)
    students = {s["id"]: s for s in data["students"]}
    assert [f for f, _, _ in data["functions"]] == ["add_one", "double"]
    assert students["ada"]["score"] == 5.0 and students["cyd"]["score"] == 2.0 and students["eve"]["score"] == 3.0
    assert students["nos"]["outcome"] == "no submission" and not students["nos"]["submitted"]
    assert students["bob"]["functions"]["double"]["kinds"] == ["not answered"]
    assert students["eve"]["functions"]["add_one"]["kinds"] == ["shape"]
    flagged = {s: {f.category for f in st["flags"]} for s, st in students.items() if st["flags"]}
    assert flagged == {"eve": {"patch"}, "mal": {"process"}, "pat": {"files"}}
    eve_flag = students["eve"]["flags"][0]
    assert (eve_flag.where, eve_flag.line, eve_flag.student) == ("add_one", 2, "eve")

    summary = report.summarize(data)
    funcs = {f["function"]: f for f in summary["functions"]}
    assert (funcs["add_one"]["passed"], funcs["add_one"]["n"]) == (4, 6)
    assert (funcs["double"]["passed"], funcs["double"]["n"]) == (3, 6)
    assert dict((k, len(v["students"])) for k, v in funcs["double"]["kinds"]) == \
        {"not answered": 1, "values": 1, "not run": 1}
    assert [s["id"] for s in summary["abnormal"]] == ["mal"]
    assert list(summary["outcomes"]) == ["graded", "crashed", "no submission"]

    out = fake_class / "out" / "class.html"
    assert report.main([A, "--out", str(out)], root=str(fake_class)) == 0
    page = out.read_text()
    for text in ("add_one", "double", "eve", "numpy.allclose", "os._exit", "cell 5 ended the process",
                 "largest error 2", "no submission", "not answered"):
        assert text in page, text
    # self-contained: every image is embedded, nothing is fetched from elsewhere
    assert page.count("src='data:image/png;base64,") == 2
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page) and "@import" not in page and "url(" not in page


def test_the_default_path_and_clear_errors(fake_class, capsys):
    assert report.main([A], root=str(fake_class)) == 0
    assert os.path.exists(fake_class / "reports" / (A + ".html"))
    assert str(fake_class / "reports" / (A + ".html")) in capsys.readouterr().out
    assert report.main(["no_such_assignment"], root=str(fake_class)) == 1
    assert "unknown assignment 'no_such_assignment'" in capsys.readouterr().err
    os.makedirs(fake_class / "release" / "later")
    assert report.main(["later"], root=str(fake_class)) == 1
    assert "run `nbgrader autograde later` first" in capsys.readouterr().err
    for name in os.listdir(fake_class / "grading_reports" / A):
        os.remove(fake_class / "grading_reports" / A / name)
    with pytest.raises(report.ReportError, match="nothing graded yet"):
        report.collect(str(fake_class), A)
    assert report.main([], root=str(fake_class)) == 2


def test_the_export_writes_grades_by_function_beside_grades_csv(fake_class, monkeypatch):
    from nbgrader.api import Gradebook
    monkeypatch.chdir(fake_class)
    os.makedirs(fake_class / "exports")
    plugin = export.OutcomeCsvExport(to=str(fake_class / "exports" / "grades.csv"), assignment=[], student=[])
    with Gradebook("sqlite:///" + str(fake_class / "gradebook.db")) as gb:
        plugin.export(gb)
    with open(fake_class / "exports" / "grades.csv") as f:
        assert next(csv.reader(f)) == export.COLUMNS
    with open(fake_class / "exports" / export.FUNCTIONS_CSV) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == export.FUNCTION_COLUMNS
    assert len(rows) == 7 * 2    # every student x graded function, the one without a submission too
    got = {(r["student_id"], r["function"]): (float(r["score"]), r["passed"], r["failure_kinds"]) for r in rows}
    assert got[("ada", "double")] == (3.0, "True", "")
    assert got[("bob", "add_one")] == (0.0, "False", "not answered")
    assert got[("cyd", "double")] == (0.0, "False", "values")
    assert got[("mal", "double")] == (0.0, "False", "not run")
    assert got[("nos", "add_one")] == (0.0, "False", "no submission")
    assert {r["grade_id"] for r in rows if r["function"] == "add_one"} == {"add_one_values"}
