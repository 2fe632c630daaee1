"""Start a command in a sandbox: namespaces for isolation, rlimits for resources.

What the sandbox gives the command
    - its own mount namespace whose root is a fresh tmpfs holding only: the system directories
      (/usr, /lib*, /bin, /sbin, /etc) and the Python installation, read-only; the work folder,
      read-write (mounted at /sandbox); an empty /tmp of limited size; /dev/null, /dev/zero,
      /dev/urandom; its own /proc. The course tree (source/, the gradebook, other students'
      folders, grading/) does not exist in there.
    - its own network namespace (no interfaces but a loopback that is down: no network),
      PID namespace (killing the sandbox kills every process in it), IPC and UTS namespaces.
    - when started as root: a uid of its own (never root) and no_new_privs;
      otherwise a user namespace mapping the caller's uid to itself.
    - rlimits: address space (memory cap), processes, CPU seconds, file size, open files.

What it needs from the host: Linux with unprivileged user namespaces (or root), i.e.
``unshare --user --map-root-user --mount --net true`` must succeed. Where that fails,
``available()`` says why, and the grader refuses to run unless the instructor explicitly allows
unsandboxed grading (see nbgrader_config.py), in which case only the rlimits apply.
"""
import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1

SYSTEM_DIRS = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc"]
INSIDE_WORKDIR = "/sandbox"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, target, fstype, flags, data=None):
    _check(_libc.mount(src.encode() if src else None, target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None), f"mount {src} -> {target}")


def _python_dirs():
    dirs = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
            os.path.realpath(os.path.dirname(os.path.realpath(sys.executable)))}
    return sorted(d for d in dirs if not any(d.startswith(s + "/") for s in SYSTEM_DIRS))


def _bind_readonly(src, dst):
    os.makedirs(dst, exist_ok=True)
    _mount(src, dst, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY
    st = os.statvfs(src).f_flag
    flags |= (MS_NOSUID if st & os.ST_NOSUID else 0) | (MS_NODEV if st & os.ST_NODEV else 0) | \
        (MS_NOEXEC if st & os.ST_NOEXEC else 0)
    _mount(None, dst, None, flags)


# pivot_root has no libc wrapper; its system call number depends on the architecture.
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "loongarch64": 41,
              "i386": 217, "i686": 217, "armv7l": 218, "ppc64le": 203, "s390x": 217}


def _pivot_root_number():
    machine = os.uname().machine
    if machine not in PIVOT_ROOT:
        raise OSError(f"the sandbox does not know the pivot_root system call on {machine}")
    return PIVOT_ROOT[machine]


def _build_root(root, workdir, tmp_mb):
    """Inside fresh mount+PID namespaces: make ``root`` the new / and enter it."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("sandbox-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for d in SYSTEM_DIRS:
        if not os.path.exists(d):
            continue
        if os.path.islink(d):
            os.symlink(os.readlink(d), root + d)
        else:
            _bind_readonly(d, root + d)
    os.makedirs(root + "/tmp")
    _mount("sandbox-tmp", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=1777")
    for d in _python_dirs():  # after /tmp: a virtual environment may live under /tmp
        _bind_readonly(d, root + d)
    os.makedirs(root + INSIDE_WORKDIR)
    _mount(workdir, root + INSIDE_WORKDIR, None, MS_BIND | MS_REC)
    os.makedirs(root + "/dev/shm")
    _mount("sandbox-shm", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for dev in ("null", "zero", "urandom", "random"):
        open(root + "/dev/" + dev, "w").close()
        _mount("/dev/" + dev, root + "/dev/" + dev, None, MS_BIND)
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/.old")
    _check(_libc.syscall(_pivot_root_number(), root.encode(), (root + "/.old").encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _capped(which, soft, hard):
    """(soft, hard) no higher than the caller's own hard limit (a process cannot raise it)."""
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        hard = min(hard, current)
        soft = min(soft, hard)
    return soft, hard


def _set_limits(limits):
    mb = 2**20
    for which, soft, hard in ((resource.RLIMIT_AS, limits["memory_mb"] * mb, limits["memory_mb"] * mb),
                              (resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 5),
                              (resource.RLIMIT_FSIZE, limits["file_mb"] * mb, limits["file_mb"] * mb),
                              (resource.RLIMIT_NOFILE, 256, 256),
                              (resource.RLIMIT_CORE, 0, 0),
                              (resource.RLIMIT_NPROC, limits["processes"], limits["processes"])):
        resource.setrlimit(which, _capped(which, soft, hard))


def _inside(config):
    """Entry point of the sandbox's helper process (runs ``python sandbox.py CONFIG``)."""
    uid, gid = os.getuid(), os.getgid()
    as_root = uid == 0
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not as_root:
        flags |= CLONE_NEWUSER
    _check(_libc.unshare(flags), "unshare")
    if not as_root:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    pid = os.fork()  # the child is PID 1 of the new PID namespace
    if pid == 0:
        try:
            _libc.prctl(PR_SET_PDEATHSIG, 9)
            root = tempfile.mkdtemp(prefix="sandbox-root-")
            _build_root(root, config["workdir"], config["limits"]["tmp_mb"])
            os.chdir(INSIDE_WORKDIR)
            if as_root:
                os.setgroups([])
                os.setgid(config["uid"])
                os.setuid(config["uid"])
            _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
            _set_limits(config["limits"])
            os.execve(config["argv"][0], config["argv"], config["env"])
        except BaseException as exc:  # noqa: B036
            sys.stderr.write(f"sandbox setup failed: {type(exc).__name__}: {exc}\n")
            os._exit(121)
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


DEFAULT_LIMITS = {"memory_mb": 3072, "cpu_seconds": 600, "file_mb": 64, "processes": 64, "tmp_mb": 256}


def launch(argv, workdir, env, limits=None, sandboxed=True, pass_fds=(), stdout=None, uid=None):
    """Start ``argv`` inside the sandbox (or, if ``sandboxed`` is False, with rlimits only).

    argv:    command as run inside; paths must exist inside (the Python install does, the work
             folder is at /sandbox).
    workdir: host folder mounted read-write at /sandbox (made owned by the sandbox uid if root).
    Returns the ``subprocess.Popen``; it leads its own process group (kill with os.killpg).
    """
    limits = dict(DEFAULT_LIMITS, **(limits or {}))
    if not sandboxed:
        def preexec():
            _set_limits(dict(limits, processes=max(limits["processes"], 4096)))
        return subprocess.Popen(argv, cwd=workdir, env=env, pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=subprocess.STDOUT, preexec_fn=preexec, start_new_session=True)
    if uid is None:
        uid = 200000 + os.getpid() % 100000 * 7 % 100000
    if os.getuid() == 0:
        for base, dirs, files in os.walk(workdir):
            for name in dirs + files:
                os.lchown(os.path.join(base, name), uid, uid)
        os.chown(workdir, uid, uid)
    config = {"workdir": os.path.abspath(workdir), "argv": argv, "env": env, "limits": limits, "uid": uid}
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), json.dumps(config)],
                            env={"PATH": "/usr/bin:/bin"}, pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True)


def available():
    """(True, "") when the sandbox works on this host, else (False, the reason)."""
    if not sys.platform.startswith("linux"):
        return False, "the sandbox needs Linux namespaces"
    with tempfile.TemporaryDirectory() as work:
        try:
            proc = launch([os.path.realpath(sys.executable), "-c", "print('sandbox-ok')"], work,
                          {"PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE, uid=199999)
            out, _ = proc.communicate(timeout=60)
        except Exception as exc:  # noqa: BLE001
            return False, f"{type(exc).__name__}: {exc}"
    text = out.decode(errors="replace")
    if proc.returncode == 0 and "sandbox-ok" in text:
        return True, ""
    return False, text.strip()[-500:] or f"exit code {proc.returncode}"


if __name__ == "__main__":
    _inside(json.loads(sys.argv[1]))
