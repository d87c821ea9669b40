"""Quantisation-aware fine-tuning (`turboyolo train model=best.pt qat=true`): the network trains through
the rounding its int8 export (export/quantize.py, onnxruntime QDQ) will do.

Fake-quant ops (quantise, then dequantise in float; gradients pass straight through the rounding)
simulate in PyTorch what onnxruntime's int8 graph computes, at the same tensors:
  * every ConvBnSiLU runs as the fused conv export writes: BatchNorm folded into the conv with its
    running statistics, which stay frozen during the fine-tune (the conv trained is the conv exported;
    the BatchNorm scale and shift still learn through the fold); the folded weights are rounded per output
    channel to symmetric int8, scale max|w| / 127, as onnxruntime computes it;
  * its input, the conv output, the sigmoid inside SiLU and SiLU's output are rounded to uint8 with a
    per-tensor range: a moving average of each batch's min and max (onnxruntime calibrates min/max on
    training images; here the range follows the weights as they change);
  * the head's last convs and the box decoding stay float, as quantize.float_tail keeps them.

The export itself is unchanged: `turboyolo export weights=<qat run>/best.pt int8=true` quantises the
fine-tuned weights with onnxruntime, whose per-channel weight scales are the ones trained with, and
whose calibrated activation ranges come close to the observed ones.

Checkpoints: the observed ranges are buffers of the fake-quant modules, so resume, the EMA (which
averages them with the weights) and DDP (which broadcasts buffers) carry them like BatchNorm statistics.
best.pt/last.pt keep the detector's plain weights under "model" (val, predict, export and fine-tuning
read it as any checkpoint's) and the ranges beside them under QAT_KEY; tensors only (weights_only=True).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from turboyolo.config import ConfigError
from turboyolo.model.blocks import ConvBnSiLU

QAT_KEY = "qat_ranges"  # checkpoint entry: {state_dict key: tensor} of the observed activation ranges
RANGE_SUFFIX = "_range"  # the fake-quant range modules' attribute names end with it
RANGE_MOMENTUM = 0.01  # weight of each new batch's min/max in the moving average (torch.ao's default)
UINT8_MAX = 255  # activations: uint8, asymmetric (export/quantize.py: QuantType.QUInt8)
INT8_MAX = 127  # weights: int8 symmetric in [-127, 127], zero point 0 (QuantType.QInt8, per channel)
_TINY = torch.finfo(torch.float32).tiny


def fake_quantize_weight(weight: torch.Tensor) -> torch.Tensor:
    """Conv weight (C_out, C_in / groups, k, k) rounded per output channel to symmetric int8, in float."""
    scale = (weight.detach().abs().amax(dim=(1, 2, 3)) / INT8_MAX).clamp(min=_TINY)
    zero_point = torch.zeros(scale.shape, dtype=torch.int32, device=weight.device)
    return torch.fake_quantize_per_channel_affine(weight, scale, zero_point, 0, -INT8_MAX, INT8_MAX)


class ObservedRange(nn.Module):
    """Rounds a tensor to uint8 over a per-tensor range observed in training; identity until it has seen a batch.

    Buffers (scalars, float so that the EMA averages them like the weights): low, high (the range), observed
    (batches seen). As onnxruntime does, the range is widened to hold 0 (zero is exact), scale = (high - low)
    / UINT8_MAX, zero point = round(-low / scale).
    """

    def __init__(self, momentum: float = RANGE_MOMENTUM):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))
        self.register_buffer("observed", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self._observe(x.detach())
        low, high = self.low.clamp(max=0.0), self.high.clamp(min=0.0)
        scale = ((high - low) / UINT8_MAX).clamp(min=_TINY)
        zero_point = torch.round(-low / scale).clamp(0, UINT8_MAX).to(torch.int32)
        rounded = torch.fake_quantize_per_tensor_affine(x.float(), scale, zero_point, 0, UINT8_MAX).to(x.dtype)
        return torch.where(self.observed > 0, rounded, x)  # no host sync: a fresh EMA copy may not have observed yet

    @torch.no_grad()
    def _observe(self, x: torch.Tensor) -> None:
        low, high = torch.aminmax(x.float())
        first = self.observed == 0
        self.low.copy_(torch.where(first, low, torch.lerp(self.low, low, self.momentum)))
        self.high.copy_(torch.where(first, high, torch.lerp(self.high, high, self.momentum)))
        self.observed += 1


class FakeQuantConvBnSiLU(nn.Module):
    """A ConvBnSiLU run as its int8 export: folded BatchNorm (frozen statistics), int8 per-channel weights,
    uint8 input, conv output, sigmoid and SiLU output. Same `conv` and `bn` modules, so the same
    state_dict keys plus the ranges' (…_range.low/high/observed)."""

    def __init__(self, block: ConvBnSiLU):
        super().__init__()
        if not isinstance(block.bn, nn.BatchNorm2d):
            raise ValueError("quantisation-aware training needs the unfused model (BatchNorm still separate)")
        self.conv, self.bn = block.conv, block.bn
        self.silu = isinstance(block.act, nn.SiLU)
        self.input_range, self.conv_range = ObservedRange(), ObservedRange()
        if self.silu:
            self.gate_range, self.output_range = ObservedRange(), ObservedRange()

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of the conv with BatchNorm's running statistics folded in (model/fuse.py's fold)."""
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv_bias = self.conv.bias if self.conv.bias is not None else torch.zeros_like(bn.running_mean)
        return self.conv.weight * scale.view(-1, 1, 1, 1), (conv_bias - bn.running_mean) * scale + bn.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.folded()
        conv = self.conv
        z = F.conv2d(self.input_range(x), fake_quantize_weight(weight), bias, conv.stride, conv.padding, conv.dilation,
                     conv.groups)
        z = self.conv_range(z)
        if not self.silu:
            return z
        return self.output_range(z * self.gate_range(torch.sigmoid(z)))


def prepare_qat(model: nn.Module) -> int:
    """Replace every ConvBnSiLU of `model` (a DetectionModel) by its FakeQuantConvBnSiLU, in place; returns
    how many. The head's last convs are plain Conv2d and stay float. Call before the model is wrapped,
    copied (EMA) or loaded from a resumed checkpoint."""
    if getattr(model, "frozen_layers", 0):
        raise ConfigError(f"qat=true does not work with freeze={model.frozen_layers}: frozen layers would never "
                          f"observe their activation ranges; use freeze=0")
    replaced = 0
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, ConvBnSiLU):
                setattr(parent, name, FakeQuantConvBnSiLU(child))
                replaced += 1
    return replaced


def _is_range_key(key: str) -> bool:
    parts = key.split(".")
    return len(parts) >= 2 and parts[-2].endswith(RANGE_SUFFIX)


def split_ranges(state: dict) -> tuple[dict, dict]:
    """A fake-quant model's state_dict -> (the plain detector's state_dict, the activation ranges)."""
    plain = {key: value for key, value in state.items() if not _is_range_key(key)}
    return plain, {key: value for key, value in state.items() if _is_range_key(key)}


def qat_weights(ckpt: dict) -> dict:
    """The fake-quant model's state_dict saved in a qat run's checkpoint: its plain weights and its ranges."""
    return {**ckpt["model"], **ckpt[QAT_KEY]}
