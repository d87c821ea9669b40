"""Who this process is in a distributed run: rank, world size, device, from torchrun or Slurm."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from turboyolo.config import ConfigError


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


DEVICE_FORMS = "device=cpu, device=cuda, or CUDA indices such as device=0 or device=0,1"


def listed_cuda_ids(device_key: str | None) -> list[int] | None:
    """The GPU indices `device_key` names ("0", "0,1", "cuda:1"), read from the text alone (no GPU is
    looked at); None for cpu, cuda and unset, which name no index. A ConfigError for anything else."""
    key = str(device_key).strip().lower() if device_key is not None else ""
    if key in ("", "cpu", "cuda"):
        return None
    words = [w.strip() for w in key.replace("cuda:", "").split(",") if w.strip()]
    if not words or not all(w.isdigit() for w in words):
        raise ConfigError(f"device={device_key}: not a device; use {DEVICE_FORMS}")
    return [int(w) for w in words]


def cuda_ids(device_key: str | None) -> list[int] | None:
    """The CUDA devices `device_key` asks for (None: the CPU); a ConfigError when this machine has no such GPU.

    null picks every visible GPU, or the CPU when there is none; "cuda" every visible GPU.
    """
    listed = listed_cuda_ids(device_key)
    key = str(device_key).strip().lower() if device_key is not None else ""
    if key == "cpu" or (key == "" and not torch.cuda.is_available()):
        return None
    if not torch.cuda.is_available():
        raise ConfigError(f"device={device_key}: no CUDA GPU is usable here (torch.cuda.is_available() is False); "
                          "use device=cpu or leave device unset")
    count = torch.cuda.device_count()
    ids = listed if listed is not None else list(range(count))
    missing = [i for i in ids if i >= count]
    if missing:
        raise ConfigError(f"device={device_key}: this machine has {count} GPU(s) (0..{count - 1}); "
                          f"there is no GPU {missing[0]}")
    return ids


def select_device(device_key: str | None, local_rank: int = 0) -> torch.device:
    """This process's device: the CPU, or the local rank's pick among the CUDA devices asked for."""
    ids = cuda_ids(device_key)
    return torch.device("cpu") if ids is None else torch.device("cuda", ids[local_rank % len(ids)])


def elastic_restart_count() -> int:
    """How many times torchrun (--max-restarts) has restarted this group; 0 on the first start.

    A trainer seeing > 0 should resume from the newest checkpoint the killed incarnation wrote.
    """
    return _int_env("TORCHELASTIC_RESTART_COUNT", default=0)
