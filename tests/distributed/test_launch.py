"""In-process spawn: world size from the config, env per rank, one rank's error stops them all."""
import os
import time

import pytest
import torch
import torch.multiprocessing as mp

from tests.distributed.toy import run_ranks
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


def _report_identity(cfg, env, strategy):
    return {"rank": env.rank, "world": env.world_size, "env_rank": os.environ["RANK"], "strategy": strategy.name,
            "ranks_seen": strategy.gather_objects(env.rank), "from_rank0": strategy.broadcast_object(f"hi {env.rank}")}


def _rank1_fails(cfg, env, strategy):
    if env.rank == 1:
        raise ValueError("boom on rank 1")
    strategy.barrier()  # rank 0 would wait forever without the launcher stopping it


@pytest.mark.dist
@pytest.mark.slow
def test_spawned_ranks_know_who_they_are():
    results = run_ranks(_report_identity, 2)
    assert [r["rank"] for r in results] == [0, 1]
    assert results[1]["env_rank"] == "1" and results[1]["world"] == 2 and results[0]["strategy"] == "ddp"
    assert results[0]["ranks_seen"] == [0, 1] and results[1]["ranks_seen"] is None
    assert results[1]["from_rank0"] == "hi 0"


@pytest.mark.dist
@pytest.mark.slow
def test_an_error_on_one_rank_stops_the_group_with_its_message():
    started = time.time()
    with pytest.raises(mp.ProcessRaisedException, match="boom on rank 1"):
        run_ranks(_rank1_fails, 2)
    assert time.time() - started < 30
