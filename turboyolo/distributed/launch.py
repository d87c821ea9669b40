"""Spawn one worker process per GPU (`device=0,1,2,3`) or per CPU slot (`nproc=N`), in-process.

The workers receive the picklable config and a picklable entry callable (a function, or an object
such as a Trainer subclass with its callbacks), so nothing is lost to a re-executed script: no
temporary files, no re-exec of the command line. This process hosts the rendezvous store (like
torchrun's agent does), which avoids the race of picking a "free" port that another job takes.
A failure on any rank stops all of them and re-raises that rank's traceback here.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from datetime import timedelta
from typing import Any, Callable

import torch.distributed as dist
import torch.multiprocessing as mp

from turboyolo.errors import UserError
from turboyolo.distributed.env import cuda_ids, listed_cuda_ids

_LAUNCH_VARS = ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "HOROVOD_RANK")


def requested_world_size(cfg) -> int:
    """Processes the config asks for on this machine: one per listed GPU (device=0,1), else cfg.nproc.

    The GPUs are checked here, before any spawn: a GPU this machine lacks is one ConfigError line
    instead of every rank failing.
    """
    listed = listed_cuda_ids(cfg.device)
    if listed is not None and len(listed) > 1:
        return len(cuda_ids(cfg.device))
    return int(cfg.nproc)


def already_launched() -> bool:
    """True when torchrun, Slurm, mpirun or horovodrun started this process as one rank of many."""
    return any(os.environ.get(name) not in (None, "") for name in _LAUNCH_VARS)


def should_spawn(cfg) -> bool:
    return requested_world_size(cfg) > 1 and not already_launched()


def launch(entry: Callable[[Any], Any], cfg, nprocs: int | None = None, timeout_s: float | None = None) -> None:
    """Run ``entry(cfg)`` in `nprocs` spawned processes with RANK/LOCAL_RANK/WORLD_SIZE set.

    entry must be picklable (module-level function or picklable object). Blocks until all exit;
    raises torch.multiprocessing.ProcessRaisedException / ProcessExitedException naming the
    failing rank.
    """
    nprocs = nprocs or requested_world_size(cfg)
    timeout = timedelta(seconds=timeout_s or float(cfg.dist_timeout))
    # port=0: the OS picks a free port and the store holds it, so no other process can take it.
    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False, timeout=timeout)
    try:
        mp.start_processes(_worker, args=(entry, cfg, nprocs, store.port), nprocs=nprocs, join=True,
                           start_method="spawn")
    except mp.ProcessRaisedException as err:
        first = _first_failure(store, nprocs)
        if first is not None and first[2] is not None:  # a user's mistake: one line, as in one process
            raise WorkerUserError(f"rank {first[0]}: {first[2]}") from None
        if first is not None and first[0] != err.error_index:
            # another rank failed first; the reported one only lost its peer ("connection closed")
            raise mp.ProcessRaisedException(first[1], first[0], err.error_pid) from err
        raise
    finally:
        del store


def _worker(local_rank: int, entry: Callable[[Any], Any], cfg, world_size: int, port: int) -> None:
    os.environ.update({
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": str(local_rank),
        "LOCAL_RANK": str(local_rank),
        "WORLD_SIZE": str(world_size),
        "LOCAL_WORLD_SIZE": str(world_size),
        # Connect to the parent's store as clients instead of rank 0 starting a second one.
        "TORCHELASTIC_USE_AGENT_STORE": "True",
    })
    try:
        entry(cfg)
    except BaseException as err:
        user_message = str(err) if isinstance(err, (UserError, FileNotFoundError)) else None
        _record_failure(port, local_rank, traceback.format_exc(), user_message)
        raise


_FAILURE_KEY = "turboyolo/launch/failure/"


class WorkerUserError(UserError):
    """A spawned rank stopped on a user's mistake (a bad key, file or device): its one-line message."""


def _record_failure(port: int, rank: int, text: str, user_message: str | None = None) -> None:
    """Post when and why this rank failed, so the launcher can report the first failure."""
    try:
        client = dist.TCPStore("127.0.0.1", port, is_master=False, wait_for_workers=False, timeout=timedelta(seconds=5))
        client.set(f"{_FAILURE_KEY}{rank}", json.dumps({"time": time.time(), "text": text, "user": user_message}))
    except Exception:
        pass  # best effort: the exception itself still reaches the launcher


def _first_failure(store, nprocs: int) -> tuple[int, str, str | None] | None:
    """(rank, traceback text, user error message or None) of the rank that failed first."""
    failures = []
    for rank in range(nprocs):
        key = f"{_FAILURE_KEY}{rank}"
        if store.check([key]):
            record = json.loads(store.get(key))
            failures.append((record["time"], rank, record["text"], record.get("user")))
    if not failures:
        return None
    _, rank, text, user_message = min(failures)
    return rank, text, user_message


class TrainEntry:
    """Picklable ``cfg -> Trainer(cfg, callbacks).fit()``; a Trainer subclass and its callbacks
    (module-level functions) reach every worker unchanged."""

    def __init__(self, trainer_cls=None, callbacks: dict | None = None):
        self.trainer_cls = trainer_cls
        self.callbacks = callbacks

    def __call__(self, cfg):
        if self.trainer_cls is None:
            from turboyolo.engine.trainer import Trainer

            return Trainer(cfg, self.callbacks).fit()
        return self.trainer_cls(cfg, self.callbacks).fit()


def spawn_training(cfg, nprocs: int | None = None, trainer_cls=None, callbacks: dict | None = None) -> None:
    """`turboyolo train device=0,1` / `nproc=2`: one Trainer per spawned rank."""
    launch(TrainEntry(trainer_cls, callbacks), cfg, nprocs)
