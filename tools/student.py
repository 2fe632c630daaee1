"""A student's JupyterLab: the course's releases in a workspace, nbgrader's student tools only.

    python -m tools.student                      # workspace student/, then JupyterLab there (what `make student` runs)
    python -m tools.student --workspace ~/rnn    # another workspace folder
    python -m tools.student --setup-only         # make or top up the workspace, do not start JupyterLab
    python -m tools.student --no-browser --port 8899
    python -m tools.student --ServerApp.ip=0.0.0.0  # other arguments go to JupyterLab as they are

The workspace gets a copy of every release/<id>/ folder. A file the student already has is never
overwritten: running this again only adds what is missing (a new assignment, a deleted file).

JupyterLab runs with JUPYTER_CONFIG_DIR=student-config/ (committed): nbgrader's Validate button and
Assignment List stay, its instructor parts (Create Assignment, Formgrader, Courses) are switched off
there, for this JupyterLab only: the venv and the instructor's own JupyterLab are left as they are.
The Assignment List reads an exchange folder inside the workspace (.nbgrader/exchange) whose
"released" assignments are links to release/<id>/, so a deleted assignment can be fetched again; its
Submit button leaves a timestamped copy there (a local copy: hand in as your instructor says).
JupyterLab's own settings and layouts go to the workspace's .jupyter/ folder, never into student-config/.
"""
import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(ROOT, "student-config")
RELEASE = os.path.join(ROOT, "release")
WORKSPACE = os.path.join(ROOT, "student")
COURSE_ID = "sequence-models"   # the same as the instructor's nbgrader_config.py


def assignments(release_root=RELEASE):
    """The assignment ids with a release folder."""
    return sorted(name for name in os.listdir(release_root)
                  if os.path.isdir(os.path.join(release_root, name)) and not name.startswith("."))


def kernel_language_info():
    """The metadata.language_info this environment's Python kernel reports (ipykernel), Python version included."""
    from ipykernel.ipkernel import IPythonKernel
    return dict(IPythonKernel.language_info)


def _with_kernel_language_info(path):
    """Write this kernel's language_info into a notebook the student has not opened yet. A release stores only
    {"name": "python"}; JupyterLab writes the running kernel's language_info into a notebook when the kernel
    starts and marks the notebook modified when that changes it (jupyter/notebook#470, #2123), so without this a
    fresh notebook would read "modified" before the student touched it. Nothing else of the notebook changes."""
    import json
    with open(path, encoding="utf-8") as f:
        text = f.read()
    nb = json.loads(text)
    nb.setdefault("metadata", {})["language_info"] = kernel_language_info()
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")


def copy_missing(src, dest):
    """Copy the files of folder src that dest does not have yet (a notebook with this kernel's language_info, so
    that it opens unmodified); returns how many were copied."""
    copied = 0
    for folder, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".ipynb_checkpoints")]
        target = os.path.join(dest, os.path.relpath(folder, src))
        os.makedirs(target, exist_ok=True)
        for name in files:
            path = os.path.join(target, name)
            if not os.path.lexists(path):
                shutil.copy2(os.path.join(folder, name), path)
                if name.endswith(".ipynb"):
                    _with_kernel_language_info(path)
                copied += 1
    return copied


def exchange_dir(workspace):
    return os.path.join(workspace, ".nbgrader", "exchange")


def prepare_workspace(workspace=WORKSPACE, ids=None, release_root=RELEASE):
    """Make or top up a student workspace; returns {assignment id: files copied}. Never overwrites a file."""
    workspace = os.path.abspath(workspace)
    ids = assignments(release_root) if ids is None else list(ids)
    copied = {aid: copy_missing(os.path.join(release_root, aid), os.path.join(workspace, aid)) for aid in ids}
    course = os.path.join(exchange_dir(workspace), COURSE_ID)
    for sub in ("outbound", "inbound"):
        os.makedirs(os.path.join(course, sub), exist_ok=True)
    os.makedirs(os.path.join(workspace, ".nbgrader", "cache"), exist_ok=True)
    for aid in ids:
        link = os.path.join(course, "outbound", aid)
        if not os.path.lexists(link):
            target = os.path.abspath(os.path.join(release_root, aid))   # relative: the course can move
            os.symlink(os.path.relpath(target, os.path.dirname(link)), link, target_is_directory=True)
    return copied


def environment(workspace=WORKSPACE, base=None):
    """The environment JupyterLab runs in: the student configuration, settings kept in the workspace."""
    workspace = os.path.abspath(workspace)
    env = dict(os.environ if base is None else base)
    lab = os.path.join(workspace, ".jupyter", "lab")
    env.update(
        JUPYTER_CONFIG_DIR=CONFIG_DIR,
        COURSE_STUDENT_WORKSPACE=workspace,          # read by student-config/nbgrader_config.py
        JUPYTERLAB_SETTINGS_DIR=os.path.join(lab, "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=os.path.join(lab, "workspaces"),
    )
    # nbgrader's Validate button and the kernels start tools of this Python's environment
    env["PATH"] = os.path.dirname(os.path.abspath(sys.executable)) + os.pathsep + env.get("PATH", "")
    return env


def command(workspace=WORKSPACE, port=None, token=None, open_browser=True):
    """The JupyterLab command line for a workspace."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={os.path.abspath(workspace)}"]
    if port is not None:
        cmd += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")   # containers and CI run as root; JupyterLab refuses to start otherwise
    return cmd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pids_mentioning(marker):
    """Processes whose command line contains `marker` (kernels: their connection file is in the runtime dir)."""
    pids = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def stop_lab(proc, runtime_dir):
    """Stop a JupyterLab of background_lab (its process group) and every kernel it started (each kernel runs in
    a session of its own, found by its connection file in runtime_dir)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
    for pid in pids_mentioning(runtime_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def background_lab(workspace, scratch, timeout=90):
    """A JupyterLab with the student configuration on `workspace`, in the background on a free port with a
    random token; yields (url, token). Its log, runtime files and kernel connection files go to the folder
    `scratch`. Stopped, kernels included, when the block ends (also on error)."""
    workspace, scratch = os.path.abspath(workspace), os.path.abspath(scratch)
    runtime, log_path = os.path.join(scratch, "runtime"), os.path.join(scratch, "jupyterlab.log")
    os.makedirs(runtime, exist_ok=True)
    port, token = free_port(), uuid.uuid4().hex
    env = environment(workspace)
    env.update(JUPYTER_RUNTIME_DIR=runtime, PYTHONDONTWRITEBYTECODE="1")
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command(workspace, port=port, token=token, open_browser=False), cwd=workspace,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    with open(log_path, encoding="utf-8", errors="replace") as f:
                        tail = f.read()[-4000:]
                    raise RuntimeError(f"JupyterLab did not start (exit code {proc.poll()}):\n{tail}")
                time.sleep(0.25)
            yield url, token
        finally:
            stop_lab(proc, runtime)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.student", description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", default=WORKSPACE, help="the student's folder (default: student/)")
    parser.add_argument("--setup-only", action="store_true", help="make the workspace, do not start JupyterLab")
    parser.add_argument("--port", type=int, help="JupyterLab's port (default: the first free one from 8888)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args, extra = parser.parse_known_args(argv)   # the rest goes to JupyterLab (--ServerApp.token=..., ...)
    workspace = os.path.abspath(os.path.expanduser(args.workspace))
    copied = prepare_workspace(workspace)
    for aid, count in copied.items():
        print(f"{aid}: {count} new file(s)" if count else f"{aid}: up to date (nothing overwritten)")
    print(f"workspace: {workspace}")
    if args.setup_only:
        return 0
    cmd = command(workspace, port=args.port, open_browser=not args.no_browser) + extra
    os.chdir(workspace)
    os.execve(cmd[0], cmd, environment(workspace))


if __name__ == "__main__":
    sys.exit(main())
