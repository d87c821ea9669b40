"""DDP: 2 ranks x batch b with SyncBN end with the weights of 1 process x batch 2b."""
import pytest
import torch

from tests.distributed.toy import ToyNet, max_state_diff, run_ranks, train_toy
from turboyolo.distributed.ddp import DDPOptions, DDPStrategy
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.strategy import Strategy

STEPS, PER_RANK_BATCH = 6, 4
# fp32 sums taken in a different order (two half batches + all-reduce) drift by a few ulps per step
STATE_TOLERANCE = 1e-5


def _ddp_and_reference(cfg, env, strategy):
    assert isinstance(strategy, DDPStrategy)
    global_batch = PER_RANK_BATCH * env.world_size
    wrapped, _, losses = train_toy(strategy, env.rank, env.world_size, STEPS, global_batch)
    reference_model, _, reference_losses = train_toy(Strategy(DistEnv()), 0, 1, STEPS, global_batch)
    bf16_error = ""
    try:
        DDPStrategy(env, DDPOptions(grad_compression="bf16")).wrap(ToyNet())
    except RuntimeError as err:
        bf16_error = str(err)
    return {"state": strategy.model_state(wrapped), "reference": reference_model.state_dict(),
            "losses": losses, "reference_losses": reference_losses, "bf16_error": bf16_error}


@pytest.fixture(scope="module")
def results():
    return run_ranks(_ddp_and_reference, 2, sync_bn=True)


@pytest.mark.dist
@pytest.mark.slow
def test_two_ranks_equal_one_process_with_the_global_batch(results):
    for rank, result in enumerate(results):
        diff = max_state_diff(result["state"], result["reference"])
        assert diff < STATE_TOLERANCE, f"rank {rank}: weights/BN statistics differ by {diff:.2e}"
        torch.testing.assert_close(torch.tensor(result["losses"]), torch.tensor(result["reference_losses"]))
    assert max_state_diff(results[0]["state"], results[1]["state"]) == 0.0  # ranks bit-identical


@pytest.mark.dist
@pytest.mark.slow
def test_bf16_compression_on_gloo_is_a_clear_error(results):
    assert "needs the NCCL backend" in results[0]["bf16_error"]
    assert "fp16 or powersgd" in results[0]["bf16_error"]
