"""CPU SyncBatchNorm in one process (test_sync_bn_integration.py: 2 ranks equal 1 process with the double batch)."""
import copy

import torch
from torch import nn

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
