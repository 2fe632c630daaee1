"""Runs inside the sandbox: execute a submission's code cells, then the checks' plans.

Usage: python runner.py JOB_JSON EVENT_FD

Events go to EVENT_FD as JSON lines: cell start/end (with captured output and error),
case start/end (with the plain-data results of the plan), and "done". The parent process
watches the clock between events, so a cell that hangs, exits or exhausts memory is seen there
and never here. The job file is deleted as soon as it is read.
"""
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plan as plan_lang  # noqa: E402  (sibling module, copied into the sandbox)

OUTPUT_LIMIT = 8000


class _Capture(io.StringIO):
    """A stdout/stderr replacement that keeps at most OUTPUT_LIMIT characters."""

    def write(self, s):
        room = OUTPUT_LIMIT - self.tell()
        if room > 0:
            super().write(s[:room])
        return len(s)


def main(job_path, fd):
    events = os.fdopen(int(fd), "w", buffering=1)
    write_event = events.write  # bound now, before any student code can touch the module

    def emit(**obj):
        write_event(plan_lang.dumps(obj) + "\n")
        events.flush()

    with open(job_path) as f:
        job = json.load(f)
    os.unlink(job_path)

    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance(colors="NoColor")
    shell.enable_gui = lambda gui=None: None  # no event loop here: `%matplotlib inline` must not fail
    real_out, real_err = sys.stdout, sys.stderr
    skip_cells = set(job.get("skip_cells", []))
    for cell in job["cells"]:
        i = cell["index"]
        if i in skip_cells:
            continue
        emit(ev="cell", i=i, phase="start")
        cap = _Capture()
        sys.stdout = sys.stderr = cap
        error = None
        try:
            result = shell.run_cell(cell["source"], store_history=False)
            exc = result.error_before_exec or result.error_in_exec
            if exc is not None:
                error = f"{type(exc).__name__}: {str(exc)[:500]}"
        except BaseException as exc:  # noqa: B036 - keep going whatever the cell did
            error = f"{type(exc).__name__}: {str(exc)[:500]}"
        finally:
            sys.stdout, sys.stderr = real_out, real_err
        emit(ev="cell", i=i, phase="end", error=error, output=cap.getvalue())

    namespace = shell.user_ns
    skip_cases = set(job.get("skip_cases", []))
    for case in job["cases"]:
        if case["id"] in skip_cases:
            continue
        emit(ev="case", id=case["id"], phase="start")
        cap = _Capture()
        sys.stdout = sys.stderr = cap
        try:
            results = plan_lang.run_plan(plan_lang.decode_plan(case["plan"]), namespace)
        except BaseException as exc:  # noqa: B036
            results = {"__case__": {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}}
        finally:
            sys.stdout, sys.stderr = real_out, real_err
        emit(ev="case", id=case["id"], phase="end", results=results)
    emit(ev="done")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
