"""Plug the trusted grader into plain ``nbgrader autograde`` (configured in nbgrader_config.py).

    from grading.nbgrader_plugin import configure
    configure(c, course_root=..., cell_timeout=60, memory_mb=3072, allow_unsandboxed=False)

What changes in nbgrader's autograde pipeline:
- a pre-convert hook makes an unreadable submission gradable as "unreadable" (the original file
  is kept beside it as ``<name>.ipynb.unreadable``), refuses a notebook that is a symbolic link
  (outcome "refused"; links in the folder are never followed) and, on its first call, starts grading every
  submission of the assignment in parallel (one sandbox per submission, all cores);
- sanitising rebuilds each notebook from the release with the student's answers in it
  (``notebook.canonical_notebook``) instead of trusting the submitted cell metadata;
- execution in the student's kernel is replaced by ``SandboxedGrading``: it takes the verdicts
  decided outside the sandbox and writes them as the outputs of the test cells, with the hidden
  test source removed, so nbgrader's own SaveAutoGrades, feedback and export just work.
"""
import concurrent.futures
import glob
import json
import os
import shutil
import threading

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from . import core, feedback, media, sandbox
from . import notebook as nbk

_state = {"root": None, "settings": core.Settings(), "allow_unsandboxed": False,
          "pool": None, "futures": {}, "sandbox_ok": None, "dask_scheduler": None}
_lock = threading.Lock()


def configure(c, course_root, allow_unsandboxed=False, dask_scheduler=None, **settings):
    """Install the grader into an nbgrader config object ``c``.

    dask_scheduler: None grades on this machine (a pool of ``workers`` sandboxes); "tcp://host:8786" runs each
    submission's sandboxed job on that Dask cluster (grading/distributed.py; README: "Grading on several
    machines"). The environment variable COURSE_GRADING_DASK_SCHEDULER overrides it ("local": this machine)."""
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput,
                                        LimitOutput, OverwriteKernelspec, SaveAutoGrades)
    _state["root"] = os.path.abspath(course_root)
    for name in ("cell_timeout", "case_timeout", "submission_timeout", "memory_mb", "workers", "seed"):
        env = os.environ.get("COURSE_GRADING_" + name.upper())
        if env:  # lets tests and one-off runs tighten limits without editing the config
            settings[name] = int(env)
    if os.environ.get("COURSE_GRADING_SEED_SCOPE"):
        settings["seed_scope"] = os.environ["COURSE_GRADING_SEED_SCOPE"]
    _state["settings"] = core.Settings(**settings)
    _state["allow_unsandboxed"] = bool(allow_unsandboxed) or os.environ.get("COURSE_ALLOW_UNSANDBOXED") == "1"
    dask_scheduler = os.environ.get("COURSE_GRADING_DASK_SCHEDULER") or dask_scheduler
    _state["dask_scheduler"] = None if dask_scheduler in (None, "", "local") else dask_scheduler
    c.Autograde.pre_convert_hook = pre_convert_hook
    c.Autograde.sanitize_preprocessors = [ClearOutput, CanonicalCells, OverwriteKernelspec, CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [SandboxedGrading, LimitOutput, SaveAutoGrades,
                                           AssignLatePenalties, CheckCellMetadata]
    c.ExportApp.plugin_class = "grading.export.OutcomeCsvExport"
    feedback.configure(c)


def _sandboxed():
    """True to sandbox; False only if unavailable AND the instructor allowed it; else raise."""
    if _state["sandbox_ok"] is None:
        _state["sandbox_ok"] = sandbox.available()
    ok, why = _state["sandbox_ok"]
    if ok:
        return True
    if _state["allow_unsandboxed"]:
        return False
    raise RuntimeError(
        "Refusing to grade: the sandbox is unavailable on this machine (" + why + "). Grading runs "
        "student code; without the sandbox it could read the teacher notebooks and the gradebook. "
        "Fix the host (see README: 'What the sandbox needs') or, knowingly, set "
        "allow_unsandboxed=True in nbgrader_config.py (or COURSE_ALLOW_UNSANDBOXED=1).")


def _release_nb(assignment, notebook):
    return os.path.join(_state["root"], "release", assignment, notebook + ".ipynb")


def _unlink_links(folder):
    """Replace every symbolic link under ``folder`` by a small text file naming its target.

    Links are never followed (a link to the teacher's notebook must not be graded, nor copied into
    autograded/ by nbgrader). Returns the replaced paths, relative to ``folder``.
    """
    replaced = []
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(base, name)
            if os.path.islink(p):
                target = os.readlink(p)
                os.unlink(p)
                with open(p + ".link.txt", "w") as f:
                    f.write(f"This was a symbolic link to {target}; the grader does not follow links.\n")
                replaced.append(os.path.relpath(p, folder))
    return sorted(replaced)


def _stand_in(path, assignment, marks):
    notebook = os.path.splitext(os.path.basename(path))[0]
    release = _release_nb(assignment, notebook)
    stand_in = nbformat.read(release, as_version=4) if os.path.exists(release) else nbformat.v4.new_notebook()
    stand_in.metadata["course_grading"] = marks
    nbformat.write(stand_in, path)


def make_readable(path, assignment):
    """Make ``path`` something nbgrader can convert without trusting it.

    A notebook that is a symbolic link is refused (a stand-in marked "refused" takes its place, the
    link's target is kept in <path>.link.txt); other links in the submission folder are replaced the
    same way. A file that is not a readable notebook is kept as <path>.unreadable and a stand-in
    marked "unreadable" takes its place.
    """
    was_link = os.path.islink(path)
    links = _unlink_links(os.path.dirname(path))
    if was_link:
        _stand_in(path, assignment, {"refused": core.submission_problem_text("link"),
                                     "links": links})
        return
    nb, why = nbk.read_notebook(path)
    if nb is not None:
        return
    keep = path + ".unreadable"
    if not os.path.exists(keep):
        shutil.copy2(path, keep)
    _stand_in(path, assignment, {"unreadable": why, "original": os.path.basename(keep)})


def _grading_call(assignment, student, notebook):
    """(args, kwargs) of core.grade_submission for one submission: here, or its job on the Dask cluster."""
    settings = _state["settings"]
    if _state["dask_scheduler"] is None:
        return (_state["root"], assignment, student, notebook, settings, _sandboxed()), {}
    from . import distributed  # dask is imported on this path only
    cluster = distributed.cluster(_state["dask_scheduler"], _state["allow_unsandboxed"])
    # each worker decides whether it can sandbox (distributed.run_task); the instructor's host need not
    return (_state["root"], assignment, student, notebook, settings, True), \
        {"job": cluster.job(assignment, student, notebook)}


def _pool_size():
    if _state["dask_scheduler"] is None:
        return _state["settings"].workers
    from . import distributed
    # these threads mostly wait for the cluster: two per worker thread keep every worker busy (the next task
    # already queued on the scheduler) while the verdicts of finished ones are decided here; at least 32, for
    # workers that join after the start
    return min(512, max(32, 2 * distributed.cluster(_state["dask_scheduler"], _state["allow_unsandboxed"]).slots()))


def _progress(assignment, futures):
    """A progress bar in the terminal (stderr) for ``futures``: submissions done / total, rate, time left."""
    if not futures:
        return
    from tqdm import tqdm
    where = "on " + _state["dask_scheduler"] if _state["dask_scheduler"] else "on this machine"
    bar = tqdm(total=len(futures), desc=f"grading {assignment} ({where})", unit="submission",
               mininterval=1.0, dynamic_ncols=True)
    lock = threading.Lock()

    def done(_):
        with lock:
            bar.update(1)
            if bar.n >= bar.total:
                bar.close()
    for fut in futures:
        fut.add_done_callback(done)


def _submit_all(assignment):
    """Start grading every submission of ``assignment`` (once per process)."""
    settings = _state["settings"]
    if _state["dask_scheduler"] is None:
        _sandboxed()  # refuse before anything starts
    if _state["pool"] is None:
        _state["pool"] = concurrent.futures.ThreadPoolExecutor(max_workers=_pool_size())
    pattern = os.path.join(_state["root"], "submitted", "*", assignment, "*.ipynb")
    started = []
    for path in sorted(glob.glob(pattern)):
        student = os.path.basename(os.path.dirname(os.path.dirname(path)))
        notebook = os.path.splitext(os.path.basename(path))[0]
        key = (assignment, student, notebook)
        if key in _state["futures"] or not os.path.exists(_release_nb(assignment, notebook)):
            continue
        make_readable(path, assignment)
        args, kwargs = _grading_call(assignment, student, notebook)
        _state["futures"][key] = _state["pool"].submit(core.grade_submission, *args, **kwargs)
        started.append(_state["futures"][key])
        core.REFERENCES.warm(_state["root"], assignment, notebook, settings)
    _progress(assignment, started)


def pre_convert_hook(assignment=None, student=None, notebooks=()):
    for path in notebooks:
        assignment_id = os.path.basename(os.path.dirname(path))
        with _lock:
            make_readable(path, assignment_id)
            _submit_all(assignment_id)


def course_root():
    """The course root configured in nbgrader_config.py (None before ``configure``)."""
    return _state["root"]


def report_for(assignment, student, notebook):
    with _lock:
        fut = _state["futures"].get((assignment, student, notebook))
    if fut is not None:
        return fut.result()
    args, kwargs = _grading_call(assignment, student, notebook)
    return core.grade_submission(*args, **kwargs)


class CanonicalCells(NbGraderPreprocessor):
    """Replace the submission by its canonical form: the release notebook with the student's answers
    in it, exactly as the grader built and ran it (built once, in ``core.grade_submission``)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        report = report_for(info["assignment"], info["student"], info["notebook"])
        canonical = nbformat.from_dict(report["canonical"])
        marks = nb.metadata.get("course_grading")
        if isinstance(marks, dict) and (marks.get("unreadable") or marks.get("refused")):
            canonical.metadata["course_grading"] = marks
        return canonical, resources


class SandboxedGrading(NbGraderPreprocessor):
    """Write the verdicts decided outside the sandbox into the test cells' outputs."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        report = report_for(info["assignment"], info["student"], info["notebook"])
        titles = {test: func for func, tests in nbk.graded_functions(nb).items() for test in tests}
        submitted = _submitted_cells(info["assignment"], info["student"], info["notebook"])
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if nbk.is_test_cell(cell):
                gid = nbk.grade_id(cell)
                cell.source = nbk.strip_hidden(cell.source)
                cell.outputs = core.test_cell_outputs(report, gid, title=titles.get(gid, ""))
                cell.metadata["course_title"] = titles.get(gid) or gid
            elif nbk.skipped_when_grading(cell):
                cell.outputs = [nbformat.v4.new_output(
                    "stream", name="stdout", text="[a demonstration: the autograder does not run this cell]\n")]
                kept = media.kept_outputs(submitted.get(cell.get("id")) or submitted.get(cell.source))
                if kept:
                    cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stdout", text="[below: the figures and sound of your own run, as you "
                                                      "submitted them; they are not graded]\n"))
                    cell.outputs += kept
            else:
                ev = report["cells"].get(str(i))
                if ev is None:
                    continue
                text = ev.get("output", "")
                if ev.get("error"):
                    text += f"\n[this cell raised {ev['error']}]\n"
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []
        banner = f"**Autograder outcome: {report['outcome']}**"
        if report["cause"]:
            banner += f" ({report['cause']})"
        checks = report["checks"]
        passed = [gid for gid, c in checks.items() if c["passed"]]
        banner += f"\n\n{len(passed)} of {len(checks)} graded test cells passed."
        failing = [titles.get(gid, gid) for gid, c in checks.items() if not c["passed"]]
        if failing:
            banner += " Not yet passing: " + ", ".join(f"`{f}`" for f in dict.fromkeys(failing)) + "."
        banner += ("\n\nEach test cell below says how many of its checks ran and, for a failed hidden check, "
                   "what kind of mistake it is (in brackets), never the expected values.")
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(banner))
        nb.metadata["course_grading"] = {"outcome": report["outcome"], "cause": report["cause"]}
        return nb, resources


def _submitted_cells(assignment, student, notebook):
    """{cell id or source: outputs} of the notebook as submitted ({} if it cannot be read): only to hand the
    student's own figures and sound back in the feedback (media.kept_outputs decides what is kept)."""
    path = os.path.join(_state["root"], "submitted", student, assignment, notebook + ".ipynb")
    nb, _ = nbk.read_notebook(path) if os.path.isfile(path) and not os.path.islink(path) else (None, None)
    out = {}
    for cell in (nb.cells if nb is not None else []):
        if cell.get("cell_type") == "code" and isinstance(cell.get("outputs"), list):
            out.setdefault(cell.get("source"), cell["outputs"])
            if cell.get("id"):
                out.setdefault(cell["id"], cell["outputs"])
    return out


def load_report(root, assignment, student):
    """Reports of one student's assignment (list, possibly empty)."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "grading_reports", assignment, f"{student}.*.json"))):
        with open(path) as f:
            out.append(json.load(f))
    return out
