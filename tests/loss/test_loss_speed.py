"""The loss's cost no longer grows with batch x boxes x anchors (issue 13: the dense assigner took
a quarter of a training step at 55 boxes per image)."""
import time

import torch

from tests.loss.frozen_loss_v0 import FrozenDetectionLoss
from tests.loss.test_loss_equivalence import FakeModel, random_maps
from turboyolo.loss import DetectionLoss
from turboyolo.perf.model_bench import synthetic_targets


def cpu_seconds(fn, repeats=1):
    """Least process CPU time of `repeats` calls: unlike wall time, blind to other processes on the machine."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def test_loss_with_crowded_images_is_several_times_cheaper_than_the_dense_one():
    batch, num_classes = 8, 3
    generator = torch.Generator().manual_seed(0)
    maps = random_maps(batch, num_classes, (256, 256), generator, torch.bfloat16)
    targets = synthetic_targets(batch, torch.device("cpu"), num_classes, boxes_per_image=55)

    def forward_backward(loss_fn):
        def run():
            loss, _ = loss_fn(maps, targets)
            loss.backward()
            for m in maps:
                m.grad = None
        return run

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # CPU time of one thread: no spin-waiting of idle workers in it
    try:
        fast, dense = forward_backward(DetectionLoss(FakeModel(num_classes))), forward_backward(
            FrozenDetectionLoss(num_classes, 16, (8, 16, 32)))
        fast(), dense()  # warm-up
        times = [(cpu_seconds(fast, 1), cpu_seconds(dense, 1)) for _ in range(5)]  # alternated
    finally:
        torch.set_num_threads(threads)
    fast_s, dense_s = min(t[0] for t in times), min(t[1] for t in times)
    assert fast_s * 3 < dense_s, (fast_s, dense_s)  # measured: about 5x at this size, 6-7x at batch 16, 416 px
