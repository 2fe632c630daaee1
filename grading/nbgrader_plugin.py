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

from . import core, sandbox
from . import notebook as nbk

_state = {"root": None, "settings": core.Settings(), "allow_unsandboxed": False,
          "pool": None, "futures": {}, "sandbox_ok": None}
_lock = threading.Lock()


def configure(c, course_root, allow_unsandboxed=False, **settings):
    """Install the grader into an nbgrader config object ``c``."""
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
    c.Autograde.pre_convert_hook = pre_convert_hook
    c.Autograde.sanitize_preprocessors = [ClearOutput, CanonicalCells, OverwriteKernelspec, CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [SandboxedGrading, LimitOutput, SaveAutoGrades,
                                           AssignLatePenalties, CheckCellMetadata]
    c.ExportApp.plugin_class = "grading.export.OutcomeCsvExport"


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


def _submit_all(assignment):
    """Start grading every submission of ``assignment`` (once per process)."""
    settings = _state["settings"]
    sandboxed = _sandboxed()
    if _state["pool"] is None:
        _state["pool"] = concurrent.futures.ThreadPoolExecutor(max_workers=settings.workers)
    pattern = os.path.join(_state["root"], "submitted", "*", assignment, "*.ipynb")
    for path in sorted(glob.glob(pattern)):
        student = os.path.basename(os.path.dirname(os.path.dirname(path)))
        notebook = os.path.splitext(os.path.basename(path))[0]
        key = (assignment, student, notebook)
        if key in _state["futures"] or not os.path.exists(_release_nb(assignment, notebook)):
            continue
        make_readable(path, assignment)
        _state["futures"][key] = _state["pool"].submit(
            core.grade_submission, _state["root"], assignment, student, notebook, settings, sandboxed)
        core.REFERENCES.warm(_state["root"], assignment, notebook, settings)


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
    return core.grade_submission(_state["root"], assignment, student, notebook, _state["settings"], _sandboxed())


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
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if nbk.is_test_cell(cell):
                cell.source = nbk.strip_hidden(cell.source)
                cell.outputs = core.test_cell_outputs(report, nbk.grade_id(cell))
            elif nbk.skipped_when_grading(cell):
                cell.outputs = [nbformat.v4.new_output(
                    "stream", name="stdout", text="[a demonstration: the autograder does not run this cell]\n")]
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
        passed = sum(c["passed"] for c in report["checks"].values())
        banner += f"\n\n{passed} of {len(report['checks'])} graded test cells passed."
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(banner))
        nb.metadata["course_grading"] = {"outcome": report["outcome"], "cause": report["cause"]}
        return nb, resources


def load_report(root, assignment, student):
    """Reports of one student's assignment (list, possibly empty)."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "grading_reports", assignment, f"{student}.*.json"))):
        with open(path) as f:
            out.append(json.load(f))
    return out
