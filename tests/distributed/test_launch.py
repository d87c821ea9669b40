"""In-process spawn: world size from the config, checked before spawning (test_launch_integration.py spawns)."""
import pytest
import torch

from turboyolo.config import ConfigError, build_config
from turboyolo.distributed.launch import requested_world_size, should_spawn



def test_world_size_comes_from_the_device_list_or_nproc(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with 4 GPUs (only counted)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert requested_world_size(build_config({"device": "0,1,2,3"})) == 4
    assert requested_world_size(build_config({"device": "cuda:0,cuda:1"})) == 2
    assert requested_world_size(build_config({"device": "cpu", "nproc": 3})) == 3
    assert requested_world_size(build_config({})) == 1
    assert should_spawn(build_config({"nproc": 2}))
    monkeypatch.setenv("RANK", "0")  # under torchrun: never spawn again
    assert not should_spawn(build_config({"nproc": 2}))


def test_gpus_the_machine_lacks_fail_before_any_spawn(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device=0,1: no CUDA GPU is usable here"):
        requested_world_size(build_config({"device": "0,1"}))
    with pytest.raises(ConfigError, match="device=0,x: not a device"):
        requested_world_size(build_config({"device": "0,x"}))
