"""CPU SyncBatchNorm on 2 gloo ranks x batch b behaves exactly like 1 process x batch 2b."""
import copy

import pytest
from torch import nn

from tests.distributed.test_sync_bn import _reference_and_synced
from tests.distributed.toy import rank_slice, run_ranks
from turboyolo.distributed.sync_bn import CpuSyncBatchNorm, convert_sync_batchnorm



def _compare_on_two_ranks(cfg, env, strategy):
    bn, x, upstream = _reference_and_synced()
    synced = convert_sync_batchnorm(nn.Sequential(copy.deepcopy(bn)))[0]
    assert isinstance(synced, CpuSyncBatchNorm)

    x_ref = x.clone().requires_grad_()
    y_ref = bn(x_ref)
    (y_ref * upstream).sum().backward()

    x_mine = rank_slice(x, env.rank, env.world_size).clone().requires_grad_()
    y_mine = synced(x_mine)
    (y_mine * rank_slice(upstream, env.rank, env.world_size)).sum().backward()
    grad_w = strategy.all_reduce(synced.weight.grad.clone())  # per-rank contributions add up
    grad_b = strategy.all_reduce(synced.bias.grad.clone())

    def diff(a, b):
        return float((a - b).abs().max())

    return {
        "output": diff(y_mine, rank_slice(y_ref, env.rank, env.world_size)),
        "running_mean": diff(synced.running_mean, bn.running_mean),
        "running_var": diff(synced.running_var, bn.running_var),
        "grad_input": diff(x_mine.grad, rank_slice(x_ref.grad, env.rank, env.world_size)),
        "grad_weight": diff(grad_w, bn.weight.grad),
        "grad_bias": diff(grad_b, bn.bias.grad),
    }


@pytest.mark.dist
@pytest.mark.slow
def test_two_ranks_match_one_process_with_double_batch():
    for rank, diffs in enumerate(run_ranks(_compare_on_two_ranks, 2)):
        for name, value in diffs.items():
            assert value < 1e-5, f"rank {rank}: {name} differs by {value:.2e}"
