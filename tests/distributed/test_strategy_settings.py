"""A strategy's settings come from the validated config, read in one place (factory.make_strategy):
built as the command line builds it, as a library user builds it (build_config(), or the
constructor with its defaults), it behaves the same; a config without a key is an error, never a
strategy with a default of its own (local SGD used to start averaging after 0 steps instead of 50)."""
import pytest
import torch.distributed as dist

from tests.distributed.toy import ToyNet
from turboyolo.cli import parse_command
from turboyolo.config import Config, build_config, load_schema
from turboyolo.distributed import local_sgd
from turboyolo.distributed.ddp import DDPOptions, DDPStrategy
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.factory import make_strategy
from turboyolo.distributed.local_sgd import LocalSGDStrategy

TWO_RANKS = DistEnv(rank=0, world_size=2, local_world_size=2)  # what the strategy is told; the group has one


@pytest.fixture
def process_group():
    """A one-rank gloo group in this process: enough to build (not wrap) the distributed strategies."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _averaged_steps(strategy, monkeypatch, steps: int) -> list[int]:
    """The optimizer steps after which local SGD averages the models."""
    averaged, current = [], [0]
    monkeypatch.setattr(local_sgd, "average_in_place", lambda tensors: averaged.append(current[0]))
    model = ToyNet()
    for step in range(1, steps + 1):
        current[0] = step
        strategy.after_step(model, step)
    return averaged


def test_local_sgd_is_synchronous_for_the_documented_warmup_however_it_is_built(process_group, monkeypatch):
    _, cli_cfg = parse_command("train", ["sync=localsgd"])
    built = {
        "command line": make_strategy(cli_cfg, TWO_RANKS),
        "build_config()": make_strategy(build_config({"sync": "localsgd"}), TWO_RANKS),
        "constructor defaults": LocalSGDStrategy(TWO_RANKS),
    }
    warmup, period = load_schema()["localsgd_warmup"].default, load_schema()["period"].default
    assert warmup == 50
    for how, strategy in built.items():
        averaged = _averaged_steps(strategy, monkeypatch, warmup + 2 * period)
        assert averaged == [warmup + period, warmup + 2 * period], how  # no local step before the warm-up ends


def test_a_config_without_a_strategy_key_is_an_error_not_another_default(process_group):
    partial = Config({k: v for k, v in build_config({"sync": "localsgd"}).items() if k != "localsgd_warmup"})
    with pytest.raises((KeyError, AttributeError), match="localsgd_warmup"):
        make_strategy(partial, TWO_RANKS)


def test_the_users_ddp_settings_reach_the_strategy(process_group):
    _, cli_cfg = parse_command("train", ["bucket_cap_mb=50", "static_graph=true", "grad_compression=fp16"])
    strategy = make_strategy(cli_cfg, TWO_RANKS)
    assert isinstance(strategy, DDPStrategy)
    assert strategy.ddp_options == DDPOptions(bucket_cap_mb=50.0, static_graph=True, grad_compression="fp16")
    assert make_strategy(build_config(), TWO_RANKS).ddp_options == DDPOptions()  # the defaults: default.yaml's
    assert DDPOptions().bucket_cap_mb == load_schema()["bucket_cap_mb"].default


def test_sync_bn_reaches_the_strategy(process_group):
    import torch

    strategy = make_strategy(build_config({"sync_bn": True}), TWO_RANKS)
    converted = strategy.prepare_model(ToyNet())
    assert any(isinstance(m, torch.nn.SyncBatchNorm) or "SyncBatchNorm" in type(m).__name__ for m in converted.modules())
    plain = make_strategy(build_config(), TWO_RANKS).prepare_model(ToyNet())
    assert not any("SyncBatchNorm" in type(m).__name__ for m in plain.modules())


def test_horovod_names_an_unsupported_sync_even_without_horovod():
    with pytest.raises(RuntimeError, match="sync=ddp only"):
        make_strategy(build_config({"engine": "horovod", "sync": "zero"}), DistEnv())
