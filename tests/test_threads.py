"""utils/threads.py: the BLAS thread policy of the layer library, and the grader's thread settings."""
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


def test_policy_runs_a_kind_of_work_with_its_thread_count_and_restores_it(no_user_choice):
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


def test_a_users_thread_variable_turns_the_policy_off(monkeypatch, no_user_choice):
    assert threads.count("recurrent") == 1
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
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


def test_grading_processes_get_one_blas_thread_when_they_run_side_by_side():
    assert core._env(2, "/w")["OPENBLAS_NUM_THREADS"] == "1"
    assert core._env(1, "/w", reference=True)["OPENBLAS_NUM_THREADS"] == "1"   # beside the one worker
    assert not any(k in core._env(1, "/w") for k in threads.USER_VARIABLES)   # alone: the policy decides
