"""Strategy choice from the config, and single-process set-up (no process group)."""
import pytest
import torch

from turboyolo.config import build_config
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.factory import SYNC_STRATEGIES, make_strategy, setup_distributed
from turboyolo.distributed.strategy import Strategy


def test_one_process_gets_the_plain_strategy_whatever_the_sync(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    try:
        env, strategy = setup_distributed(build_config({"device": "cpu", "sync": "fsdp", "threads": 1}))
        assert type(strategy) is Strategy and not env.is_distributed
        assert strategy.all_reduce(torch.ones(2), "mean").tolist() == [1.0, 1.0]
        assert strategy.gather_objects("x") == ["x"]
        strategy.close()
    finally:
        torch.set_num_threads(before)


def test_every_sync_choice_of_the_config_has_a_strategy():
    from turboyolo.config import load_schema

    assert set(load_schema()["sync"].choices) == set(SYNC_STRATEGIES)


def test_distributed_strategies_refuse_to_run_without_a_process_group():
    env = DistEnv(rank=0, world_size=2, local_world_size=2)
    with pytest.raises(RuntimeError, match="setup_distributed"):
        make_strategy(build_config({"sync": "ddp"}), env)

