"""Quantisation-aware training pieces: the rounding trained with is the rounding onnxruntime's int8 export does,
BatchNorm stays frozen, and a fake-quant model's state splits into a plain checkpoint plus its ranges."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from turboyolo.compress.qat import (FakeQuantConvBnSiLU, ObservedRange, fake_quantize_weight, prepare_qat,
                                    split_ranges)
from turboyolo.config import ConfigError
from turboyolo.model.blocks import ConvBnSiLU
from turboyolo.model.build import build_model
from turboyolo.model.fuse import fuse_conv_bn

quant_utils = pytest.importorskip("onnxruntime.quantization.quant_utils")
from onnx import TensorProto  # noqa: E402  (after the skip: onnx comes with the export extra too)


def lively_block(seed: int = 0) -> ConvBnSiLU:
    """A ConvBnSiLU with BatchNorm statistics and affine parameters far from their initial values."""
    torch.manual_seed(seed)
    block = ConvBnSiLU(4, 6, 3)
    with torch.no_grad():
        block.bn.running_mean.uniform_(-0.5, 0.5)
        block.bn.running_var.uniform_(0.2, 3.0)
        block.bn.weight.uniform_(0.5, 2.0)
        block.bn.bias.uniform_(-0.3, 0.3)
    return block


def test_weights_are_rounded_as_onnxruntime_rounds_the_exported_fused_conv():
    """Per output channel, symmetric int8: what QAT trains through equals what `export int8=true` writes."""
    block = lively_block()
    fused = fuse_conv_bn(block.conv, block.bn).weight.detach()
    ours = fake_quantize_weight(FakeQuantConvBnSiLU(block).folded()[0]).detach().numpy()
    for channel in range(fused.shape[0]):
        zero_point, scale, q = quant_utils.quantize_data(fused[channel].numpy().ravel(), TensorProto.INT8, symmetric=True)
        theirs = (q.astype(np.float32) - zero_point) * scale
        np.testing.assert_allclose(ours[channel].ravel(), theirs, rtol=0, atol=1e-6 * float(scale))


def test_activations_are_rounded_to_onnxruntimes_uint8_grid_for_the_observed_range():
    observer = ObservedRange().train()
    x = torch.linspace(-0.7, 3.1, 1000)
    observer(x)  # the first batch sets the range
    rounded = observer.eval()(x)
    zero_point, scale, q = quant_utils.quantize_data(x.numpy(), TensorProto.UINT8, symmetric=False)
    np.testing.assert_allclose(rounded.numpy(), (q.astype(np.float32) - zero_point) * scale, atol=1e-6)
    assert len(torch.unique(rounded)) <= 256


def test_range_is_a_moving_average_and_untouched_in_eval():
    observer = ObservedRange(momentum=0.5).train()
    observer(torch.tensor([0.0, 2.0]))
    observer(torch.tensor([0.0, 4.0]))
    assert float(observer.high) == pytest.approx(3.0) and float(observer.observed) == 2
    observer.eval()(torch.tensor([0.0, 100.0]))
    assert float(observer.high) == pytest.approx(3.0)


def test_an_unobserved_range_passes_values_through():
    """A fresh EMA copy (no batch seen yet) must not collapse its activations to zero."""
    x = torch.randn(50)
    assert torch.equal(ObservedRange().eval()(x), x)


def test_training_keeps_batchnorm_frozen_and_gradients_reach_its_scale():
    """The conv trained is the conv exported: running statistics stay, BatchNorm's scale and shift still learn."""
    block = lively_block()
    mean_before = block.bn.running_mean.clone()
    fake = FakeQuantConvBnSiLU(block).train()
    fake(torch.randn(2, 4, 8, 8)).sum().backward()
    assert torch.equal(block.bn.running_mean, mean_before)
    assert block.bn.weight.grad is not None and block.bn.weight.grad.abs().sum() > 0
    assert block.conv.weight.grad.abs().sum() > 0


def test_eval_output_is_the_fused_block_up_to_int8_rounding():
    block = lively_block()
    x = torch.rand(2, 4, 8, 8)
    fused = fuse_conv_bn(block.conv, block.bn)
    reference = nn.functional.silu(fused(x))
    fake = FakeQuantConvBnSiLU(block).train()
    fake(x)  # observe the ranges
    with torch.no_grad():
        out = fake.eval()(x)
    step = (reference.max() - reference.min()) / 255
    assert not torch.equal(out, reference)
    assert (out - reference).abs().max() < 8 * step  # a few uint8 steps: input, weights, conv output, gate, output


def test_prepare_replaces_every_conv_block_but_keeps_the_head_outputs_float():
    model = build_model("n", 2)
    blocks = sum(isinstance(m, ConvBnSiLU) for m in model.modules())
    assert prepare_qat(model) == blocks
    assert not any(isinstance(m, ConvBnSiLU) for m in model.modules())
    assert all(isinstance(tower[-1], nn.Conv2d) for tower in [*model.head.box_towers, *model.head.cls_towers])


def test_state_splits_into_a_plain_checkpoint_and_ranges():
    plain_model = build_model("n", 2)
    model = build_model("n", 2)
    prepare_qat(model)
    model.train()(torch.rand(2, 3, 64, 64))
    plain, ranges = split_ranges(model.state_dict())
    plain_model.load_state_dict(plain)  # strict: val, predict and export read it as any checkpoint
    assert ranges and all(key.rsplit(".", 2)[-2].endswith("_range") for key in ranges)
    assert all(float(v) > 0 for k, v in ranges.items() if k.endswith("observed"))


def test_qat_with_frozen_layers_is_a_one_line_config_error():
    model = build_model("n", 2).freeze(3)
    with pytest.raises(ConfigError, match="qat=true does not work with freeze=3"):
        prepare_qat(model)


def test_a_block_trains_under_bf16_autocast():
    fake = FakeQuantConvBnSiLU(lively_block()).train()
    x = torch.rand(2, 4, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fake(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    out.float().sum().backward()
    assert torch.isfinite(fake.conv.weight.grad).all() and fake.conv.weight.grad.abs().sum() > 0
