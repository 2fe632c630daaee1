"""Grading on a Dask cluster: each submission's sandboxed run is a task on a worker.

Chosen in nbgrader_config.py with ``configure(..., dask_scheduler="tcp://host:8786")`` (or the environment
variable COURSE_GRADING_DASK_SCHEDULER); without it nothing here is imported and dask need not be installed.

What runs where
    instructor (the ``nbgrader autograde`` process): reads each submission, builds its canonical notebook and its
        hidden cases, sends the task, then asks the teacher's reference (core.REFERENCES, kept alive here) for
        its results on the same cases and decides every verdict (core.judge); writes the report, once.
    worker (any host with the course's Python environment and the ``grading`` package importable): receives
        plain data only (the cells to run: a list of dicts; each case's plan, encoded by grading.plan.encode_plan;
        the limits as a dict), runs them in its own sandbox exactly as the local grader does (core.run_job), and
        returns plain data (cell events, encoded results, issues). The compare functions of the cases, the
        teacher's notebook and the gradebook never leave the instructor's machine.
    the release folder of an assignment (support modules, data) is shipped once per content digest: a worker
        plugin (ReleaseFolder) held by the scheduler unpacks it on every worker, present and future, into
        <tmp>/course-grading-release/<digest>.

Nothing lost
    A worker that dies mid-task: the scheduler reruns its tasks on other workers (up to the scheduler's
    ``distributed.scheduler.allowed-failures`` deaths per task, 3 by default); the report is written by the
    instructor when the task's result arrives, so a submission is graded, and recorded, once. A submission whose
    task killed every worker it ran on ends with KilledWorker: it is recorded as "crashed" with that cause and the
    batch goes on. An exception in the task itself (not the student's code: that is caught inside the sandbox)
    is retried ``RETRIES`` times, then recorded as a grader error.

Sandbox on workers: each worker checks grading.sandbox.available() once; a worker host that cannot sandbox refuses
the task (recorded as "grader error" with the reason and the host), unless the instructor set allow_unsandboxed.
"""
import atexit
import gzip
import hashlib
import inspect
import io
import os
import socket
import tarfile
import tempfile
import threading
import uuid

try:
    from distributed import WorkerPlugin
except ImportError as exc:  # only this path needs dask
    raise ImportError("dask_scheduler is set but dask's distributed package is not installed here: "
                      "pip install -r requirements-dask.txt") from exc

from . import core
from . import plan as plan_lang

RETRIES = 2                 # reruns of a task that raised (a worker that dies is the scheduler's: allowed-failures)
CACHE = "course-grading-release"


class WorkerRefused(Exception):
    """A worker host that cannot run the task (no sandbox, release folder missing, other grading code)."""


RUN_FILES = ("runner.py", "plan.py", "sandbox.py")    # what a sandboxed run is made of, besides core.run_job
_code = {}


def run_code_digest():
    """A digest of the grading files that make a sandboxed run (the same on the instructor's side and the worker's,
    or the worker refuses: its runs would not be the ones the verdicts expect)."""
    if "digest" not in _code:
        h = hashlib.sha256(core.VERSION.encode())
        for name in RUN_FILES:
            with open(os.path.join(core.HERE, name), "rb") as f:
                h.update(name.encode() + b"\0" + hashlib.sha256(f.read()).digest())
        _code["digest"] = h.hexdigest()
    return _code["digest"]


# ------------------------------------------------------------------ the release folder, shipped once

def pack_release(support_dir):
    """(sha256 hex digest, bytes of a tar.gz) of the regular files the sandbox would copy from ``support_dir``
    (core.support_entries: the local grader's selection; links never followed)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel, path, is_dir in core.support_entries(support_dir):
            if is_dir:
                continue
            info = tarfile.TarInfo(rel.replace(os.sep, "/"))
            info.size, info.mode, info.mtime = os.lstat(path).st_size, 0o644, 0
            with open(path, "rb") as f:
                tar.addfile(info, f)
    data = gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)   # the same folder, the same bytes
    return hashlib.sha256(data).hexdigest(), data


def release_dir(digest):
    return os.path.join(tempfile.gettempdir(), CACHE, digest)


def unpack_release(digest, data):
    """Unpack a release blob into release_dir(digest) (once per host: later calls find it there)."""
    dest = release_dir(digest)
    if os.path.isdir(dest):
        return dest
    if hashlib.sha256(data).hexdigest() != digest:
        raise WorkerRefused("the release folder arrived damaged (digest mismatch)")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=digest[:12] + ".", dir=os.path.dirname(dest))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar.getmembers():
            if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in m.name.split("/"):
                raise WorkerRefused(f"unexpected entry in the release folder: {m.name!r}")
        tar.extractall(tmp, filter="data")
    try:
        os.rename(tmp, dest)
    except OSError:          # another worker process on this host unpacked it first
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


class ReleaseFolder(WorkerPlugin):
    """Worker plugin: unpacks one release folder on every worker, those running now and those that join or
    restart later (the scheduler keeps the plugin and hands it to each new worker)."""

    idempotent = True

    def __init__(self, digest, data):
        self.digest, self.data = digest, data
        self.name = f"course-release-{digest[:16]}"

    def setup(self, worker=None):
        unpack_release(self.digest, self.data)


# ------------------------------------------------------------------ the task (runs on a worker)

_sandbox = {"status": None}
_sandbox_lock = threading.Lock()


def worker_sandbox():
    """(ok, why) of this worker host's sandbox, checked once per worker process."""
    with _sandbox_lock:
        if _sandbox["status"] is None:
            from . import sandbox
            _sandbox["status"] = sandbox.available()
        return _sandbox["status"]


class _Case:
    """A case as core.run_job sees it: only its plan (decoded from plain data; no compare function here)."""

    def __init__(self, plan):
        self.plan = plan


def run_task(job):
    """The sandboxed run of one submission on this worker. ``job`` and the result are plain data.

    job: {"cells": [{"index", "source"}], "plans": {case id: encoded plan}, "settings": {...},
          "sandboxed": bool, "allow_unsandboxed": bool, "release": digest, "code": run_code_digest()}
    returns {"cells": {index: event}, "results": {case id: results}, "issues": [...], "host": name}
    or {"refused": why, "host": name} when this host cannot run it.
    """
    host = socket.gethostname()
    if job.get("code") != run_code_digest():
        return {"host": host, "refused": f"worker host {host} refused the task: its grading/ ({', '.join(RUN_FILES)}) "
                                         "differs from the instructor's; install the same course version there"}
    sandboxed = bool(job["sandboxed"])
    notes = []
    if sandboxed:
        ok, why = worker_sandbox()
        if not ok:
            if not job.get("allow_unsandboxed"):
                return {"host": host, "refused":
                        f"worker host {host} refused the task: the sandbox is unavailable there ({why}). Fix that "
                        "host (README: 'What the sandbox needs') or, knowingly, set allow_unsandboxed=True"}
            sandboxed = False
            notes.append({"kind": "note", "where": f"worker {host}",
                          "detail": "ran without the sandbox (unavailable there; allow_unsandboxed)"})
    support = release_dir(job["release"])
    if not os.path.isdir(support):
        return {"host": host, "refused": f"worker host {host} has not received the release folder "
                                         f"{job['release'][:12]} (the ReleaseFolder plugin did not run there)"}
    known = inspect.signature(core.Settings).parameters
    settings = {k: v for k, v in job["settings"].items() if k in known}
    settings["workers"] = max(2, int(settings.get("workers") or 2))  # one BLAS thread per runner on a shared host
    cases = {cid: _Case(plan_lang.decode_plan(p)) for cid, p in job["plans"].items()}
    cells, results, issues = core.run_job(job["cells"], cases, support, core.Settings(**settings), sandboxed=sandboxed)
    return {"host": host, "cells": cells, "results": results, "issues": issues + notes}


def empty_task(job):
    """A task that does nothing (benchmarks: the cluster's own round trip)."""
    return {"host": socket.gethostname(), "n": len(job.get("cells", ()))}


# ------------------------------------------------------------------ the instructor's side

class Cluster:
    """The instructor's connection to a Dask scheduler; ``job(...)`` gives core.grade_submission the callable
    that runs a submission's sandboxed job as a task there."""

    def __init__(self, address, allow_unsandboxed=False, timeout=30):
        from distributed import Client
        self.address, self.allow_unsandboxed = address, bool(allow_unsandboxed)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise RuntimeError(f"Refusing to grade: the Dask scheduler at {address} (dask_scheduler in "
                               f"nbgrader_config.py or COURSE_GRADING_DASK_SCHEDULER) did not answer within {timeout} s "
                               f"({type(exc).__name__}: {exc}). Start it (README: 'Grading on several machines') "
                               "or unset dask_scheduler to grade on this machine.") from None
        self.shipped, self.lock = {}, threading.Lock()
        atexit.register(self.close)

    def slots(self):
        """Threads across the cluster's workers now (at least 1)."""
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # noqa: BLE001
            return 1

    def ship(self, support_dir):
        """Send the release folder to every worker once (by content digest); returns the digest."""
        support_dir = os.path.abspath(support_dir)
        with self.lock:
            if support_dir in self.shipped:
                return self.shipped[support_dir]
            digest, data = pack_release(support_dir)
            self.client.register_plugin(ReleaseFolder(digest, data))
            self.shipped[support_dir] = digest
            return digest

    def job(self, assignment, student, notebook):
        """A callable with core.run_job's signature that runs the job on the cluster."""
        def run(cells, cases, support_dir, settings, sandboxed=True):
            return self.run(f"{assignment}/{student}/{notebook}", cells, cases, support_dir, settings, sandboxed)
        return run

    def run(self, name, cells, cases, support_dir, settings, sandboxed=True):
        from distributed import KilledWorker
        from distributed.client import CancelledError
        job = {"cells": [{"index": int(c["index"]), "source": str(c["source"])} for c in cells],
               "plans": {cid: plan_lang.encode_plan(case.plan) for cid, case in cases.items()},
               "settings": dict(vars(settings)), "sandboxed": bool(sandboxed),
               "allow_unsandboxed": self.allow_unsandboxed, "release": self.ship(support_dir),
               "code": run_code_digest()}
        key = f"grade-{name.replace('/', '-')}-{uuid.uuid4().hex[:12]}"
        fut = self.client.submit(run_task, job, key=key, pure=False, retries=RETRIES)
        try:
            out = fut.result()
        except KilledWorker as exc:
            tries = getattr(exc, "allowed_failures", None)
            tries = "every" if tries is None else f"{tries + 1}"
            return {}, {}, [{"kind": "crash", "where": "submission",
                             "detail": f"killed the grading worker each time it ran ({tries} workers died running it; "
                                       "not tried again)"}]
        except CancelledError as exc:  # the scheduler went away (a BaseException: turned into a grader error)
            raise RuntimeError(f"the task was lost with the connection to the Dask scheduler {self.address} "
                               f"({type(exc).__name__}); grade again, finished reports are reused") from None
        finally:
            fut.release()
        if out.get("refused"):
            raise WorkerRefused(out["refused"])
        return {int(k): v for k, v in out["cells"].items()}, out["results"], out["issues"]

    def close(self):
        try:
            self.client.close(timeout=10)
        except Exception:  # noqa: BLE001
            pass


_clusters = {}
_clusters_lock = threading.Lock()


def cluster(address, allow_unsandboxed=False):
    """One Cluster per scheduler address and process."""
    key = (address, bool(allow_unsandboxed))
    with _clusters_lock:
        if key not in _clusters:
            try:
                _clusters[key] = Cluster(address, allow_unsandboxed)
            except RuntimeError as exc:   # remembered: the next notebook of the batch fails at once, not after a wait
                _clusters[key] = exc
        if isinstance(_clusters[key], Exception):
            raise _clusters[key]
        return _clusters[key]
