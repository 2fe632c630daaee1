"""Grade one submission: canonical notebook -> sandboxed run -> verdicts against the reference.

The verdict of every test cell is decided here, outside the student's process: the student's
functions run in the sandbox and hand back plain data (``plan``); the same plans run on the
teacher's notebook in a trusted process; ``spec`` compares the two.

Outcomes of a submission: ``graded``, ``timed out``, ``out of memory``, ``crashed``,
``unreadable`` (each with a cause naming the cell or check). When the process dies or hangs in a
cell, that cell is skipped and the run is repeated, so the rest still earns its points.
"""
import atexit
import hashlib
import importlib
import json
import os
import re
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import nbformat
import numpy as np

from . import notebook as nbk
from . import plan as plan_lang
from . import sandbox
from .spec import NotJudged, TeacherFailure, default_compare, failure_kind

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "2"


class Settings:
    """Limits and switches of a grading run (nbgrader_config.py sets them via the plugin).

    seed: None draws fresh seeds (see seed_scope); an int replays a recorded run (the seed is in
          each report).
    seed_scope: "submission" (default): a fresh seed for every grading of every submission, hidden
          inputs are never the same twice; "run": one fresh seed per grading run (one `nbgrader
          autograde`), shared by the submissions of that run, so the teacher's reference answers
          each check once per run instead of once per submission (less CPU for a large class;
          resubmissions are still graded on new inputs, and feedback never shows expected values).
    """

    def __init__(self, cell_timeout=60, case_timeout=60, submission_timeout=600, memory_mb=3072,
                 processes=64, sandboxed=True, workers=None, seed=None, max_runs=6, seed_scope="submission"):
        if seed_scope not in ("submission", "run"):
            raise ValueError(f"seed_scope should be 'submission' or 'run', got {seed_scope!r}")
        self.seed_scope = seed_scope
        self.cell_timeout, self.case_timeout = cell_timeout, case_timeout
        self.submission_timeout, self.memory_mb, self.processes = submission_timeout, memory_mb, processes
        self.sandboxed, self.seed, self.max_runs = sandboxed, seed, max_runs
        self.workers = workers or os.cpu_count() or 1


# ------------------------------------------------------------------ specs and jobs

def load_spec(assignment):
    """The hidden checks of ``assignment`` (grading/specs/<assignment>.py); a missing spec is an error."""
    try:
        return importlib.import_module(f"grading.specs.{assignment}")
    except ModuleNotFoundError as exc:
        if exc.name != f"grading.specs.{assignment}":
            raise
        raise TeacherFailure(f"{assignment} has no hidden checks: grading/specs/{assignment}.py is missing, "
                             "so its test cells could not be graded") from None


def check_spec_matches(assignment, nb):
    """Every graded test cell of ``nb`` has its spec entry, and every spec entry its test cell."""
    cells, checks = nbk.test_cell_ids(nb), list(load_spec(assignment).CHECKS)
    missing, extra = [g for g in cells if g not in checks], [g for g in checks if g not in cells]
    if missing or extra:
        raise TeacherFailure(f"grading/specs/{assignment}.py does not match the notebook's test cells: "
                             f"no checks for {missing}, checks without a test cell {extra}")


def build_cases(assignment, seed):
    """{case id: Case} for every check of the assignment, drawn from ``seed``.

    Each test cell's cases come from a Generator of their own (seed, crc32 of the grade id), so the
    cases of one cell do not depend on the others. Specs never touch numpy's global generator: this
    runs in many grading threads at once.
    """
    spec = load_spec(assignment)
    cases = {}
    for grade_id, builder in spec.CHECKS.items():
        rng = np.random.default_rng([int(seed), zlib.crc32(grade_id.encode())])
        for k, case in enumerate(builder(rng)):
            cases[f"{grade_id}::{k}"] = case
    return cases


def draw_seed():
    """A fresh seed for one grading of one submission (recorded in its report)."""
    return secrets.randbits(62)


_RUN_SEED = draw_seed()  # drawn once per grading process: the seed of every submission when seed_scope="run"


def seed_for(settings):
    """The seed of the next grading under ``settings``."""
    if settings.seed is not None:
        return int(settings.seed)
    return _RUN_SEED if settings.seed_scope == "run" else draw_seed()


_digests = {}
_digest_lock = threading.Lock()


def _tree_files(folder, suffixes=None):
    for base, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if suffixes is None or name.endswith(suffixes):
                yield os.path.join(base, name)


def verdict_files(course_root, assignment):
    """Every file a verdict of ``assignment`` depends on (see ``verdict_digest``)."""
    paths = list(_tree_files(HERE, (".py",))) + list(_tree_files(os.path.join(course_root, "utils"), (".py",)))
    paths.append(os.path.join(course_root, "source", assignment, assignment + ".ipynb"))
    return paths + list(_tree_files(os.path.join(course_root, "release", assignment)))


def verdict_digest(course_root, assignment):
    """A hash of every file a verdict of ``assignment`` depends on.

    grading/ and utils/ (all Python files: the specs import utils modules and checks), the teacher's
    notebook (the reference), and the release folder (notebook, support modules, data). Computed once
    per process and assignment.
    """
    key = (os.path.abspath(course_root), assignment)
    with _digest_lock:
        if key in _digests:
            return _digests[key]
    h = hashlib.sha256(VERSION.encode())
    for path in verdict_files(course_root, assignment):
        base = HERE if path.startswith(HERE + os.sep) else course_root
        h.update(os.path.relpath(path, base).encode() + b"\0")
        try:
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        except OSError:
            h.update(b"<missing>")
    digest = h.hexdigest()
    with _digest_lock:
        _digests[key] = digest
    return digest


# ------------------------------------------------------------------ talking to a runner

MAX_ANSWER_BYTES = 24 * 2**20  # one answer line; longer lines are dropped while they stream in


def case_results(ans):
    """The results dict of a runner's answer to a check, or {"__case__": {"error": why}} when there is none
    (an answer over MAX_ANSWER_BYTES, or one that could not be read)."""
    if ans.get("too_large"):
        return {"__case__": {"error": f"the results are too large (over {MAX_ANSWER_BYTES // 2**20} MB)"}}
    res = ans.get("results")
    return res if isinstance(res, dict) else {"__case__": {"error": "the results could not be read"}}


READ_CHUNK = 1 << 20


class Stopped(Exception):
    """The runner stopped answering: kind is "timeout" or "ended" (the process is gone)."""

    def __init__(self, kind, detail=""):
        super().__init__(kind, detail)
        self.kind, self.detail = kind, detail


class SandboxFailure(Exception):
    """The sandbox could not start (a problem of the host, not of the submission)."""


class Runner:
    """One runner process (grading/runner.py) and the two pipes to it.

    ``ask`` sends one request and returns its answer. Only a line that starts with the request's
    fresh random nonce counts as the answer; everything else on the channel (a student's forged
    lines, a flood without newlines) is dropped as it streams in, never accumulated beyond
    MAX_ANSWER_BYTES, so the grader's memory stays bounded whatever the student writes.
    """

    def __init__(self, support_dir, settings, sandboxed, reference=False):
        self.work = _prepare_workdir(support_dir)
        req_r, self.req_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        inside = sandbox.INSIDE_WORKDIR if sandboxed else self.work
        argv = [sys.executable, os.path.join(inside, ".runner", "runner.py"), str(req_r), str(resp_w)]
        limits = {"memory_mb": settings.memory_mb, "processes": settings.processes,
                  "cpu_seconds": int(settings.submission_timeout) + 30}
        self.log = tempfile.TemporaryFile(prefix="grade-log-")
        try:
            self.proc = sandbox.launch(argv, self.work, _env(settings.workers, inside, reference),
                                       limits=limits,
                                       sandboxed=sandboxed, pass_fds=(req_r, resp_w), stdout=self.log)
        finally:
            os.close(req_r)
            os.close(resp_w)
        os.set_blocking(self.req_w, False)
        self.buf = bytearray()
        self.scanned = 0         # how much of buf (after a found marker) holds no newline

    def ask(self, request, timeout, deadline=None):
        """Send ``request`` (a dict) and return the answer (a dict); raise Stopped."""
        nonce = secrets.token_hex(16)
        data = (json.dumps(dict(request, nonce=nonce), separators=(",", ":")) + "\n").encode()
        marker = b"\n" + nonce.encode() + b" "
        end = time.monotonic() + timeout
        if deadline is not None:
            end = min(end, deadline)
        out = memoryview(data)
        self.buf.clear()
        self.scanned = 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise Stopped("timeout")
            try:
                readable, writable, _ = select.select([self.resp_r], [self.req_w] if out else [], [], min(left, 0.5))
            except (OSError, ValueError):
                raise Stopped("ended")
            if writable and out:
                try:
                    out = out[os.write(self.req_w, out):]
                except BlockingIOError:
                    pass
                except OSError:
                    raise Stopped("ended")
            if readable:
                chunk = os.read(self.resp_r, READ_CHUNK)
                if not chunk:
                    raise Stopped("ended")
                self.buf += chunk
                found = self._take(marker)
                if found is not None:
                    return found
            elif self.proc.poll() is not None:
                raise Stopped("ended")

    def _take(self, marker):
        """The answer that starts with ``marker`` if it is complete in the buffer, else None.

        Everything before the marker is dropped at once (whatever it is: forged lines, a flood with
        or without newlines); an answer longer than MAX_ANSWER_BYTES is dropped and reported as such.
        """
        p = self.buf.find(marker)
        if p < 0:
            keep = len(marker) - 1  # the marker may be cut between two reads
            if len(self.buf) > keep:
                del self.buf[:len(self.buf) - keep]
            return None
        if p:
            del self.buf[:p]
            self.scanned = 0
        # the end of the line is looked for in what arrived since the last look only (an answer of 12 MB comes in
        # about 190 reads: scanning it all again each time cost 0.065 s per answer)
        nl = self.buf.find(b"\n", max(len(marker), self.scanned))
        if nl < 0:
            self.scanned = len(self.buf)
            if len(self.buf) > MAX_ANSWER_BYTES:
                self.buf.clear()
                self.scanned = 0
                return {"too_large": True}
            return None
        line = bytes(self.buf[len(marker):nl])
        del self.buf[:nl + 1]
        self.scanned = 0
        try:
            answer = json.loads(line)
        except ValueError:
            return {"unreadable": True}
        return answer if isinstance(answer, dict) else {"unreadable": True}

    def log_tail(self, size=2000):
        self.log.seek(0, os.SEEK_END)
        n = self.log.tell()
        self.log.seek(max(0, n - size))
        return self.log.read().decode(errors="replace")

    def close(self):
        """Stop the process (and everything it started); return its exit code."""
        for fd in (self.req_w,):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = self.proc.wait()
        try:
            os.close(self.resp_r)
        except OSError:
            pass
        shutil.rmtree(self.work, ignore_errors=True)
        return code

    def why_stopped(self, code):
        """(kind, detail) of a runner that ended by itself with exit ``code``."""
        tail = self.log_tail()
        sig = -code if code < 0 else (code - 128 if code > 128 else 0)
        if sig == signal.SIGXCPU:
            return "timeout", "used up its CPU time"
        if "MemoryError" in tail or sig == signal.SIGKILL:
            return "memory", "ran out of memory"
        return "crash", f"ended the process (exit status {code})"


def support_entries(src, rel=""):
    """(path relative to ``src``, path, is a folder) of what a run gets from the support folder ``src``: its regular
    files and folders, depth first in name order, without dot files, notebooks and __pycache__; symbolic links are
    never followed. The local grader copies these (``_copy_regular``); grading/distributed.py packs the same ones."""
    for name in sorted(os.listdir(src)):
        if name.startswith(".") or name.endswith(".ipynb") or name == "__pycache__":
            continue
        path, r = os.path.join(src, name), os.path.join(rel, name)
        mode = os.lstat(path).st_mode
        if stat.S_ISDIR(mode):
            yield r, path, True
            yield from support_entries(path, r)
        elif stat.S_ISREG(mode):
            yield r, path, False


def _copy_regular(src, dst):
    """Copy the regular files and folders of ``src`` into ``dst``; symbolic links are never followed."""
    for rel, path, is_dir in support_entries(src):
        if is_dir:
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
        else:
            shutil.copyfile(path, os.path.join(dst, rel))


_FONTS = {}
_FONTS_LOCK = threading.Lock()
MPL_BUILD_FONTS = "import matplotlib.font_manager as fm, sys; sys.exit(0 if fm.fontManager.ttflist else 1)"


def _font_list():
    """The file of matplotlib's font list for this Python (fontlist-v*.json), built once per grading process by the
    trusted course environment (None when matplotlib is missing or the build fails). Every run starts with an
    empty /tmp, where matplotlib would otherwise scan the system's fonts again: 0.28 s of CPU per run measured
    here, about two hours for a course of 25,000 runs. Each run gets its own copy, so what a submission writes
    there reaches no other run."""
    with _FONTS_LOCK:
        if "file" not in _FONTS:
            folder = tempfile.mkdtemp(prefix="grade-fonts-")
            env = dict(os.environ, MPLCONFIGDIR=folder, MPLBACKEND="Agg")
            try:
                ok = subprocess.run([sys.executable, "-c", MPL_BUILD_FONTS], env=env, capture_output=True,
                                    timeout=120).returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
            built = [n for n in os.listdir(folder) if n.startswith("fontlist") and n.endswith(".json")] if ok else []
            if built:
                atexit.register(shutil.rmtree, folder, True)
                _FONTS["file"] = os.path.join(folder, built[0])
            else:
                shutil.rmtree(folder, ignore_errors=True)
                _FONTS["file"] = None
        return _FONTS["file"]


def _prepare_workdir(support_dir):
    work = tempfile.mkdtemp(prefix="grade-")
    if support_dir:
        _copy_regular(support_dir, work)
    rdir = os.path.join(work, ".runner")
    os.makedirs(rdir)
    shutil.copy(os.path.join(HERE, "plan.py"), rdir)
    shutil.copy(os.path.join(HERE, "runner.py"), rdir)
    fonts = _font_list()
    os.makedirs(os.path.join(rdir, "mpl"))
    if fonts:
        shutil.copyfile(fonts, os.path.join(rdir, "mpl", os.path.basename(fonts)))
    return work


def _env(workers, inside, reference=False):
    """The runner's environment. BLAS threads: one per process when several grading processes run at once
    (several workers; the teacher's reference always runs beside a worker); a single worker leaves the
    choice to utils/threads.py's policy, as on a student's laptop."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": inside + "/.runner/mpl",
           "IPYTHONDIR": "/tmp/ipython", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
           "PYTHONPATH": inside}
    if workers > 1 or reference:
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _start(support_dir, settings, sandboxed, reference=False):
    """A runner that answered hello (the sandbox is up, no notebook code has run yet)."""
    runner = Runner(support_dir, settings, sandboxed, reference)
    try:
        answer = runner.ask({"op": "hello"}, timeout=max(60, settings.cell_timeout))
        if answer.get("ready") is True:
            return runner
    except Stopped:
        pass
    code = runner.close()
    tail = runner.log_tail()
    runner.log.close()
    if code == 121 and "sandbox setup failed" in tail:
        raise SandboxFailure(f"the sandbox could not start: {tail.strip()[-500:]}")
    raise SandboxFailure(f"the runner did not start (exit status {code}): {tail.strip()[-500:]}")


def run_once(cells, cases, support_dir, settings, skip_cells=(), skip_cases=(), done_cases=(),
             sandboxed=True, deadline=None):
    """One run of the runner: every cell not skipped, then every case not skipped or done.

    Returns (cell events, case results, stop) where stop is None when the run finished, else
    {"kind": timeout|memory|crash, "where": ("cell", i) or ("case", id), "detail": ...}.
    """
    deadline = deadline or (time.monotonic() + settings.submission_timeout)
    runner = _start(support_dir, settings, sandboxed)
    cell_ev, case_res, stop, current = {}, {}, None, None
    try:
        for cell in cells:
            if cell["index"] in skip_cells:
                continue
            current = ("cell", cell["index"])
            ans = runner.ask({"op": "cell", "source": cell["source"]}, settings.cell_timeout, deadline)
            error = ans.get("error")
            output = ans.get("output", "")
            if ans.get("too_large") or ans.get("unreadable"):
                error, output = "the runner's answer for this cell could not be read", ""
            cell_ev[cell["index"]] = {"error": error if isinstance(error, str) or error is None else str(error),
                                      "output": str(output)[:8000]}
        for cid, case in cases.items():
            if cid in skip_cases or cid in done_cases:
                continue
            current = ("case", cid)
            ans = runner.ask({"op": "case", "plan": plan_lang.encode_plan(case.plan)}, settings.case_timeout, deadline)
            case_res[cid] = case_results(ans)
        current = None
    except Stopped as exc:
        if exc.kind == "timeout":
            what = "the whole submission" if time.monotonic() >= deadline else \
                f"{settings.cell_timeout if current[0] == 'cell' else settings.case_timeout:g} s" + \
                (" for one cell" if current[0] == "cell" else " for one check")
            stop = {"kind": "timeout", "where": current, "detail": f"exceeded {what}"}
    finally:
        code = runner.close()
    if current is not None and stop is None:
        kind, detail = runner.why_stopped(code)
        stop = {"kind": kind, "where": current, "detail": detail}
    runner.log.close()
    if current and current[0] == "cell" and stop:
        cell_ev[current[1]] = {"error": stop["detail"], "output": ""}
    return cell_ev, case_res, stop


def run_job(cells, cases, support_dir, settings, sandboxed=True):
    """Run until every cell and case finished or was skipped; returns (cells, results, issues).

    When a cell or a case stops the process (hang, exit, memory), it is skipped and the run starts
    again; cases already answered keep their results.
    """
    skip_cells, skip_cases, issues = set(), set(), []
    deadline = time.monotonic() + settings.submission_timeout
    cell_ev, case_res = {}, {}
    for _ in range(settings.max_runs):
        ev, res, stop = run_once(cells, cases, support_dir, settings, skip_cells, skip_cases,
                                 done_cases=set(case_res), sandboxed=sandboxed, deadline=deadline)
        for i, e in ev.items():
            if i not in cell_ev or cell_ev[i].get("error") is None:
                cell_ev[i] = e
        case_res.update(res)
        for i, e in ev.items():
            if e["error"] and e["error"].startswith("MemoryError"):
                issues.append({"kind": "memory", "where": f"cell {i}", "detail": "raised MemoryError (memory cap)"})
        if stop is None:
            break
        where = stop["where"]
        label = f"cell {where[1]}" if where[0] == "cell" else f"check {where[1].split('::')[0]}"
        issues.append({"kind": stop["kind"], "where": label, "detail": stop["detail"]})
        (skip_cells if where[0] == "cell" else skip_cases).add(where[1])
        if where[0] == "case":
            case_res[where[1]] = {"__case__": {"error": f"this check {stop['detail']}"}}
        if time.monotonic() >= deadline:
            break
    else:
        issues.append({"kind": "crash", "where": "submission", "detail": "stopped after too many restarts"})
    for cid in cases:
        case_res.setdefault(cid, {"__case__": {"error": "this check did not run (see the outcome of the submission)"}})
    seen, uniq = set(), []
    for it in issues:  # memory notes are seen again on reruns
        key = (it["kind"], it["where"])
        if key not in seen:
            seen.add(key)
            uniq.append(it)
    return cell_ev, case_res, uniq


def decode_results(results):
    """{label: value} from a runner's plain data; an error note stays an error note."""
    out = {}
    for label, data in (results or {}).items():
        if isinstance(data, dict) and set(data) == {"error"}:
            out[label] = {"error": str(data["error"])[:500]}
            continue
        try:
            out[label] = plan_lang.decode(data)
        except Exception:
            out[label] = {"error": "the returned value could not be read"}
    return out


# ------------------------------------------------------------------ verdicts

def judge(cases, student_res, reference_res):
    """{grade_id: {"passed", "failures", "n", "hidden", "ran", "cases"}} for every test cell.

    n: the cell's cases; ran: the cases that judged the function (a case whose compare returns
    ``NotJudged`` - e.g. a gradient check against a forward pass that is itself wrong - costs nothing and
    is not counted as run); cases: one {"name", "hidden", "passed", "kind"} per case, where kind is
    "passed", "not judged" or a failure kind of ``spec.failure_kind``.

    An exception while comparing (a value of an unexpected kind that a rule did not foresee) fails
    that case, with a note; it never stops the grading of the submission. A failure of the teacher's
    reference (TeacherFailure) is a bug of the course and propagates.
    """
    checks = {}
    for cid, case in cases.items():
        gid = cid.split("::")[0]
        entry = checks.setdefault(gid, {"passed": True, "failures": [], "n": 0, "hidden": 0, "ran": 0,
                                        "cases": [], "not_judged": []})
        entry["n"] += 1
        entry["hidden"] += int(case.hidden)
        stud = decode_results(student_res.get(cid))
        ref = decode_results(reference_res[cid])
        if "__case__" in stud:
            failures = [str(stud["__case__"].get("error", "failed"))]
        elif not stud:
            failures = ["this check did not run (see the outcome of the submission)"]
        else:
            try:
                failures = case.compare(stud, ref) if case.compare else default_compare(case, stud, ref)
            except TeacherFailure:
                raise
            except Exception as exc:  # noqa: BLE001
                failures = [f"your result could not be compared ({type(exc).__name__}); "
                            "check the types and shapes of what the function returns"]
        record = {"name": case.name, "hidden": bool(case.hidden), "passed": not failures}
        if isinstance(failures, NotJudged):
            record["kind"] = "not judged"
            entry["not_judged"].append(f"'{case.name}': {failures.reason}")
        else:
            entry["ran"] += 1
            record["kind"] = failure_kind("; ".join(str(f) for f in failures)) if failures else "passed"
        entry["cases"].append(record)
        if failures:
            entry["passed"] = False
            kind = "hidden check" if case.hidden else "visible check"
            entry["failures"].append(f"{kind} '{case.name}': " + "; ".join(str(f) for f in failures[:3]))
    return checks


def outcome_of(issues, unreadable=None, refused=None):
    if refused:
        return "refused", refused
    if unreadable:
        return "unreadable", unreadable
    for kind, name in (("grader", "grader error"), ("timeout", "timed out"), ("memory", "out of memory"),
                       ("crash", "crashed")):
        hits = [i for i in issues if i["kind"] == kind]
        if hits:
            return name, "; ".join(f"{i['where']} {i['detail']}" for i in issues)
    return "graded", ""


# ------------------------------------------------------------------ reference

class ReferencePool:
    """Trusted runners of the teacher's notebooks, kept alive for the whole grading process.

    A runner executes the teacher's cells once, then answers the cases of every submission (each
    submission has its own seed, so its cases are new). ``size`` runners per assignment at most
    (one by default: a reference answers in a fraction of a student's run, so grading threads
    rarely wait for it); ``warm`` starts one in the background while the first students run.
    """

    def __init__(self, size=1):
        self.size = size
        self.cond = threading.Condition()
        self.idle, self.count, self.memo = {}, {}, {}
        atexit.register(self.close_all)

    @staticmethod
    def _key(course_root, assignment, notebook):
        return (os.path.abspath(course_root), assignment, notebook, verdict_digest(course_root, assignment))

    def _new(self, course_root, assignment, notebook, settings):
        src = os.path.join(course_root, "source", assignment, notebook + ".ipynb")
        nb = nbformat.read(src, as_version=4)
        runner = _start(os.path.join(course_root, "release", assignment), settings, sandboxed=False, reference=True)
        try:
            for cell in nbk.exec_cells(nb):
                ans = runner.ask({"op": "cell", "source": cell["source"]}, settings.cell_timeout * 4)
                if ans.get("error"):
                    raise TeacherFailure(f"the teacher's notebook of {assignment} fails in cell {cell['index']}: "
                                         f"{ans['error']}")
        except Stopped as exc:
            runner.close()
            raise TeacherFailure(f"the teacher's notebook of {assignment} stopped ({exc.kind}) while its cells ran")
        except BaseException:
            runner.close()
            raise
        return runner

    def _acquire(self, key, make):
        with self.cond:
            while True:
                if self.idle.get(key):
                    return self.idle[key].pop()
                if self.count.get(key, 0) < self.size:
                    self.count[key] = self.count.get(key, 0) + 1
                    break
                self.cond.wait()
        try:
            return make()
        except BaseException:
            with self.cond:
                self.count[key] -= 1
                self.cond.notify_all()
            raise

    def _release(self, key, runner, broken=False):
        with self.cond:
            if broken:
                self.count[key] -= 1
            else:
                self.idle.setdefault(key, []).append(runner)
            self.cond.notify_all()
        if broken:
            runner.close()

    def warm(self, course_root, assignment, notebook, settings):
        """Start a reference runner in the background (errors surface on first use)."""
        key = self._key(course_root, assignment, notebook)

        def start():
            try:
                runner = self._acquire(key, lambda: self._new(course_root, assignment, notebook, settings))
            except BaseException:  # noqa: B036 - reported again by the first real request
                return
            self._release(key, runner)
        with self.cond:
            if self.count.get(key, 0):
                return
        threading.Thread(target=start, daemon=True).start()

    def results(self, course_root, assignment, notebook, settings, cases, memo=None):
        """{case id: results} of the teacher's functions on ``cases``.

        memo: the seed the cases were drawn from, when several submissions share it: each case is
        then answered once and remembered for the others.
        """
        key = self._key(course_root, assignment, notebook)
        with self.cond:
            known = dict(self.memo.get((key, memo), {})) if memo is not None else {}
        todo = {cid: c for cid, c in cases.items() if cid not in known}
        if not todo:
            return {cid: known[cid] for cid in cases}
        runner = self._acquire(key, lambda: self._new(course_root, assignment, notebook, settings))
        out = dict(known)
        try:
            for cid, case in todo.items():
                ans = runner.ask({"op": "case", "plan": plan_lang.encode_plan(case.plan, reference=True)},
                                 settings.case_timeout * 4)
                res = case_results(ans)
                if "__case__" in res or any(
                        isinstance(v, dict) and set(v) == {"error"} for v in res.values()):
                    errors = res["__case__"] if "__case__" in res else \
                        {k: v for k, v in res.items() if isinstance(v, dict) and set(v) == {"error"}}
                    raise TeacherFailure(f"the teacher's notebook of {assignment} fails check {cid} "
                                         f"('{case.name}'): {str(errors)[:600]}")
                out[cid] = res
        except BaseException as exc:
            self._release(key, runner, broken=True)
            if isinstance(exc, Stopped):
                raise TeacherFailure(f"the teacher's notebook of {assignment} stopped ({exc.kind}) on a check")
            raise
        self._release(key, runner)
        if memo is not None:
            with self.cond:
                self.memo.setdefault((key, memo), {}).update(out)
        return {cid: out[cid] for cid in cases}

    def close_all(self):
        with self.cond:
            runners = [r for rs in self.idle.values() for r in rs]
            self.idle.clear()
            self.count.clear()
        for r in runners:
            r.close()


REFERENCES = ReferencePool()


# ------------------------------------------------------------------ one submission

def submission_problem_text(kind):
    return {"link": "the submitted notebook is a symbolic link; links are never followed, submit the file itself",
            "special": "the submitted notebook is not a regular file"}[kind]


def submission_problem(path):
    """Why the file at ``path`` cannot be accepted as a submission (None when it is a regular file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None  # nothing submitted: graded as blank
    except OSError as exc:
        return f"the submission cannot be inspected: {exc.strerror}"
    if stat.S_ISLNK(st.st_mode):
        return submission_problem_text("link")
    if not stat.S_ISREG(st.st_mode):
        return submission_problem_text("special")
    return None


def _raw_submission(path):
    try:
        st = os.lstat(path)
    except OSError:
        return b""
    if stat.S_ISLNK(st.st_mode):
        return b"symlink:" + os.readlink(path).encode(errors="replace")
    if not stat.S_ISREG(st.st_mode):
        return b"not a regular file"
    with open(path, "rb") as f:
        return f.read()


def grade_submission(course_root, assignment, student, notebook, settings, sandboxed=True, job=None):
    """Grade submitted/<student>/<assignment>/<notebook>.ipynb; returns (and caches) the report.

    The report records the seed its hidden cases were drawn from (``COURSE_GRADING_SEED`` replays it).
    The cached report is reused only when the submission and every file its verdict depends on are
    unchanged (and, with a fixed seed, the seed too).
    job: what runs the student's cells and cases, with ``run_job``'s signature and return (default: ``run_job``,
    a sandbox on this machine; grading/distributed.py passes one that runs it on a Dask worker). The cases,
    the reference and the verdicts stay here whatever runs the job.
    """
    path = os.path.join(course_root, "submitted", student, assignment, notebook + ".ipynb")
    release_path = os.path.join(course_root, "release", assignment, notebook + ".ipynb")
    release_nb = nbformat.read(release_path, as_version=4)
    check_spec_matches(assignment, release_nb)
    raw = _raw_submission(path)
    fixed = "" if settings.seed is None else str(settings.seed)
    key = hashlib.sha256(raw + verdict_digest(course_root, assignment).encode() + fixed.encode()
                         + str(sandboxed).encode()).hexdigest()
    report_path = os.path.join(course_root, "grading_reports", assignment, f"{student}.{notebook}.json")
    if os.path.exists(report_path):
        try:
            with open(report_path) as f:
                old = json.load(f)
            if old.get("key") == key:
                return old
        except (OSError, ValueError):
            pass
    t0 = time.monotonic()
    seed = seed_for(settings)
    cases = build_cases(assignment, seed)
    refused = submission_problem(path)
    nb, unreadable = (None, None) if refused else nbk.read_notebook(path)
    marks = nb.metadata.get("course_grading", {}) if nb is not None and isinstance(nb.metadata.get("course_grading"), dict) else {}
    if marks.get("unreadable") or marks.get("refused"):  # stand-in left by the pre-convert hook
        unreadable, refused, nb = marks.get("unreadable"), marks.get("refused"), None
    cell_ev, student_res, issues = {}, {}, []
    canonical = nbk.canonical_notebook(None, release_nb)
    if not (unreadable or refused):
        try:
            canonical = nbk.canonical_notebook(nb, release_nb)
        except Exception as exc:  # noqa: BLE001 - a notebook whose structure cannot be read
            unreadable = f"the notebook's cells could not be read ({type(exc).__name__})"
        else:
            try:
                cell_ev, student_res, issues = (job or run_job)(nbk.exec_cells(canonical), cases,
                                                       os.path.join(course_root, "release", assignment),
                                                       settings, sandboxed=sandboxed)
            except Exception as exc:  # noqa: BLE001 - recorded, never "not autograded"
                issues = [{"kind": "grader", "where": "start-up", "detail": f"{type(exc).__name__}: {exc}"[:600]}]
    reference = REFERENCES.results(course_root, assignment, notebook, settings, cases,
                                   memo=seed if settings.seed is not None or settings.seed_scope == "run" else None)
    checks = judge(cases, student_res, reference)
    outcome, cause = outcome_of(issues, unreadable, refused)
    report = {"key": key, "student": student, "assignment": assignment, "notebook": notebook,
              "outcome": outcome, "cause": cause, "issues": issues, "checks": checks, "seed": seed,
              "cells": {str(k): v for k, v in cell_ev.items()}, "sandboxed": sandboxed,
              "seconds": round(time.monotonic() - t0, 2), "canonical": canonical}
    os.makedirs(os.path.dirname(report_path), exist_ok=True)
    tmp = report_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, report_path)
    return report


def _one_line(text):
    return re.sub(r"\s+", " ", text)


def check_summary(check, title=""):
    """The lines a test cell shows for one graded check (``judge``'s entry): first line a verdict with counts
    that count only the cases that judged the function, then one line per failure with its kind in
    brackets, then the cases that did not count and why."""
    ran = check.get("ran", check["n"])
    n_failed = len(check["failures"])
    who = f"{title}: " if title else ""
    failed = [c for c in check.get("cases", []) if c["kind"] not in ("passed", "not judged")]  # one per failure
    not_answered = bool(failed) and all(c["kind"] == "not answered" for c in failed) and n_failed == ran
    if check["passed"]:
        head = f"{who}passed {ran} of {ran} checks ({check['hidden']} hidden)"
    elif not_answered:
        head = f"{who}not answered yet (it raised NotImplementedError on all {ran} checks that ran)"
    else:
        head = f"{who}failed {n_failed} of {ran} checks"
    skipped = check.get("not_judged", [])
    if skipped:
        head += f"; {len(skipped)} more did not count"
    lines = [head + "."]
    if not_answered:
        return lines   # the same NotImplementedError once per check would only repeat the first line
    for i, f in enumerate(check["failures"]):
        kind = f" [{failed[i]['kind']}]" if i < len(failed) else ""
        lines.append(" - " + _one_line(f)[:600] + kind)
    for why in skipped:
        lines.append(" - did not count: " + _one_line(why)[:300])
    return lines


def test_cell_outputs(report, grade_id, title=""):
    """nbformat outputs for a test cell: a stream on success, an error output on failure."""
    check = report["checks"].get(grade_id)
    if check is None:
        return [nbformat.v4.new_output("error", ename="NotChecked", evalue="no check for this cell",
                                       traceback=["no check is defined for this test cell"])]
    lines = check_summary(check, title)
    if check["passed"]:
        return [nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n")]
    if report["outcome"] != "graded":
        lines.append(f"Submission outcome: {report['outcome']} ({report['cause']})")
    return [nbformat.v4.new_output("error", ename="CheckFailed", evalue=lines[0], traceback=lines)]
