"""The one interface through which the trainer talks to a synchronisation strategy.

The training loop never branches on the engine or the sync mode: it calls these methods, and each
strategy (single process, DDP, local SGD, ZeRO, FSDP, Horovod) decides what they mean.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable

import torch
from torch import nn

from turboyolo.distributed.env import DistEnv


class Strategy:
    """Single-process training; the base every distributed strategy extends.

    Lifecycle: ``wrap(model)`` -> ``make_optimizer(factory, model)`` -> per micro-step
    ``forward_backward_context(wrapped, reduce_gradients)`` around forward+backward -> ``optimizer_step(...)`` ->
    ``after_step(wrapped, step)``. Collectives (``all_reduce``, ``gather_objects``...) are no-ops here.

    Strategies never see the run config: their settings are constructor arguments, which
    factory.make_strategy fills from the validated config (the only place that reads them).
    """

    name = "single"
    supports_ema = True  # False where each rank holds only a shard of the weights (FSDP)

    def __init__(self, env: DistEnv):
        self.env = env

    # --- model and optimizer -------------------------------------------------------------
    def wrap(self, model: nn.Module) -> nn.Module:
        """Return the module to call forward on (e.g. DDP(model)); `model` is already on env.device."""
        return model

    def unwrap(self, wrapped: nn.Module) -> nn.Module:
        """The plain model inside whatever `wrap` returned (for EMA, eval and saving)."""
        return getattr(wrapped, "module", wrapped)

    def eval_module(self, wrapped: nn.Module) -> nn.Module:
        """A plain module holding the current full weights, safe to run forward on in eval mode any
        number of times per rank (validation shards are uneven). Collective: every rank calls it."""
        model = self.unwrap(wrapped)
        return getattr(model, "_orig_mod", model)  # under torch.compile: eval without recompiling

    def unify_eval_state(self, module: nn.Module) -> None:
        """Make `module` (the EMA or eval module about to be validated or saved) the same on every
        rank. Collective. Parameters already agree under gradient averaging, but BatchNorm running
        statistics are rank-local wherever DDP does not broadcast them, and local SGD's weights
        differ between averagings: distributed validation needs one model on all ranks."""

    def make_optimizer(self, factory: Callable[[nn.Module], torch.optim.Optimizer], wrapped: nn.Module):
        """factory(model) builds the optimizer with its parameter groups; strategies may wrap it."""
        return factory(self.unwrap(wrapped))

    def forward_backward_context(self, wrapped: nn.Module, reduce_gradients: bool):
        """Context for one micro-step's forward+backward. reduce_gradients=False (a micro-step before the
        last of an accumulation window) keeps the gradients local: no communication."""
        return contextlib.nullcontext()

    def optimizer_step(self, optimizer, scaler, params: Iterable[torch.Tensor], max_norm: float) -> bool:
        """Unscale, clip and step; False when the update was skipped for a non-finite gradient norm.

        The check reads the norm of the *synchronised* gradients (one host read per optimizer step),
        so every rank takes the same decision: a NaN loss on one rank poisons the averaged gradients
        of all, and a per-rank loss check would let the other ranks step on them. With a GradScaler
        the scaler skips the step itself and lowers its scale (an fp16 overflow is not an error)."""
        params = [p for p in params if p.grad is not None]
        if scaler is not None:
            scaler.unscale_(optimizer)
        norm = self.total_grad_norm(params)
        finite = bool(torch.isfinite(norm))
        if scaler is None and not finite:
            return False
        if max_norm > 0 and finite:
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm, foreach=True)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        return finite

    def zero_grad(self, optimizer) -> None:
        """Drop the gradients (set to None, torch's default; Horovod's optimizer takes no argument)."""
        optimizer.zero_grad()

    def total_grad_norm(self, params: list[torch.Tensor]) -> torch.Tensor:
        """L2 norm of all gradients, one fused pass (sharded strategies reduce it over ranks)."""
        return torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)

    def after_step(self, wrapped: nn.Module, step: int) -> None:
        """Called after every optimizer step (local SGD averages models here)."""

    def pop_exposed_comm_s(self) -> float:
        """Seconds of gradient communication the last backward waited for (not hidden behind
        compute), measured host-side without device syncs; 0 when nothing was communicated."""
        return 0.0

    # --- state for checkpoints: full and unsharded on rank 0 -------------------------------
    # Collective: EVERY rank must call model_state and optimizer_state (FSDP gathers shards,
    # ZeRO consolidates, local SGD averages); only rank 0's result is guaranteed complete.
    def model_state(self, wrapped: nn.Module) -> dict[str, torch.Tensor]:
        return self.unwrap(wrapped).state_dict()

    def optimizer_state(self, optimizer) -> dict[str, Any] | None:
        """Full optimizer state, or None on ranks that do not hold it (sharded optimizers)."""
        return optimizer.state_dict()

    def load_optimizer_state(self, optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)

    # --- collectives ---------------------------------------------------------------------
    def all_reduce(self, tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
        return tensor

    def gather_objects(self, obj: Any) -> list[Any] | None:
        """All ranks' `obj` as a list on the main rank, None elsewhere."""
        return [obj]

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        return obj

    def barrier(self) -> None:
        pass

    def close(self) -> None:
        pass
