"""Synchronised BatchNorm that also works on CPU / gloo.

torch.nn.SyncBatchNorm only runs on CUDA, so on CPU we synchronise ourselves: an autograd function
that all-reduces per-channel sum, sum of squares and count in the forward pass (one collective of
2C+1 numbers) and the two per-channel gradient sums in the backward pass (one of 2C). The result
equals BatchNorm over the concatenation of every rank's batch. Weight and bias gradients stay
local contributions: DDP averages them like any other parameter gradient.

convert_sync_batchnorm(model) picks torch's version for CUDA models and this one otherwise.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _reduce_dims(x: torch.Tensor) -> list[int]:
    return [0] + list(range(2, x.dim()))


def _per_channel(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(C,) -> (1, C, 1, ...) broadcastable against x (N, C, ...)."""
    return v.view(1, -1, *([1] * (x.dim() - 2)))


class _SyncBatchNormFunction(torch.autograd.Function):
    """BatchNorm training forward/backward with statistics over all ranks of `group`.

    x: (N, C, *) any float dtype; statistics are accumulated in float64 so that the
    E[x^2] - E[x]^2 variance does not lose precision, then applied in x's dtype.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps, momentum, group):
        dims = _reduce_dims(x)
        count = torch.tensor([x.numel() // x.size(1)], dtype=torch.float64, device=x.device)
        stats = torch.cat([x.sum(dims, dtype=torch.float64), (x * x).sum(dims, dtype=torch.float64), count])
        dist.all_reduce(stats, group=group)
        channels = x.size(1)
        total = stats[-1]
        mean = stats[:channels] / total
        var = (stats[channels:2 * channels] / total - mean * mean).clamp_(min=0)
        invstd = torch.rsqrt(var + eps)
        if running_mean is not None:
            unbiased = var * (total / (total - 1).clamp(min=1))
            running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
        w = weight.double() if weight is not None else torch.ones_like(mean)
        b = bias.double() if bias is not None else torch.zeros_like(mean)
        scale = w * invstd  # y = x * scale + shift: one fused pass over x
        shift = b - mean * scale
        ctx.save_for_backward(x, mean, invstd, w)
        ctx.group, ctx.total = group, total
        ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
        ctx.param_dtype = weight.dtype if weight is not None else x.dtype
        return x * _per_channel(scale.to(x.dtype), x) + _per_channel(shift.to(x.dtype), x)

    @staticmethod
    def backward(ctx, grad_out):
        x, mean, invstd, w = ctx.saved_tensors
        dims = _reduce_dims(x)
        channels = x.size(1)
        sum_dy = grad_out.sum(dims, dtype=torch.float64)
        # sum(dy * xhat) = invstd * (sum(dy * x) - mean * sum(dy)): avoids materialising xhat
        sum_dy_xhat = invstd * ((grad_out * x).sum(dims, dtype=torch.float64) - mean * sum_dy)
        summed = torch.cat([sum_dy, sum_dy_xhat])
        dist.all_reduce(summed, group=ctx.group)
        mean_dy = summed[:channels] / ctx.total
        mean_dy_xhat = summed[channels:] / ctx.total
        # dx = w*invstd*(dy - mean_dy - xhat*mean_dy_xhat), written as dy*a + x*k + c per channel
        a = w * invstd
        k = -a * invstd * mean_dy_xhat
        c = -a * mean_dy - k * mean
        grad_x = grad_out * _per_channel(a.to(x.dtype), x) + x * _per_channel(k.to(x.dtype), x) + _per_channel(c.to(x.dtype), x)
        grad_w = sum_dy_xhat.to(ctx.param_dtype) if ctx.has_weight else None
        grad_b = sum_dy.to(ctx.param_dtype) if ctx.has_bias else None
        return grad_x, grad_w, grad_b, None, None, None, None, None


class CpuSyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics span all ranks; works on any device and backend.

    Same parameters, buffers and state_dict keys as nn.BatchNorm2d, so checkpoints load into plain
    models. Outside a process group (or in eval mode) it is ordinary BatchNorm.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (N, C, ...), got {input.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        synced = self.training and dist.is_available() and dist.is_initialized() and \
            dist.get_world_size(self.process_group) > 1
        if not synced:
            return super().forward(x)
        momentum = self._momentum_for_this_step()
        running_mean = self.running_mean if self.track_running_stats else None
        running_var = self.running_var if self.track_running_stats else None
        return _SyncBatchNormFunction.apply(x, self.weight, self.bias, running_mean, running_var,
                                            self.eps, momentum, self.process_group)

    def _momentum_for_this_step(self) -> float:
        """Exponential factor, as nn.BatchNorm computes it (momentum=None -> cumulative average)."""
        if not self.track_running_stats or self.num_batches_tracked is None:
            return 0.0 if self.momentum is None else self.momentum
        self.num_batches_tracked.add_(1)
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked)
        return self.momentum


def _replace_batchnorm(module: nn.Module, make) -> nn.Module:
    for name, child in module.named_children():
        setattr(module, name, _replace_batchnorm(child, make))
    return make(module)


def _copy_state(src: _BatchNorm, dst: _BatchNorm) -> _BatchNorm:
    with torch.no_grad():
        if src.affine:
            dst.weight = src.weight
            dst.bias = src.bias
        dst.running_mean, dst.running_var = src.running_mean, src.running_var
        dst.num_batches_tracked = src.num_batches_tracked
    dst.train(src.training)
    return dst


def convert_sync_batchnorm(model: nn.Module, process_group=None) -> nn.Module:
    """Every BatchNorm in `model` synchronised across ranks (in place where possible; returns the model).

    CUDA models get torch.nn.SyncBatchNorm (NCCL kernels); everything else gets CpuSyncBatchNorm.
    Called by the strategy's wrap (group_strategy.py prepare_model), the one place that converts.
    Checkpoints need no way back: the state_dict keys are those of nn.BatchNorm2d.
    """
    if any(p.is_cuda for p in model.parameters()):
        return nn.SyncBatchNorm.convert_sync_batchnorm(model, process_group)

    def make(m: nn.Module) -> nn.Module:
        if isinstance(m, _BatchNorm) and not isinstance(m, (CpuSyncBatchNorm, nn.SyncBatchNorm)):
            new = CpuSyncBatchNorm(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, process_group)
            return _copy_state(m, new)
        return m

    return _replace_batchnorm(model, make)
