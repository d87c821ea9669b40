"""sync=fsdp: FSDP2 (`fully_shard`) - parameters, gradients and optimizer state sharded over ranks.

For models whose training state does not fit one device. Blocks of at least MIN_UNIT_PARAMS
parameters become their own shard units (all-gathered just before use, freed after), the rest
joins the root unit. Optional bf16 mixed precision (`mixed_precision`, config key fsdp_mixed_precision)
for parameters and gradient reduction. Validation runs on a plain full replica (eval_module), not on the sharded
model: FSDP forwards are collectives, and uneven validation shards would call them a different
number of times per rank. Checkpoints hold the full state, gathered on rank 0 (model_state /
optimizer_state), so last.pt and best.pt are the same files as under DDP.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions, get_model_state_dict, get_optimizer_state_dict, set_optimizer_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from turboyolo.config import default_of
from turboyolo.distributed.group_strategy import ProcessGroupStrategy, average_in_place, broadcast_module_state, float_buffers

MIN_UNIT_PARAMS = 1_000_000  # smaller blocks are not worth a separate all-gather


def shard_units(model: nn.Module, min_params: int) -> list[nn.Module]:
    """Deepest modules holding >= min_params parameters whose children each hold fewer (post-order)."""
    units: list[nn.Module] = []

    def visit(module: nn.Module) -> int:
        inside_children = sum(visit(child) for child in module.children())
        size = sum(p.numel() for p in module.parameters())
        has_forward = type(module).forward is not nn.Module.forward  # ModuleList/Dict cannot be units
        if module is not model and has_forward and size >= min_params and inside_children == 0:
            units.append(module)
            return 1
        return inside_children

    visit(model)
    return units


class FSDPStrategy(ProcessGroupStrategy):
    """fully_shard on a 1-D device mesh over all ranks.

    model_state / optimizer_state are collective; they return the full (unsharded, CPU) state on
    rank 0 and an empty dict on the other ranks.
    """

    name = "fsdp"
    supports_ema = False  # the EMA would need the full weights every step

    def __init__(self, env, *, mixed_precision: bool = default_of("fsdp_mixed_precision"),
                 sync_bn: bool = default_of("sync_bn"), watchdog=None, min_unit_params: int = MIN_UNIT_PARAMS):
        super().__init__(env, sync_bn=sync_bn, watchdog=watchdog)
        self.mesh = init_device_mesh(env.device.type, (env.world_size,))
        self.min_unit_params = min_unit_params
        self.mixed_precision = bool(mixed_precision)
        self.mp_policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.bfloat16) \
            if self.mixed_precision else MixedPrecisionPolicy()
        self._model: nn.Module | None = None
        self._replica: nn.Module | None = None  # plain full copy for validation (eval_module)

    def wrap(self, model: nn.Module) -> nn.Module:
        model = self.prepare_model(model)
        # the validation replica: copied before sharding (fully_shard changes the module in place
        # and refuses deepcopy afterwards); costs one unsharded copy of the weights per rank
        self._replica = copy.deepcopy(getattr(model, "_orig_mod", model)).requires_grad_(False)
        # FSDP flattens contiguous parameters only: channels_last weights go back to NCHW (the
        # activations can stay channels_last; the conv kernels convert the weight per call)
        for p in model.parameters():
            if not p.is_contiguous():
                p.data = p.data.contiguous()
        broadcast_module_state(model)  # shards are cut from rank 0's initialisation
        if self.mixed_precision:
            # BatchNorm keeps fp32 weights next to its fp32 running statistics (bf16 weights with
            # fp32 buffers is a dtype error); it accepts bf16 inputs as they are.
            keep_fp32 = MixedPrecisionPolicy(param_dtype=torch.float32, reduce_dtype=torch.float32,
                                             cast_forward_inputs=False)
            for bn in [m for m in model.modules() if isinstance(m, _BatchNorm) and m.affine]:
                fully_shard(bn, mesh=self.mesh, mp_policy=keep_fp32)
        for unit in shard_units(model, self.min_unit_params):
            fully_shard(unit, mesh=self.mesh, mp_policy=self.mp_policy)
        fully_shard(model, mesh=self.mesh, mp_policy=self.mp_policy)
        self._model = model
        return model

    def unwrap(self, wrapped: nn.Module) -> nn.Module:
        return wrapped  # fully_shard changes the module in place

    @contextlib.contextmanager
    def forward_backward_context(self, wrapped: nn.Module, reduce_gradients: bool):
        wrapped.set_requires_gradient_sync(reduce_gradients)
        try:
            with self.watch("forward+backward (FSDP all-gather / reduce-scatter)"):
                yield
        finally:
            wrapped.set_requires_gradient_sync(True)

    def total_grad_norm(self, params: list[torch.Tensor]) -> torch.Tensor:
        # gradients are sharded DTensors: the norm needs a reduction over ranks (full_tensor)
        norm = super().total_grad_norm(params)
        return norm.full_tensor() if hasattr(norm, "full_tensor") else norm

    def eval_module(self, wrapped: nn.Module) -> nn.Module:
        """The replica with the full current weights, gathered on every rank (collective)."""
        self.sync_buffers(wrapped)
        with self.watch("FSDP full model state gather for validation"):
            state = get_model_state_dict(wrapped, options=StateDictOptions(full_state_dict=True))
        self._replica.load_state_dict(state)
        return self._replica

    # --- full state (rank 0) for checkpoints ---------------------------------------------------
    def sync_buffers(self, wrapped: nn.Module) -> None:
        """Average BN running statistics: FSDP shards parameters only, buffers drift apart per rank."""
        with self.watch("FSDP buffer averaging"):
            average_in_place(float_buffers(wrapped))

    def model_state(self, wrapped: nn.Module) -> dict[str, torch.Tensor]:
        self.sync_buffers(wrapped)
        with self.watch("FSDP full model state gather"):
            return get_model_state_dict(wrapped, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def optimizer_state(self, optimizer) -> dict[str, Any] | None:
        with self.watch("FSDP full optimizer state gather"):
            state = get_optimizer_state_dict(self._model, optimizer,
                                             options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return state if self.env.is_main else None

    def load_optimizer_state(self, optimizer, state: dict[str, Any]) -> None:
        """state: the full optimizer state from optimizer_state(), on every rank."""
        set_optimizer_state_dict(self._model, optimizer, state, options=StateDictOptions(full_state_dict=True))
