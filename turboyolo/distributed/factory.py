"""Pick and set up the synchronisation strategy a config asks for: the only place that knows them all."""
from __future__ import annotations

import importlib
import os
import sys

import torch

from turboyolo.cores import threads_per_process
from turboyolo.distributed.env import DistEnv, read_env
from turboyolo.distributed.strategy import Strategy

# cfg.sync -> "module:Class"; imported only when chosen (FSDP and Horovod imports are heavy/optional).
SYNC_STRATEGIES = {
    "ddp": "turboyolo.distributed.ddp:DDPStrategy",
    "localsgd": "turboyolo.distributed.local_sgd:LocalSGDStrategy",
    "zero": "turboyolo.distributed.zero:ZeroStrategy",
    "fsdp": "turboyolo.distributed.fsdp:FSDPStrategy",
}


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def make_strategy(cfg, env: DistEnv, watchdog=None) -> Strategy:
    """The Strategy for cfg.engine / cfg.sync; the plain single-process one when world_size is 1."""
    engine = cfg.get("engine", "torch")
    if engine == "horovod":
        return _load("turboyolo.distributed.horovod:HorovodStrategy")(cfg, env)
    if engine != "torch":
        raise ValueError(f"engine={engine!r}: expected torch or horovod")
    if not env.is_distributed:
        return Strategy(cfg, env)
    sync = cfg.get("sync", "ddp")
    if sync not in SYNC_STRATEGIES:
        raise ValueError(f"sync={sync!r}: expected one of {', '.join(SYNC_STRATEGIES)}")
    return _load(SYNC_STRATEGIES[sync])(cfg, env, watchdog=watchdog)


def silence_worker_output(env: DistEnv) -> None:
    """Ranks other than 0 print nothing but errors: their stdout goes to /dev/null, stderr stays."""
    if not env.is_main:
        sys.stdout = open(os.devnull, "w")


def setup_distributed(cfg, quiet_workers: bool = True) -> tuple[DistEnv, Strategy]:
    """Read who we are, join the process group (if several ranks), start the hang watchdog.

    Works for a single process, torchrun, Slurm srun, launch.py spawns and (engine=horovod) horovodrun.
    """
    if cfg.get("engine", "torch") == "horovod":
        from turboyolo.distributed.horovod import init_horovod

        env = init_horovod(cfg)
    else:
        env = read_env(cfg.get("device"))
    torch.set_num_threads(threads_per_process(cfg.threads, env.local_world_size))
    watchdog = None
    if env.is_distributed and cfg.get("engine", "torch") == "torch":
        from turboyolo.distributed.process_group import init_process_group, open_side_store
        from turboyolo.distributed.watchdog import Watchdog, pg_timeout_s

        timeout_s = float(cfg.get("dist_timeout", 1800))
        init_process_group(env, cfg.get("dist_backend", "auto"), pg_timeout_s(timeout_s))
        watchdog = Watchdog(env.rank, env.world_size, timeout_s, open_side_store(timeout_s)).start()
    if quiet_workers:
        silence_worker_output(env)
    return env, make_strategy(cfg, env, watchdog)
