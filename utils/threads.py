"""How many BLAS threads each kind of work in utils uses.

The course's matrices are small (an LSTM of 64 units over 60 examples, a GRU of 128 units over 16). On a
quiet 2-core machine a second BLAS thread still helps a little (0-25% on the recurrent layers, a third on
the trigger detector's Conv1D). On a busy laptop or a shared JupyterHub server the second thread waits for
the neighbours and the work gets several times slower (the jazz training: 4.5 s quiet, 23-45 s beside two
busy processes with two threads, 9 s with one). So the choice follows the machine, measured as the work
runs:

    POLICY[kind] -- "adaptive": every core BLAS would use while the other processes leave them free, else one
                    1: always one thread;  "all": always every core BLAS would use

"adaptive" reads the machine's CPU time from /proc/stat at most every SAMPLE_SECONDS, takes away this
process's own CPU time (its BLAS threads must not count as neighbours) and gives BLAS all its threads when
the cores left free cover them (with FREE_MARGIN of slack), one thread otherwise. Where /proc/stat does not
exist (macOS, Windows), "adaptive" uses FALLBACK. Before a process has two readings to compare (its first
SAMPLE_SECONDS), the number of threads runnable at that moment (/proc/loadavg) stands in.
benchmarks/bench_threads.py measured the kinds, quiet and beside one busy process per core (its table is in
benchmarks/README.md).

The policy steps aside when the user chose: if OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS or
BLIS_NUM_THREADS is set (the autograder sets them for its workers), or threadpoolctl is missing, nothing is
changed. Work outside utils is never affected: the thread count is restored when a layer returns.

    @threads.policy("recurrent")      # decorates a function of utils
    with threads.limit("recurrent"):  # a block, e.g. a training loop made of many small steps
    threads.count("conv1d")           # the thread count that kind of work runs with now, or None
"""
import functools
import importlib
import sys
import os
import threading
import time

try:
    from threadpoolctl import ThreadpoolController
except ImportError:                      # the policy is an optimisation: without the library nothing changes
    ThreadpoolController = None

__all__ = ["POLICY", "USER_VARIABLES", "count", "forget", "free_cores", "limit", "policy", "user_controls"]

# measured by benchmarks/bench_threads.py on a 2-core machine, quiet and beside one busy process per core
POLICY = {
    "recurrent": "adaptive",   # LSTM / GRU / RNN steps and sequences, forward and backward
    "dense": "adaptive",       # time-distributed dense layers
    "conv1d": "adaptive",      # the trigger detector's im2col product, (196, 1515) @ (1515, 22000)
}
FALLBACK = {"recurrent": 1, "dense": 1, "conv1d": "all"}   # "adaptive" without /proc/stat
SAMPLE_SECONDS = 0.5             # how often the machine's load is read again
FREE_MARGIN = 0.5                # all of BLAS's threads when the free cores reach their count less this margin
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

_local = threading.local()               # depth of nested policy calls in this thread (the outermost decides)
_blas = None                             # the BLAS libraries' controllers (see _libraries)


class _Load:
    """The cores other processes leave free, from /proc/stat and this process's own CPU time."""

    def __init__(self, path="/proc/stat", clock=time.monotonic, own=None, loadavg="/proc/loadavg"):
        self.path, self.clock, self.loadavg = path, clock, loadavg
        self.own = own or (lambda: sum(os.times()[:2]))
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.cores = os.cpu_count() or 1
        self.last = None                 # (time, machine busy seconds, own seconds)
        self.free = None
        self.lock = threading.Lock()

    def _busy(self):
        """Seconds of CPU the whole machine spent busy (all cores), or None without /proc/stat."""
        try:
            with open(self.path, "rb") as f:
                fields = f.readline().split()
        except OSError:
            return None
        ticks = [int(v) for v in fields[1:9]]            # user nice system idle iowait irq softirq steal
        return (sum(ticks) - ticks[3] - ticks[4]) / self.hz

    def _running_now(self):
        """Free cores from the number of runnable threads right now (/proc/loadavg, this thread is one of
        them), or None."""
        try:
            with open(self.loadavg, "rb") as f:
                running = int(f.read().split()[3].split(b"/")[0])
        except (OSError, IndexError, ValueError):
            return None
        return self.cores - max(0, running - 1)

    def free_now(self):
        """Free cores now (a float, may be below 0), or None where the load cannot be read."""
        now = self.clock()
        with self.lock:
            if self.last is not None and now - self.last[0] < SAMPLE_SECONDS:
                return self.free
            busy = self._busy()
            if busy is None:
                self.last, self.free = (now, None, None), None
                return None
            own = self.own()
            if self.last is None or self.last[1] is None:
                self.free = self._running_now()   # one reading is not a rate: until the second, a snapshot
            else:
                span = now - self.last[0]
                others = ((busy - self.last[1]) - (own - self.last[2])) / span
                self.free = self.cores - max(0.0, others)
            self.last = (now, busy, own)
            return self.free


_load = _Load()


def free_cores():
    """The cores other processes leave free (read at most every SAMPLE_SECONDS), or None where unknown."""
    return _load.free_now()


def _want(kind, most):
    """The thread count of ``kind`` when BLAS would use ``most`` threads by itself."""
    want = POLICY[kind]
    if want == "adaptive":
        free = _load.free_now()
        if free is None:
            want = FALLBACK[kind]
        else:
            return most if free >= most - 1 + FREE_MARGIN else 1
    return most if want == "all" else int(want)


_user = {"checked": -1e9, "set": False}


def user_controls():
    """True when the user (or the grader) fixed the thread count through the environment (the variables are
    read again at most every SAMPLE_SECONDS: os.environ lookups would cost more than the small layers)."""
    now = time.monotonic()
    if now - _user["checked"] >= SAMPLE_SECONDS:
        _user["set"] = any(os.environ.get(name) for name in USER_VARIABLES)
        _user["checked"] = now
    return _user["set"]


def forget():
    """Read the environment and the machine's load afresh on the next call (for tests)."""
    _user["checked"] = -1e9
    _load.last, _load.free = None, None


_scanned_at = [-1]   # len(sys.modules) when the BLAS libraries were last looked up


def _libraries():
    """The BLAS libraries loaded in this process. Looked up again whenever modules were imported since the last
    look (an import such as scipy.signal can load a BLAS of its own: scipy's wheels carry their own OpenBLAS,
    which a list made before that import would leave running with every core)."""
    global _blas
    if _blas is None or len(sys.modules) != _scanned_at[0]:
        if ThreadpoolController is None:
            _blas = []
        else:
            importlib.import_module("numpy")      # numpy's BLAS must be loaded for threadpoolctl to find it
            _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
        _scanned_at[0] = len(sys.modules)
    return _blas


def _known(kind):
    """``kind`` if POLICY has it; a KeyError naming the known kinds otherwise."""
    if kind not in POLICY:
        raise KeyError(f"unknown kind of work {kind!r}; known: {', '.join(POLICY)}")
    return kind


def count(kind):
    """The BLAS threads ``kind`` of work runs with now, or None when the policy leaves the count alone."""
    _known(kind)
    if user_controls() or not _libraries():
        return None
    return _want(kind, max(lib.num_threads for lib in _blas))


class limit:
    """Context manager: the block runs with the BLAS threads of POLICY[kind] (a nested block keeps the outer
    count, and costs a counter update only). A training loop entered once pays the switch once:

        with threads.limit("recurrent"):
            for step in ...: ...
    """
    __slots__ = ("kind", "depth", "before", "want", "libs")

    def __init__(self, kind):
        self.kind = _known(kind)

    def __enter__(self):
        self.depth = depth = getattr(_local, "depth", 0)
        _local.depth = depth + 1
        self.before = None
        if depth or user_controls() or not _libraries():
            return self
        libs = _blas
        before = [lib.num_threads for lib in libs]
        want = _want(self.kind, max(before))
        if any(n != want for n in before):
            self.before, self.want, self.libs = before, want, libs   # restored on exit even if a rescan comes between
            for lib, n in zip(libs, before):
                if n != want:
                    lib.set_num_threads(want)
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            for lib, n in zip(self.libs, self.before):
                if n != self.want:
                    lib.set_num_threads(n)
        _local.depth = self.depth
        return False


def policy(kind):
    """Decorator: run the function with the BLAS threads of POLICY[kind] (nested calls keep the outer count)."""
    _known(kind)                                 # an unknown kind fails here, where the function is defined

    def decorate(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            with limit(kind):
                return func(*args, **kwargs)
        return run
    return decorate
