import time

import torch

from turboyolo.loss import DetectionLoss
from turboyolo.model import build_model
from turboyolo.perf.loss_share import measure_loss_share
from turboyolo.perf.model_bench import synthetic_targets


def test_a_slow_loss_shows_as_its_share_of_the_step_and_the_ceiling_does_not_move():
    torch.manual_seed(0)
    model = build_model("n", 3).train()
    images, targets = torch.rand(2, 3, 32, 32), synthetic_targets(2, torch.device("cpu"), 3, boxes_per_image=5)
    real_loss = DetectionLoss(model)
    delay = 0.2

    def slow_loss(maps, targets):
        time.sleep(delay)
        return real_loss(maps, targets)

    fast = measure_loss_share(model, real_loss, images, targets, torch.device("cpu"), None, rounds=3)
    slow = measure_loss_share(model, slow_loss, images, targets, torch.device("cpu"), None, rounds=3)
    assert slow["loss_s"] >= delay and slow["step_s"] - slow["model_only_s"] >= 0.5 * delay
    assert slow["loss_share"] > fast["loss_share"]
    assert slow["step_images_per_s"] < slow["model_only_images_per_s"]
    assert slow["loss_share"] == (slow["step_s"] - slow["model_only_s"]) / slow["step_s"]
