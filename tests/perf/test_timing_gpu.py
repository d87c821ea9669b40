"""StepTimer on CUDA: phases timed by CUDA events (GPU stream time), resolved without syncs in the hot path."""
import pytest
import torch

from turboyolo.perf.timing import CudaEventMarks, StepTimer

pytestmark = pytest.mark.gpu


def test_cuda_events_time_the_phases_of_gpu_steps():
    device = torch.device("cuda", 0)
    timer = StepTimer(device)
    assert isinstance(timer.marks, CudaEventMarks)
    a = torch.randn(2048, 2048, device=device)
    timer.reset()
    for _ in range(5):
        timer.start_step()
        timer.lap("data")
        for _ in range(20):
            b = a @ a  # noqa: F841  (GPU work for the "forward" phase)
        timer.lap("forward")
        timer.end_step(images=8)
    summary = timer.summary()
    assert summary["steps"] == 5 and summary["images"] == 40
    assert summary["forward_s"] > 10 * summary["data_s"]  # the matmuls are in forward, not in data
    assert summary["forward_s"] <= summary["wall_s"] * 1.01
    assert summary["images_per_s"] > 0
