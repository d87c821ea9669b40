"""CPU SyncBatchNorm: 2 gloo ranks x batch b behave exactly like 1 process x batch 2b."""
import copy

import pytest
import torch
from torch import nn

from tests.distributed.toy import rank_slice, run_ranks
from turboyolo.distributed.sync_bn import CpuSyncBatchNorm, convert_sync_batchnorm


def _reference_and_synced():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(5)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    x = torch.randn(8, 5, 4, 3) * 3 + 1.5  # mean far from 0 checks the variance formula's precision
    upstream = torch.randn(8, 5, 4, 3)      # a fixed gradient arriving from the loss
    return bn, x, upstream


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


def test_single_process_is_plain_batchnorm_and_keys_survive_round_trip():
    bn, x, _ = _reference_and_synced()
    model = nn.Sequential(nn.Conv2d(5, 5, 1), copy.deepcopy(bn))
    synced = convert_sync_batchnorm(copy.deepcopy(model))
    assert isinstance(synced[1], CpuSyncBatchNorm)
    assert synced.state_dict().keys() == model.state_dict().keys()
    torch.testing.assert_close(synced(x), model(x))  # no process group: ordinary BatchNorm
    plain = copy.deepcopy(model)
    plain.load_state_dict(synced.state_dict())  # a checkpoint of the synced model loads into a plain one
    assert type(plain[1]) is nn.BatchNorm2d
    torch.testing.assert_close(plain(x), synced(x))
