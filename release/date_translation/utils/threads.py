"""How many BLAS threads each kind of work in utils uses.

The course's matrices are small (an LSTM of 64 units over 60 examples, a GRU of 128 units over 16): a
matrix product of that size takes microseconds, and a second BLAS thread mostly waits for the first. On a
busy laptop or a shared JupyterHub server it also waits for the neighbours, and the whole loop gets several
times slower (the jazz training: 7 s with one thread, 21-79 s with two beside other work). So utils runs
its recurrent and dense layers on one BLAS thread, and uses every core only for the kinds of work where
benchmarks/bench_threads.py measured that it helps, quiet and under load (its table is in
benchmarks/README.md).

    POLICY[kind] -- 1 (one thread) or "all" (every core BLAS would use anyway)

The policy steps aside when the user chose: if OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS or
BLIS_NUM_THREADS is set (the autograder sets them for its workers), or threadpoolctl is missing, nothing is
changed. Work outside utils is never affected: the thread count is restored when a layer returns.

    @threads.policy("recurrent")      # decorates a function of utils
    threads.count("conv1d")           # the thread count that kind of work runs with here, or None
"""
import functools
import os
import threading

try:
    from threadpoolctl import ThreadpoolController
except ImportError:                      # the policy is an optimisation: without the library nothing changes
    ThreadpoolController = None

__all__ = ["POLICY", "USER_VARIABLES", "count", "policy", "user_controls"]

# measured by benchmarks/bench_threads.py on a 2-core machine, quiet and beside one busy process per core
POLICY = {
    "recurrent": 1,      # LSTM / GRU / RNN sequences, forward and backward, every shape of the course
    "dense": 1,          # time-distributed dense layers and the attention's small products
    "conv1d": "all",     # the trigger detector's im2col product, (196, 1515) @ (1515, 22000)
}
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

_local = threading.local()               # depth of nested policy calls in this thread (the outermost decides)
_blas = None                             # the BLAS libraries' controllers, found once


def user_controls():
    """True when the user (or the grader) fixed the thread count through the environment."""
    return any(os.environ.get(name) for name in USER_VARIABLES)


def _libraries():
    global _blas
    if _blas is None:
        if ThreadpoolController is None:
            _blas = []
        else:
            _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _blas


def count(kind):
    """The BLAS threads ``kind`` of work runs with, or None when the policy leaves the count alone."""
    if kind not in POLICY:
        raise KeyError(f"unknown kind of work {kind!r}; known: {', '.join(POLICY)}")
    if user_controls() or not _libraries():
        return None
    want = POLICY[kind]
    return max(lib.num_threads for lib in _libraries()) if want == "all" else int(want)


def policy(kind):
    """Decorator: run the function with the BLAS threads of POLICY[kind] (nested calls keep the outer count)."""
    if kind not in POLICY:
        raise KeyError(f"unknown kind of work {kind!r}; known: {', '.join(POLICY)}")

    def decorate(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            depth = getattr(_local, "depth", 0)
            want = None if depth else count(kind)
            if want is None:
                _local.depth = depth + 1
                try:
                    return func(*args, **kwargs)
                finally:
                    _local.depth = depth
            before = [lib.num_threads for lib in _blas]
            _local.depth = depth + 1
            try:
                for lib, n in zip(_blas, before):
                    if n != want:
                        lib.set_num_threads(want)
                return func(*args, **kwargs)
            finally:
                for lib, n in zip(_blas, before):
                    if n != want:
                        lib.set_num_threads(n)
                _local.depth = depth
        return run
    return decorate
