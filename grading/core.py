"""Grade one submission: canonical notebook -> sandboxed run -> verdicts against the reference.

The verdict of every test cell is decided here, outside the student's process: the student's
functions run in the sandbox and hand back plain data (``plan``); the same plans run on the
teacher's notebook in a trusted process; ``spec`` compares the two.

Outcomes of a submission: ``graded``, ``timed out``, ``out of memory``, ``crashed``,
``unreadable`` (each with a cause naming the cell or check). When the process dies or hangs in a
cell, that cell is skipped and the run is repeated, so the rest still earns its points.
"""
import copy
import hashlib
import importlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import nbformat
import numpy as np

from . import plan as plan_lang
from . import sandbox
from .spec import default_compare

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "1"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class Settings:
    """Limits and switches of a grading run (nbgrader_config.py sets them via the plugin)."""

    def __init__(self, cell_timeout=60, case_timeout=60, submission_timeout=600, memory_mb=3072,
                 processes=64, sandboxed=True, workers=None, seed=20261125, max_runs=6):
        self.cell_timeout, self.case_timeout = cell_timeout, case_timeout
        self.submission_timeout, self.memory_mb, self.processes = submission_timeout, memory_mb, processes
        self.sandboxed, self.seed, self.max_runs = sandboxed, seed, max_runs
        self.workers = workers or os.cpu_count() or 1


# ------------------------------------------------------------------ notebooks

def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell):
    m = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def is_solution_cell(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def strip_hidden(source):
    """Remove every ### BEGIN/END HIDDEN TESTS region (markers included)."""
    out, hidden = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def read_notebook(path):
    """(notebook, None) or (None, why it cannot be read)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        return None, f"cannot open the file: {exc.strerror}"
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"
    except Exception as exc:  # nbformat raises several kinds
        return None, f"not a valid notebook: {str(exc).splitlines()[0][:200]}"
    if not isinstance(nb.get("cells"), list) or \
            not all(isinstance(c, dict) and isinstance(c.get("source", ""), str) for c in nb.cells):
        return None, "not a valid notebook: its cells are malformed"
    return nb, None


def canonical_notebook(student_nb, release_nb):
    """The release notebook with the student's answers in it.

    Locked cells come from the release (a student cannot change instructions, setup or tests);
    each solution cell gets the student's code, matched by grade_id, else by position between
    unchanged neighbours; the student's own extra code cells are kept after the cell they
    followed. Duplicated and deleted test cells, changed ids and renamed grade_ids all end up in
    the same canonical form. Returns a new notebook.
    """
    release_cells = release_nb.cells
    scells = student_nb.cells if student_nb is not None else []
    test_sources = {strip_hidden(c.source).strip() for c in release_cells if is_test_cell(c)}
    locked_sources = {c.source.strip() for c in release_cells if not is_solution_cell(c)}

    used = set()
    pos = {}  # release index -> student index
    by_id = {}
    for j, c in enumerate(scells):
        gid = nbgrader_meta(c).get("grade_id")
        if gid and gid not in by_id:
            by_id[gid] = j
    for i, rc in enumerate(release_cells):
        gid = nbgrader_meta(rc).get("grade_id")
        j = by_id.get(gid)
        if j is not None and scells[j].get("cell_type") == rc.cell_type and j not in used:
            pos[i] = j
            used.add(j)
    # unchanged locked cells anchor by identical source
    for i, rc in enumerate(release_cells):
        if i in pos or is_solution_cell(rc):
            continue
        for j, c in enumerate(scells):
            if j not in used and c.get("source", "").strip() == rc.source.strip():
                pos[i], _ = j, used.add(j)
                break
    # unmatched solution cells: the first free code cell between the neighbouring anchors
    for i, rc in enumerate(release_cells):
        if i in pos or not is_solution_cell(rc):
            continue
        lo = max([pos[k] for k in pos if k < i], default=-1)
        hi = min([pos[k] for k in pos if k > i], default=len(scells))
        for j in range(lo + 1, hi):
            c = scells[j]
            if j not in used and c.get("cell_type") == rc.cell_type and \
                    strip_hidden(c.get("source", "")).strip() not in test_sources:
                pos[i], _ = j, used.add(j)
                break

    out = copy.deepcopy(release_nb)
    out.cells = []
    student_at = {j: i for i, j in pos.items()}
    extras_after = {}  # release index -> [student extra cells]
    last = -1
    for j, c in enumerate(scells):
        if j in student_at:
            last = student_at[j]
            continue
        src = c.get("source", "")
        if c.get("cell_type") != "code" or is_test_cell(c) or not src.strip() or \
                strip_hidden(src).strip() in test_sources or src.strip() in locked_sources:
            continue
        extras_after.setdefault(last, []).append(nbformat.v4.new_code_cell(src))
    for cell in extras_after.get(-1, []):
        out.cells.append(cell)
    for i, rc in enumerate(release_cells):
        cell = copy.deepcopy(rc)
        if is_solution_cell(rc) and i in pos:
            cell.source = scells[pos[i]].get("source", "")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        out.cells.append(cell)
        out.cells.extend(extras_after.get(i, []))
    return out


def exec_cells(canonical):
    """The code cells to run in the sandbox: every code cell but the test cells."""
    return [{"index": i, "source": c.source} for i, c in enumerate(canonical.cells)
            if c.cell_type == "code" and not is_test_cell(c)]


# ------------------------------------------------------------------ specs and jobs

def load_spec(assignment):
    return importlib.import_module(f"grading.specs.{assignment}")


def build_cases(assignment, seed):
    """{case id: Case} for every check of the assignment, made with fixed seeds."""
    spec = load_spec(assignment)
    cases = {}
    for grade_id, builder in spec.CHECKS.items():
        rng = np.random.default_rng([seed, zlib.crc32(grade_id.encode())])
        for k, case in enumerate(builder(rng)):
            cases[f"{grade_id}::{k}"] = case
    return cases


def _spec_digest(assignment):
    spec = load_spec(assignment)
    h = hashlib.sha256(VERSION.encode())
    for path in (spec.__file__, os.path.join(HERE, "plan.py"), os.path.join(HERE, "runner.py"),
                 os.path.join(HERE, "spec.py"), __file__):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


# ------------------------------------------------------------------ running a job

def _prepare_workdir(support_dir, cells, cases, skip_cells, skip_cases):
    work = tempfile.mkdtemp(prefix="grade-")
    if support_dir:
        for name in os.listdir(support_dir):
            src = os.path.join(support_dir, name)
            if name.endswith(".ipynb") or name.startswith("."):
                continue
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(work, name), ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(src, work)
    rdir = os.path.join(work, ".runner")
    os.makedirs(rdir)
    shutil.copy(os.path.join(HERE, "plan.py"), rdir)
    shutil.copy(os.path.join(HERE, "runner.py"), rdir)
    job = {"cells": cells, "cases": [{"id": cid, "plan": plan_lang.encode_plan(c.plan)} for cid, c in cases.items()],
           "skip_cells": sorted(skip_cells), "skip_cases": sorted(skip_cases)}
    with open(os.path.join(rdir, "job.json"), "w") as f:
        json.dump(job, f)
    return work


def _env(workers, inside):
    threads = "1" if workers > 1 else "2"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/mpl",
           "IPYTHONDIR": "/tmp/ipython", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
           "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "PYTHONPATH": inside}
    return env


def run_once(cells, cases, support_dir, settings, skip_cells=(), skip_cases=(), sandboxed=True, deadline=None):
    """One run of the runner. Returns (cell events, case results, stop) where stop is None when the
    run finished, else {"kind": timeout|memory|crash, "where": ("cell", i) or ("case", id), "detail"}."""
    work = _prepare_workdir(support_dir, cells, cases, skip_cells, skip_cases)
    r, w = os.pipe()
    inside = sandbox.INSIDE_WORKDIR if sandboxed else work
    argv = [sys.executable, os.path.join(inside, ".runner", "runner.py"),
            os.path.join(inside, ".runner", "job.json"), str(w)]
    limits = {"memory_mb": settings.memory_mb, "processes": settings.processes,
              "cpu_seconds": int(settings.submission_timeout) + 30}
    log = open(os.path.join(tempfile.gettempdir(), f"grade-log-{os.getpid()}-{threading.get_ident()}"), "w+b")
    proc = sandbox.launch(argv, work, _env(settings.workers, inside), limits=limits, sandboxed=sandboxed,
                          pass_fds=(w,), stdout=log)
    os.close(w)
    events = queue.Queue()

    def reader():
        with os.fdopen(r, "rb") as f:
            for line in f:
                events.put(line)
        events.put(None)

    threading.Thread(target=reader, daemon=True).start()
    cell_ev, case_res, stop = {}, {}, None
    current, started, done = None, time.monotonic(), False
    deadline = deadline or (time.monotonic() + settings.submission_timeout)
    try:
        while True:
            limit = settings.cell_timeout if current and current[0] == "cell" else settings.case_timeout
            wait = min(deadline, started + limit) - time.monotonic()
            try:
                line = events.get(timeout=max(0.01, wait))
            except queue.Empty:
                what = "the whole submission" if time.monotonic() >= deadline else \
                    f"{limit:g} s" + (" for one cell" if current and current[0] == "cell" else " for one check")
                stop = {"kind": "timeout", "where": current, "detail": f"exceeded {what}"}
                break
            if line is None:
                break
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if not isinstance(ev, dict):
                continue
            if ev.get("ev") == "done":
                done = True
                break
            if ev.get("phase") == "start":
                current = ("cell", ev.get("i")) if ev.get("ev") == "cell" else ("case", ev.get("id"))
                started = time.monotonic()
            elif ev.get("ev") == "cell":
                cell_ev[ev.get("i")] = {"error": ev.get("error"), "output": str(ev.get("output", ""))[:8000]}
                current = None
            elif ev.get("ev") == "case":
                case_res[ev.get("id")] = ev.get("results") if isinstance(ev.get("results"), dict) else {}
                current = None
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = proc.wait()
        log.seek(0)
        tail = log.read()[-2000:].decode(errors="replace")
        log.close()
        os.unlink(log.name)
        shutil.rmtree(work, ignore_errors=True)
    if stop is None and not done:
        if "sandbox setup failed" in tail:
            raise RuntimeError(f"the sandbox could not start: {tail.strip()}")
        sig = -code if code < 0 else (code - 128 if code > 128 else 0)
        if sig == signal.SIGXCPU:
            kind, detail = "timeout", "used up its CPU time"
        elif "MemoryError" in tail or sig == signal.SIGKILL:
            kind, detail = "memory", "ran out of memory"
        else:
            kind, detail = "crash", f"ended the process (exit status {code})"
        stop = {"kind": kind, "where": current, "detail": detail}
    if current and current[0] == "cell" and stop and stop["where"] == current:
        cell_ev[current[1]] = {"error": f"{stop['detail']}", "output": ""}
    return cell_ev, case_res, stop


def run_job(cells, cases, support_dir, settings, sandboxed=True):
    """Run until every cell and case finished or was skipped; returns (cells, results, issues)."""
    skip_cells, skip_cases, issues = set(), set(), []
    deadline = time.monotonic() + settings.submission_timeout
    cell_ev, case_res = {}, {}
    for _ in range(settings.max_runs):
        cell_ev, case_res, stop = run_once(cells, cases, support_dir, settings, skip_cells, skip_cases,
                                           sandboxed=sandboxed, deadline=deadline)
        for i, ev in cell_ev.items():
            if ev["error"] and ev["error"].startswith("MemoryError"):
                issues.append({"kind": "memory", "where": f"cell {i}", "detail": "raised MemoryError (memory cap)"})
        if stop is None:
            break
        where = stop["where"]
        label = f"cell {where[1]}" if where and where[0] == "cell" else \
            (f"check {where[1].split('::')[0]}" if where else "start-up")
        issues.append({"kind": stop["kind"], "where": label, "detail": stop["detail"]})
        if time.monotonic() >= deadline or where is None:
            break
        (skip_cells if where[0] == "cell" else skip_cases).add(where[1])
        if where[0] == "case":
            case_res[where[1]] = {"__case__": {"error": f"this check {stop['detail']}"}}
        for cid in skip_cases:
            case_res.setdefault(cid, {"__case__": {"error": "this check was stopped (see outcome)"}})
    else:
        issues.append({"kind": "crash", "where": "submission", "detail": "stopped after too many restarts"})
    # dedupe memory notes seen again on reruns
    seen, uniq = set(), []
    for it in issues:
        key = (it["kind"], it["where"])
        if key not in seen:
            seen.add(key)
            uniq.append(it)
    return cell_ev, case_res, uniq


def decode_results(results):
    out = {}
    for label, data in (results or {}).items():
        try:
            out[label] = plan_lang.decode(data)
        except Exception:
            out[label] = {"error": "the returned value could not be read"}
    return out


# ------------------------------------------------------------------ verdicts

def judge(cases, student_res, reference_res):
    """{grade_id: {"passed": bool, "failures": [...], "n": cases, "hidden": n hidden}}."""
    checks = {}
    for cid, case in cases.items():
        gid = cid.split("::")[0]
        entry = checks.setdefault(gid, {"passed": True, "failures": [], "n": 0, "hidden": 0})
        entry["n"] += 1
        entry["hidden"] += int(case.hidden)
        stud = decode_results(student_res.get(cid))
        ref = decode_results(reference_res[cid])
        if "__case__" in stud:
            failures = [stud["__case__"].get("error", "failed")]
        elif not stud:
            failures = ["this check did not run (see the outcome of the submission)"]
        else:
            compare = case.compare or (lambda s, r: default_compare(case, s, r))
            failures = compare(stud, ref)
        if failures:
            entry["passed"] = False
            kind = "hidden check" if case.hidden else "visible check"
            entry["failures"].append(f"{kind} '{case.name}': " + "; ".join(failures[:3]))
    return checks


def outcome_of(issues, unreadable=None):
    if unreadable:
        return "unreadable", unreadable
    for kind, name in (("timeout", "timed out"), ("memory", "out of memory"), ("crash", "crashed")):
        hits = [i for i in issues if i["kind"] == kind]
        if hits:
            return name, "; ".join(f"{i['where']} {i['detail']}" for i in issues)
    return "graded", ""


# ------------------------------------------------------------------ reference

_ref_lock = threading.Lock()


def reference_results(course_root, assignment, notebook, settings):
    """Results of every case on the teacher's notebook (trusted run, cached on disk)."""
    src_nb_path = os.path.join(course_root, "source", assignment, notebook + ".ipynb")
    with open(src_nb_path, "rb") as f:
        digest = hashlib.sha256(f.read() + _spec_digest(assignment).encode() + str(settings.seed).encode()).hexdigest()
    cache = os.path.join(course_root, "grading_reports", assignment, f"_reference_{notebook}.json")
    with _ref_lock:
        if os.path.exists(cache):
            with open(cache) as f:
                data = json.load(f)
            if data.get("digest") == digest:
                return data["results"]
        nb = nbformat.read(src_nb_path, as_version=4)
        cases = build_cases(assignment, settings.seed)
        support = os.path.join(course_root, "release", assignment)
        cell_ev, results, issues = run_job(exec_cells(nb), cases, support, settings, sandboxed=False)
        bad = [cid for cid in cases if cid not in results or any(
            isinstance(v, dict) and "error" in v for v in results[cid].values())]
        if issues or bad:
            errors = {i: e["error"] for i, e in cell_ev.items() if e["error"]}
            raise RuntimeError(f"the teacher's notebook of {assignment} fails its own checks: "
                               f"issues={issues} cases={bad[:5]} cell errors={errors}")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        with open(cache, "w") as f:
            json.dump({"digest": digest, "results": results}, f)
        return results


# ------------------------------------------------------------------ one submission

def grade_submission(course_root, assignment, student, notebook, settings, sandboxed=True):
    """Grade submitted/<student>/<assignment>/<notebook>.ipynb; returns (and caches) the report."""
    path = os.path.join(course_root, "submitted", student, assignment, notebook + ".ipynb")
    release_path = os.path.join(course_root, "release", assignment, notebook + ".ipynb")
    release_nb = nbformat.read(release_path, as_version=4)
    raw = b""
    if os.path.exists(path):
        with open(path, "rb") as f:
            raw = f.read()
    key = hashlib.sha256(raw + _spec_digest(assignment).encode() + str(settings.seed).encode()
                         + str(sandboxed).encode()).hexdigest()
    report_path = os.path.join(course_root, "grading_reports", assignment, f"{student}.{notebook}.json")
    if os.path.exists(report_path):
        with open(report_path) as f:
            old = json.load(f)
        if old.get("key") == key:
            return old
    t0 = time.monotonic()
    nb, unreadable = read_notebook(path)
    if nb is not None and nb.metadata.get("course_grading", {}).get("unreadable"):
        unreadable = nb.metadata["course_grading"]["unreadable"]  # stand-in left by the pre-convert hook
        nb = None
    canonical = canonical_notebook(nb, release_nb)
    cases = build_cases(assignment, settings.seed)
    reference = reference_results(course_root, assignment, notebook, settings)
    if unreadable:
        cell_ev, student_res, issues = {}, {}, []
    else:
        cell_ev, student_res, issues = run_job(exec_cells(canonical), cases,
                                               os.path.join(course_root, "release", assignment),
                                               settings, sandboxed=sandboxed)
    checks = judge(cases, student_res, reference)
    outcome, cause = outcome_of(issues, unreadable)
    report = {"key": key, "student": student, "assignment": assignment, "notebook": notebook,
              "outcome": outcome, "cause": cause, "issues": issues, "checks": checks,
              "cells": {str(k): v for k, v in cell_ev.items()}, "sandboxed": sandboxed,
              "seconds": round(time.monotonic() - t0, 2)}
    os.makedirs(os.path.dirname(report_path), exist_ok=True)
    tmp = report_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, report_path)
    return report


def test_cell_outputs(report, grade_id):
    """nbformat outputs for a test cell: a stream on success, an error output on failure."""
    check = report["checks"].get(grade_id)
    if check is None:
        return [nbformat.v4.new_output("error", ename="NotChecked", evalue="no check for this cell",
                                       traceback=["no check is defined for this test cell"])]
    if check["passed"]:
        return [nbformat.v4.new_output("stream", name="stdout",
                                       text=f"Passed: {check['n']} checks ({check['hidden']} hidden).\n")]
    lines = [f"Failed {len(check['failures'])} of {check['n']} checks:"] + \
        [" - " + re.sub(r"\s+", " ", f)[:600] for f in check["failures"]]
    if report["outcome"] != "graded":
        lines.append(f"Submission outcome: {report['outcome']} ({report['cause']})")
    return [nbformat.v4.new_output("error", ename="CheckFailed", evalue=lines[0], traceback=lines)]
