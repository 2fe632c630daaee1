"""utils/threads.py: the BLAS thread policy of the layer library, and the grader's thread settings."""
import sys

import numpy as np
import pytest

from grading import core
from utils import layers, recurrent, threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def no_user_choice(monkeypatch):
    for name in threads.USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    threads.forget()
    yield
    threads.forget()


@pytest.fixture
def fixed_policy(monkeypatch, no_user_choice):
    """The policy with fixed counts (recurrent 1, conv1d all), whatever the machine's load."""
    monkeypatch.setattr(threads, "POLICY", {"recurrent": 1, "dense": 1, "conv1d": "all"})


class FakeMachine:
    """/proc/stat and this process's CPU time as a test sets them: ``others`` busy cores beside ``own``."""

    def __init__(self, tmp_path, cores=2):
        self.path, self.t, self.busy, self.own_s, self.cores = tmp_path / "stat", 0.0, 0.0, 0.0, cores
        self.write()

    def write(self):
        hz = threads._load.hz
        busy, idle = int(self.busy * hz), int((self.t * self.cores - self.busy) * hz)
        self.path.write_text(f"cpu  {busy} 0 0 {max(idle, 0)} 0 0 0 0 0 0\ncpu0 ...\n")

    def advance(self, seconds, others, own):
        self.t += seconds
        self.busy += seconds * (others + own)
        self.own_s += seconds * own
        self.write()

    def load(self):
        self.loadavg = self.path.parent / "loadavg"
        self.loadavg.write_text("0.50 0.40 0.30 2/345 6789\n")    # this thread and one other runnable
        load = threads._Load(str(self.path), clock=lambda: self.t, own=lambda: self.own_s,
                             loadavg=str(self.loadavg))
        load.cores = self.cores
        return load


def test_policy_runs_a_kind_of_work_with_its_thread_count_and_restores_it(fixed_policy):
    seen = {}

    @threads.policy("recurrent")
    def inner():
        seen["inner"] = _blas_threads()

    @threads.policy("conv1d")
    def outer():
        seen["outer"] = _blas_threads()
        inner()                                     # nested: the outer count stays
    before = _blas_threads()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        outer()
        inner()
        assert _blas_threads() == [2] * len(before)
    assert seen["outer"] == [2] * len(before) and seen["inner"] == [1] * len(before)
    assert _blas_threads() == before


def test_a_users_thread_variable_turns_the_policy_off(monkeypatch, fixed_policy):
    assert threads.count("recurrent") == 1
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    threads.forget()                                # read again at most every SAMPLE_SECONDS
    assert threads.count("recurrent") is None and threads.count("conv1d") is None
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        seen = []
        threads.policy("recurrent")(lambda: seen.append(_blas_threads()))()
        assert seen[0] == [2] * len(seen[0])


def test_policy_survives_an_exception_and_names_unknown_kinds(no_user_choice):
    before = _blas_threads()

    @threads.policy("recurrent")
    def boom():
        raise ValueError("x")
    with pytest.raises(ValueError):
        boom()
    assert _blas_threads() == before
    with pytest.raises(KeyError, match="unknown kind of work 'gpu'"):
        threads.policy("gpu")
    with pytest.raises(KeyError, match="known: recurrent"):
        threads.count("gpu")


def test_layers_under_the_policy_compute_what_they_did():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 9))
    p = {"W" + g: rng.standard_normal((4, 9)) for g in "urc"} | {"b" + g: rng.standard_normal((4, 1)) for g in "urc"}
    a, cache = recurrent.gru_sequence_forward(x, p)
    a_step, a_t = [], np.zeros((4, 3))
    for t in range(9):
        a_t = recurrent.gru_step_forward(x[:, :, t], a_t, p)[0]
        a_step.append(a_t)
    np.testing.assert_allclose(a, np.stack(a_step, axis=-1), rtol=1e-12, atol=1e-12)
    W = rng.standard_normal((2, 5, 3))
    z, _ = layers.conv1d_forward(x, W, np.zeros((2, 1)), 2)
    assert z.shape == (2, 3, 4)
    np.testing.assert_allclose(z[:, 1, 0], np.einsum("fck,ck->f", W, x[:, 1, 0:3]), rtol=1e-12)


def test_adaptive_counts_follow_the_cores_other_processes_leave_free(tmp_path, monkeypatch, no_user_choice):
    machine = FakeMachine(tmp_path)
    load = machine.load()
    monkeypatch.setattr(threads, "_load", load)
    monkeypatch.setattr(threads, "POLICY", dict.fromkeys(threads.POLICY, "adaptive"))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        # one reading is not a rate: the threads runnable now stand in (this one and a neighbour: 1 core free)
        assert threads.count("recurrent") == 1 and threads.count("conv1d") == 1
        threads.forget()
        machine.loadavg.write_text("0.50 0.40 0.30 1/345 6789\n")
        assert threads.count("recurrent") == 2
        machine.advance(1.0, others=0.1, own=2.0)      # quiet: our own two busy threads are not neighbours
        assert load.free_now() == pytest.approx(1.9, abs=0.05)
        assert threads.count("recurrent") == 2 and threads.count("dense") == 2
        machine.advance(0.2, others=2.0, own=0.0)      # read again only after SAMPLE_SECONDS
        assert threads.count("recurrent") == 2
        machine.advance(0.4, others=2.0, own=1.0)      # a busy neighbour per core
        assert load.free_now() < 0.5 and threads.count("recurrent") == 1 and threads.count("conv1d") == 1
        machine.advance(1.0, others=0.7, own=1.0)      # one core less than half free: still one thread
        assert threads.count("recurrent") == 1
        machine.advance(1.0, others=0.4, own=1.0)
        assert threads.count("recurrent") == 2
    monkeypatch.setattr(threads, "_load", threads._Load(str(tmp_path / "no-such-file"), loadavg=str(tmp_path / "x")))
    most = max(_blas_threads())
    assert threads.free_cores() is None                     # no /proc/stat (macOS, Windows): FALLBACK
    assert threads.count("recurrent") == 1 and threads.count("conv1d") == most


def test_adaptive_sees_real_neighbours(no_user_choice, monkeypatch):
    """Beside one spinning process per core, /proc/stat shows no free core (Linux only)."""
    import os
    import time
    from benchmarks import load as bench_load
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat")
    probe = threads._Load()
    with bench_load.busy_cores():
        time.sleep(0.3)
        probe.free_now()
        time.sleep(threads.SAMPLE_SECONDS + 0.3)
        assert probe.free_now() < 1.0


def test_grading_processes_get_one_blas_thread_when_they_run_side_by_side():
    assert core._env(2, "/w")["OPENBLAS_NUM_THREADS"] == "1"
    assert core._env(1, "/w", reference=True)["OPENBLAS_NUM_THREADS"] == "1"   # beside the one worker
    assert not any(k in core._env(1, "/w") for k in threads.USER_VARIABLES)   # alone: the policy decides


def test_a_blas_loaded_after_the_first_call_is_limited_too(fixed_policy, monkeypatch):
    """A BLAS library loaded by a later import (scipy's wheels carry their own OpenBLAS) is found: the list of
    libraries is looked up again when modules were imported since."""
    found = threads._libraries()
    fake = type("FakeBlas", (), {"num_threads": 2, "user_api": "blas",
                                 "set_num_threads": lambda self, n: setattr(self, "num_threads", n)})()
    monkeypatch.setattr(threads, "ThreadpoolController", lambda: type("C", (), {"lib_controllers": found + [fake]})())
    monkeypatch.setitem(sys.modules, "a_module_imported_later", object())   # an import happened
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with threads.limit("recurrent"):
            assert fake.num_threads == 1
        assert fake.num_threads == 2
    monkeypatch.undo()
    threads._libraries()
