"""FLOP counts against a hand count for one convolution layer."""
import pytest
import torch
from torch import nn

from turboyolo.perf.flops import count_params, inference_flops_per_image, model_flops_utilization, train_flops_per_image


class OneConv(nn.Module):
    """3 -> 8 channels, 3x3, stride 2, padding 1: a 32x32 image gives a 16x16 map."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True)

    def forward(self, x):
        return [self.conv(x)]


# multiply-adds per output element = in_channels * k * k; 2 FLOPs each.
HAND_FORWARD = 2 * (8 * 16 * 16) * (3 * 3 * 3)


def test_params_hand_count():
    assert count_params(OneConv()) == 8 * 3 * 3 * 3 + 8


def test_inference_flops_match_hand_count():
    assert inference_flops_per_image(OneConv(), 32) == HAND_FORWARD
    assert inference_flops_per_image(OneConv(), (32, 64)) == 2 * HAND_FORWARD


def test_train_flops_forward_plus_weight_gradient():
    # The input image needs no gradient, so backward computes only the weight gradient:
    # one more convolution-sized product -> 2x the forward.
    assert train_flops_per_image(OneConv(), 32) == 2 * HAND_FORWARD


def test_second_layer_backward_costs_twice_its_forward():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))
    first = 2 * 8 * 16 * 16 * 27
    second = 2 * 8 * 16 * 16 * 72
    assert train_flops_per_image(model, 16) == pytest.approx(2 * first + 3 * second)


def test_measurement_leaves_model_untouched():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model.eval()
    before = model[1].running_mean.clone()
    train_flops_per_image(model, 16)
    assert not model.training and torch.equal(model[1].running_mean, before)
    assert all(p.grad is None for p in model.parameters())


def test_mfu():
    assert model_flops_utilization(1e9, 50.0, 1e11) == pytest.approx(0.5)
    assert model_flops_utilization(1e9, 50.0, 0.0) == 0.0
