"""DDP communication hooks: `grad_compression=fp16|bf16|powersgd`, and timing of the exposed
communication (the part of the gradient all-reduce that backward compute did not hide)."""
from __future__ import annotations

import time

from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook
from torch.nn.parallel import DistributedDataParallel

# PowerSGD runs plain all-reduce for its first steps: early gradients are the most sensitive to
# low-rank error (Vogels et al. 2019); 2 is the minimum torch allows with error feedback.
POWERSGD_START_STEP = 10


class CommTimer:
    """Host-side clock on DDP buckets, no device syncs.

    compute_end: when the last bucket became ready (its gradients are the last ones backward
    computes); comm_end: when the last bucket's all-reduce completed. Exposed = comm_end - compute_end.
    """

    def __init__(self):
        self.compute_end = 0.0
        self.comm_end = 0.0

    def wrap(self, hook):
        def timed_hook(state, bucket):
            if bucket.is_last():
                self.compute_end = time.perf_counter()
            return hook(state, bucket).then(self._mark_done)

        timed_hook.__name__ = f"timed_{getattr(hook, '__name__', 'hook')}"
        return timed_hook

    def _mark_done(self, fut):
        self.comm_end = max(self.comm_end, time.perf_counter())
        return fut.value()

    def pop_exposed_s(self) -> float:
        """Exposed communication of the last synchronised backward, then reset (0 if none)."""
        exposed = max(0.0, self.comm_end - self.compute_end) if self.compute_end else 0.0
        self.compute_end = self.comm_end = 0.0
        return exposed


def _plain_allreduce(process_group, bucket):
    return default_hooks.allreduce_hook(process_group, bucket)


def register_compression_hook(ddp: DistributedDataParallel, kind: str, backend: str, powersgd_rank: int,
                              timer: CommTimer | None = None):
    """Install the hook for `kind` (none, fp16, bf16, powersgd) on `ddp`, timed by `timer` if given.

    Returns the hook state (PowerSGD's) or None.
    """
    kind = (kind or "none").lower()
    state, hook = None, None
    if kind == "none":
        hook = _plain_allreduce if timer is not None else None  # untimed: DDP's built-in C++ all-reduce
    elif kind == "fp16":
        hook = default_hooks.fp16_compress_hook
    elif kind == "bf16":
        if backend != "nccl":
            raise RuntimeError(
                f"grad_compression=bf16 needs the NCCL backend (bfloat16 all-reduce); this run uses {backend}. "
                "On CPU use grad_compression=fp16 or powersgd."
            )
        hook = default_hooks.bf16_compress_hook
    elif kind == "powersgd":
        state = powerSGD_hook.PowerSGDState(
            process_group=None, matrix_approximation_rank=powersgd_rank, start_powerSGD_iter=POWERSGD_START_STEP,
        )
        hook = powerSGD_hook.powerSGD_hook
    else:
        raise ValueError(f"grad_compression={kind!r}: expected none, fp16, bf16 or powersgd")
    if hook is not None:
        ddp.register_comm_hook(state, timer.wrap(hook) if timer is not None else hook)
    return state
