"""Who this process is in a distributed run: rank, world size, device, from torchrun or Slurm."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def node_rank(self) -> int:
        return self.rank // max(self.local_world_size, 1)


def _int_env(*names: str, default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return int(value.split("(")[0].split(",")[0])  # Slurm writes e.g. "2(x3)" or "2,1"
    return default


def read_env(device_key: str | None = None) -> DistEnv:
    """Ranks from torchrun (RANK/LOCAL_RANK/WORLD_SIZE), else Slurm (SLURM_PROCID...), else horovodrun
    (HOROVOD_RANK...), else one process.

    device_key: the config's `device` ("cpu", "0", "0,1", null). With several CUDA devices listed the
    local rank picks among them.
    """
    rank = _int_env("RANK", "SLURM_PROCID", "HOROVOD_RANK", default=0)
    world = _int_env("WORLD_SIZE", "SLURM_NTASKS", "HOROVOD_SIZE", default=1)
    local_rank = _int_env("LOCAL_RANK", "SLURM_LOCALID", "HOROVOD_LOCAL_RANK", default=0)
    local_world = _int_env("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE", "HOROVOD_LOCAL_SIZE", default=world)
    return DistEnv(rank, local_rank, world, local_world, select_device(device_key, local_rank))


def select_device(device_key: str | None, local_rank: int = 0) -> torch.device:
    key = (str(device_key).strip().lower() if device_key is not None else "")
    if key == "cpu" or (key == "" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"device={device_key} asks for CUDA, but torch.cuda.is_available() is False")
    ids = [int(x) for x in key.replace("cuda:", "").split(",") if x.strip()] if key else list(range(torch.cuda.device_count()))
    return torch.device("cuda", ids[local_rank % len(ids)])


def elastic_restart_count() -> int:
    """How many times torchrun (--max-restarts) has restarted this group; 0 on the first start.

    A trainer seeing > 0 should resume from the newest checkpoint the killed incarnation wrote.
    """
    return _int_env("TORCHELASTIC_RESTART_COUNT", default=0)
