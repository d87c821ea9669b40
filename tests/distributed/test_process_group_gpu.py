"""NCCL at world size 1 (the eager device-bound init), and SyncBatchNorm conversion of a CUDA model."""
import socket

import pytest
import torch
from torch import nn

from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.process_group import destroy_process_group, init_process_group
from turboyolo.distributed.sync_bn import convert_sync_batchnorm

pytestmark = pytest.mark.gpu
DEVICE = torch.device("cuda", 0)


@pytest.fixture
def nccl_group(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1"}.items():
        monkeypatch.setenv(key, value)
    backend = init_process_group(DistEnv(0, 0, 1, 1, DEVICE), "auto", timeout_s=60)
    yield backend
    destroy_process_group()


def test_nccl_process_group_at_world_size_1(nccl_group):
    assert nccl_group == "nccl"  # auto picks NCCL for a CUDA device
    tensor = torch.full((4,), 3.0, device=DEVICE)
    torch.distributed.all_reduce(tensor)
    assert tensor.tolist() == [3.0] * 4


def test_sync_batchnorm_conversion_on_cuda(nccl_group):
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)).to(DEVICE)
    synced = convert_sync_batchnorm(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)).to(DEVICE))
    synced.load_state_dict(plain.state_dict())  # same keys: checkpoints need no conversion back
    assert isinstance(synced[1], nn.SyncBatchNorm)
    x = torch.randn(4, 3, 16, 16, device=DEVICE)
    out = synced(x)
    out.mean().backward()
    torch.testing.assert_close(out, plain(x), rtol=1e-4, atol=1e-4)  # one rank: plain BatchNorm's result
