"""DDP communication hooks for `grad_compression=fp16|bf16|powersgd` (gradient compression on the wire)."""
from __future__ import annotations

from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook
from torch.nn.parallel import DistributedDataParallel

# PowerSGD runs plain all-reduce for its first steps: early gradients are the most sensitive to
# low-rank error (Vogels et al. 2019); 2 is the minimum torch allows with error feedback.
POWERSGD_START_STEP = 10


def register_compression_hook(ddp: DistributedDataParallel, kind: str, backend: str, powersgd_rank: int = 2):
    """Install the hook for `kind` (none, fp16, bf16, powersgd) on `ddp`; returns the hook state or None."""
    kind = (kind or "none").lower()
    if kind == "none":
        return None
    if kind == "fp16":
        ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
        return None
    if kind == "bf16":
        if backend != "nccl":
            raise RuntimeError(
                f"grad_compression=bf16 needs the NCCL backend (bfloat16 all-reduce); this run uses {backend}. "
                "On CPU use grad_compression=fp16 or powersgd."
            )
        ddp.register_comm_hook(None, default_hooks.bf16_compress_hook)
        return None
    if kind == "powersgd":
        state = powerSGD_hook.PowerSGDState(
            process_group=None, matrix_approximation_rank=powersgd_rank, start_powerSGD_iter=POWERSGD_START_STEP,
        )
        ddp.register_comm_hook(state, powerSGD_hook.powerSGD_hook)
        return state
    raise ValueError(f"grad_compression={kind!r}: expected none, fp16, bf16 or powersgd")
