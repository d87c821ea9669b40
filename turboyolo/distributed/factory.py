"""Pick and set up the synchronisation strategy a config asks for: the only place that knows them all."""
from __future__ import annotations

import os
import sys

import torch

from turboyolo.cores import threads_per_process
from turboyolo.distributed.env import DistEnv, read_env
from turboyolo.distributed.strategy import Strategy

# The one place that reads the strategies' settings from the run config: every strategy takes
# them as constructor arguments. Modules are imported only when chosen (FSDP and Horovod imports
# are heavy or optional).


def ddp_options(cfg):
    """The DDP settings of the config (DDP, ZeRO and local SGD wrap the model with them)."""
    from turboyolo.distributed.ddp import DDPOptions

    return DDPOptions(bucket_cap_mb=cfg.bucket_cap_mb, static_graph=cfg.static_graph,
                      gradient_as_bucket_view=cfg.gradient_as_bucket_view,
                      find_unused_parameters=cfg.find_unused_parameters, broadcast_buffers=cfg.broadcast_buffers,
                      grad_compression=cfg.grad_compression, powersgd_rank=cfg.powersgd_rank)


def _ddp(cfg, env: DistEnv, watchdog) -> Strategy:
    from turboyolo.distributed.ddp import DDPStrategy

    return DDPStrategy(env, ddp_options(cfg), sync_bn=cfg.sync_bn, watchdog=watchdog)


def _localsgd(cfg, env: DistEnv, watchdog) -> Strategy:
    from turboyolo.distributed.local_sgd import LocalSGDStrategy

    return LocalSGDStrategy(env, ddp_options(cfg), period=cfg.period, warmup=cfg.localsgd_warmup,
                            sync_bn=cfg.sync_bn, watchdog=watchdog)


def _zero(cfg, env: DistEnv, watchdog) -> Strategy:
    from turboyolo.distributed.zero import ZeroStrategy

    return ZeroStrategy(env, ddp_options(cfg), sync_bn=cfg.sync_bn, watchdog=watchdog)


def _fsdp(cfg, env: DistEnv, watchdog) -> Strategy:
    from turboyolo.distributed.fsdp import FSDPStrategy

    return FSDPStrategy(env, mixed_precision=cfg.fsdp_mixed_precision, sync_bn=cfg.sync_bn, watchdog=watchdog)


# cfg.sync -> the builder of its strategy
SYNC_STRATEGIES = {"ddp": _ddp, "localsgd": _localsgd, "zero": _zero, "fsdp": _fsdp}


def _horovod(cfg, env: DistEnv) -> Strategy:
    if cfg.sync != "ddp":
        raise RuntimeError(f"engine=horovod supports sync=ddp only (got sync={cfg.sync})")
    if cfg.sync_bn:
        raise RuntimeError("sync_bn with engine=horovod is not supported; use engine=torch")
    from turboyolo.distributed.horovod import HorovodStrategy

    return HorovodStrategy(env, grad_compression=cfg.grad_compression)


def make_strategy(cfg, env: DistEnv, watchdog=None) -> Strategy:
    """The Strategy for cfg.engine / cfg.sync; the plain single-process one when world_size is 1."""
    if cfg.engine == "horovod":
        return _horovod(cfg, env)
    if cfg.engine != "torch":
        raise ValueError(f"engine={cfg.engine!r}: expected torch or horovod")
    if not env.is_distributed:
        return Strategy(env)
    if cfg.sync not in SYNC_STRATEGIES:
        raise ValueError(f"sync={cfg.sync!r}: expected one of {', '.join(SYNC_STRATEGIES)}")
    return SYNC_STRATEGIES[cfg.sync](cfg, env, watchdog)


def silence_worker_output(env: DistEnv) -> None:
    """Ranks other than 0 print nothing but errors: their stdout goes to /dev/null, stderr stays."""
    if not env.is_main:
        sys.stdout = open(os.devnull, "w")


def setup_distributed(cfg, quiet_workers: bool = True) -> tuple[DistEnv, Strategy]:
    """Read who we are, join the process group (if several ranks), start the hang watchdog.

    Works for a single process, torchrun, Slurm srun, launch.py spawns and (engine=horovod) horovodrun.
    """
    if cfg.engine == "horovod":
        from turboyolo.distributed.horovod import init_horovod

        env = init_horovod(cfg.device)
    else:
        env = read_env(cfg.device)
    torch.set_num_threads(threads_per_process(cfg.threads, env.local_world_size))
    watchdog = None
    if env.is_distributed and cfg.engine == "torch":
        from turboyolo.distributed.process_group import init_process_group, open_side_store
        from turboyolo.distributed.watchdog import Watchdog, pg_timeout_s

        timeout_s = float(cfg.dist_timeout)
        init_process_group(env, cfg.dist_backend, pg_timeout_s(timeout_s))
        watchdog = Watchdog(env.rank, env.world_size, timeout_s, open_side_store(timeout_s)).start()
    if quiet_workers:
        silence_worker_output(env)
    return env, make_strategy(cfg, env, watchdog)
