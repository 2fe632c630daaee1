"""benchmarks/bench_lstm_floor.py: its stand-in kernels fit the real call sites and are always put back.

Only behaviour is checked here, never a time (timings live in the benchmark's output).
"""
import numpy as np
import pytest

from benchmarks import bench_lstm_floor, bench_recurrent
from utils import recurrent


def _forward_backward(x, p, G):
    out, cache = recurrent.lstm_sequence_forward(x, p)
    return out, recurrent.lstm_sequence_backward(G, cache)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")              # the floor computes on stale buffers
@pytest.mark.parametrize("bidirectional", [False, True])
def test_floor_step_runs_at_a_small_shape(bidirectional):
    """The stand-ins accept the arguments the sequence code passes (a signature drift would raise here)."""
    step = bench_recurrent.numpy_case("lstm", 5, 4, 3, 6, bidirectional, np.random.default_rng(0))
    with bench_lstm_floor.without_cell_maths():
        step()
    step()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_kernels_are_restored_and_results_unchanged():
    rng = np.random.default_rng(1)
    p = {}
    for g in "fioc":
        p["W" + g], p["b" + g] = rng.standard_normal((4, 9)), rng.standard_normal((4, 1))
    x, G = rng.standard_normal((5, 3, 6)), rng.standard_normal((4, 3, 6))
    before = _forward_backward(x, p, G)
    originals = (recurrent._lstm_kernel, recurrent._lstm_factors, recurrent._lstm_kernel_backward)
    with pytest.raises(RuntimeError):
        with bench_lstm_floor.without_cell_maths():
            assert recurrent._lstm_kernel is not originals[0]
            assert recurrent._lstm_factors is not originals[1]
            assert recurrent._lstm_kernel_backward is not originals[2]
            _forward_backward(x, p, G)
            raise RuntimeError("leave the block early")
    assert (recurrent._lstm_kernel, recurrent._lstm_factors, recurrent._lstm_kernel_backward) == originals
    after = _forward_backward(x, p, G)
    np.testing.assert_array_equal(before[0], after[0])
    for key, value in before[1].items():
        np.testing.assert_array_equal(value, after[1][key])
