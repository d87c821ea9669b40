"""Every sync strategy trains the toy CNN on 2 gloo ranks (loss goes down) and keeps ranks consistent.

One spawn runs them all, one after another in the same process group, to keep the file fast.
"""
import pytest
import torch

from tests.distributed.toy import CommRecorder, ToyNet, max_state_diff, rank_slice, run_ranks, toy_batch, train_toy
from turboyolo.config import build_config
from turboyolo.distributed.factory import make_strategy

STEPS, GLOBAL_BATCH = 16, 16
VARIANTS = {  # name -> (config overrides, micro-steps per optimizer step)
    "ddp": ({}, 1),
    "ddp_local_bn": ({"broadcast_buffers": False}, 1),                       # BN statistics stay rank-local
    "fp16": ({"grad_compression": "fp16"}, 1),
    "powersgd": ({"grad_compression": "powersgd", "powersgd_rank": 1}, 1),  # compresses from step 10
    "accumulate": ({}, 2),                                                   # no_sync on the first micro-step
    "localsgd": ({"sync": "localsgd", "period": 2, "localsgd_warmup": 4}, 1),
    "zero": ({"sync": "zero"}, 1),
    "fsdp": ({"sync": "fsdp"}, 1),
    "fsdp_bf16": ({"sync": "fsdp", "fsdp_mixed_precision": True}, 1),
}


def _train_every_strategy(cfg, env, _):
    out = {}
    for name, (overrides, accumulate) in VARIANTS.items():
        variant = build_config({**cfg, **overrides})
        strategy = make_strategy(variant, env)
        if variant.sync == "fsdp":
            strategy.min_unit_params = 100  # shard the blocks of the toy net separately, too
        comm = CommRecorder()  # the trainer's TrainStep hands the exposed communication to its timer
        wrapped, optimizer, losses = train_toy(strategy, env.rank, env.world_size, STEPS, GLOBAL_BATCH // accumulate,
                                               accumulate=accumulate, timer=comm)
        result = {"losses": losses, "exposed_comm_s": comm.exposed_comm_s, "state": strategy.model_state(wrapped),
                  "local": {k: v.clone() for k, v in strategy.unwrap(wrapped).state_dict().items()}}
        optimizer_state = strategy.optimizer_state(optimizer)
        result["optimizer_state_entries"] = None if optimizer_state is None else len(optimizer_state["state"])
        if name == "localsgd":  # one more step, which is local (no averaging at step 17)
            _one_more_step(strategy, wrapped, optimizer, env)
            result["after_local_step"] = {k: v.clone() for k, v in strategy.unwrap(wrapped).state_dict().items()}
        if name in ("localsgd", "ddp_local_bn"):  # what validation does: one model on every rank
            eval_model = strategy.eval_module(wrapped)
            strategy.unify_eval_state(eval_model)
            result["eval_synced"] = {k: v.clone() for k, v in eval_model.state_dict().items()}
        out[name] = result
    return out


def _one_more_step(strategy, wrapped, optimizer, env):
    x, y = toy_batch(STEPS, GLOBAL_BATCH)
    with strategy.forward_backward_context(wrapped, reduce_gradients=True):
        torch.nn.functional.cross_entropy(wrapped(rank_slice(x, env.rank, 2)), rank_slice(y, env.rank, 2)).backward()
    strategy.optimizer_step(optimizer, None, strategy.unwrap(wrapped).parameters(), 0.0)
    strategy.after_step(wrapped, STEPS + 1)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_ranks(_train_every_strategy, 2, cache_dir=str(tmp_path_factory.mktemp("strategies")))


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("name", list(VARIANTS))
def test_loss_decreases(results, name):
    losses = results[0][name]["losses"]
    assert sum(losses[-4:]) / 4 < 0.9 * losses[0], f"{name}: {losses}"


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("name", ["ddp", "fp16", "powersgd", "accumulate", "zero", "localsgd"])
def test_ranks_agree_on_the_weights(results, name):
    # parameters only: without sync_bn each DDP rank's BN running statistics are its own
    assert max_state_diff(results[0][name]["state"], results[1][name]["state"], parameters_only=True) < 1e-6


@pytest.mark.dist
@pytest.mark.slow
def test_localsgd_ranks_step_alone_and_meet_at_averaging(results):
    # step 16 = warm-up 4 + 6 periods of 2: averaged, so the live models agree
    assert max_state_diff(results[0]["localsgd"]["local"], results[1]["localsgd"]["local"], parameters_only=True) < 1e-6
    # step 17 is local: no gradient all-reduce after the warm-up, so the ranks drift apart
    drift = max_state_diff(results[0]["localsgd"]["after_local_step"], results[1]["localsgd"]["after_local_step"],
                           parameters_only=True)
    assert drift > 1e-4


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("name", ["localsgd", "ddp_local_bn"])
def test_models_agree_before_validation(results, name):
    """Between averagings (local SGD) or without DDP's per-forward buffer broadcast, the ranks'
    models differ; unify_eval_state makes them one (weights and BN statistics) before validation."""
    drifted = "after_local_step" if name == "localsgd" else "local"
    assert max_state_diff(results[0][name][drifted], results[1][name][drifted]) > 1e-4
    assert max_state_diff(results[0][name]["eval_synced"], results[1][name]["eval_synced"]) < 1e-6


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("name", ["ddp", "fp16", "powersgd", "zero"])
def test_exposed_communication_is_measured(results, name):
    assert 0.0 < results[0][name]["exposed_comm_s"] < 1.0  # the toy all-reduce takes well under a second


@pytest.mark.dist
@pytest.mark.slow
def test_zero_consolidates_the_optimizer_state_on_rank0(results):
    params = len(list(ToyNet().parameters()))
    assert results[0]["zero"]["optimizer_state_entries"] == params
    assert results[1]["zero"]["optimizer_state_entries"] is None


@pytest.mark.dist
@pytest.mark.slow
def test_fsdp_checkpoint_loads_into_a_single_process_model(results):
    full = results[0]["fsdp"]["state"]
    assert results[1]["fsdp"]["state"] == {}  # the full state is gathered on rank 0 only
    ToyNet().load_state_dict(full)  # plain tensors, plain keys
    assert all(type(v) is torch.Tensor for v in full.values())
