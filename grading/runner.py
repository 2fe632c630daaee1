"""Runs inside the sandbox: executes a notebook's code cells and the checks' plans, one request at a time.

Usage: python runner.py REQUEST_FD RESPONSE_FD

The grader drives the run: it writes one request per line on REQUEST_FD and waits for its answer
on RESPONSE_FD before it sends the next one.

    request   {"op": "hello" | "cell" | "case", "nonce": hex, ...}
    answer    "\\n" + nonce + " " + JSON + "\\n"

- ``hello`` is answered before any notebook code runs: it tells the grader that the sandbox
  started (so nothing a student prints can pass for a sandbox failure).
- ``cell`` {"i", "source"} runs one code cell and answers its captured output and error.
- ``case`` {"id", "plan"} runs one check's plan against the notebook's functions and answers the
  plain-data results. A check's inputs enter this process only when that check runs.

Every answer carries the nonce of its request (fresh and random for each request), and starts on
a new line, so a line that student code writes into the channel is ignored by the grader unless it
guesses the nonce; even then it only stands in for values the student's functions could have
returned. There is no "done" message: the grader knows what it asked for. When the request channel
closes, the runner exits.
"""
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plan as plan_lang  # noqa: E402  (sibling module, copied into the sandbox)

OUTPUT_LIMIT = 8000
MAX_REQUEST_BYTES = 256 * 2**20


class _Capture(io.StringIO):
    """A stdout/stderr replacement that keeps at most OUTPUT_LIMIT characters."""

    def write(self, s):
        room = OUTPUT_LIMIT - self.tell()
        if room > 0:
            super().write(str(s)[:room])
        return len(s)

    def fileno(self):  # code that asks for a real file descriptor gets an honest error
        raise io.UnsupportedOperation("fileno")


def _requests(fd):
    """Yield each request line (bytes) read from ``fd``; stop at end of file."""
    read = os.read
    buf = b""
    while True:
        nl = buf.find(b"\n")
        if nl >= 0:
            line, buf = buf[:nl], buf[nl + 1:]
            yield line
            continue
        chunk = read(fd, 1 << 20)
        if not chunk:
            return
        buf += chunk
        if len(buf) > MAX_REQUEST_BYTES:
            return


def main(request_fd, response_fd):
    request_fd, response_fd = int(request_fd), int(response_fd)
    write, dumps = os.write, plan_lang.dumps  # bound now, before any notebook code can touch a module

    def answer(nonce, obj):
        data = ("\n" + nonce + " " + dumps(obj) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[write(response_fd, view):]

    shell = None
    real_out, real_err = sys.stdout, sys.stderr
    for line in _requests(request_fd):
        try:
            req = json.loads(line)
            op, nonce = req["op"], str(req["nonce"])
        except (ValueError, KeyError, TypeError):
            continue
        if op == "hello":
            from IPython.core.interactiveshell import InteractiveShell
            shell = InteractiveShell.instance(colors="NoColor")
            shell.enable_gui = lambda gui=None: None  # no event loop here
            # Nothing is shown while grading, so `%matplotlib inline` does nothing here: code that draws imports
            # matplotlib itself and gets the Agg backend (MPLBACKEND). The magic imported matplotlib and its inline
            # backend in every run, about 0.65 s of the 1.2 s a first cell took (date_translation).
            shell.register_magic_function(lambda line="": None, "line", "matplotlib")
            answer(nonce, {"ready": True})
        elif op == "cell":
            cap = _Capture()
            sys.stdout = sys.stderr = cap
            error = None
            try:
                result = shell.run_cell(req["source"], store_history=False)
                exc = result.error_before_exec or result.error_in_exec
                if exc is not None:
                    error = f"{type(exc).__name__}: {str(exc)[:500]}"
            except BaseException as exc:  # noqa: B036 - keep going whatever the cell did
                error = f"{type(exc).__name__}: {str(exc)[:500]}"
            finally:
                sys.stdout, sys.stderr = real_out, real_err
            answer(nonce, {"error": error, "output": cap.getvalue()})
        elif op == "case":
            cap = _Capture()
            sys.stdout = sys.stderr = cap
            try:
                results = plan_lang.run_plan(plan_lang.decode_plan(req["plan"]), shell.user_ns)
            except BaseException as exc:  # noqa: B036
                results = {"__case__": {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}}
            finally:
                sys.stdout, sys.stderr = real_out, real_err
            try:
                answer(nonce, {"results": results})
            except BaseException as exc:  # noqa: B036 - e.g. results too large to encode
                answer(nonce, {"results": {"__case__": {"error": f"the results could not be sent: "
                                                                 f"{type(exc).__name__}"}}})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
