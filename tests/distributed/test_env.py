"""device= parsing: which CUDA devices a key asks for, and a one-line error when there is no such GPU."""
import pytest
import torch

from turboyolo.config import ConfigError
from turboyolo.distributed.env import cuda_ids, select_device


@pytest.fixture
def two_gpus(monkeypatch):
    """Pretend this machine has two CUDA devices (only the counting is faked; no kernel runs)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_keys_pick_listed_gpus(two_gpus):
    assert cuda_ids(None) == [0, 1] and cuda_ids("cuda") == [0, 1]
    assert cuda_ids("1") == [1] and cuda_ids("cuda:1") == [1] and cuda_ids("0,1") == [0, 1]
    assert cuda_ids("cpu") is None
    assert select_device("0,1", local_rank=1) == torch.device("cuda", 1)


def test_a_gpu_the_machine_lacks_is_named(two_gpus):
    with pytest.raises(ConfigError, match=r"device=0,5: this machine has 2 GPU\(s\) \(0..1\); there is no GPU 5"):
        cuda_ids("0,5")


def test_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device(None) == torch.device("cpu")
    with pytest.raises(ConfigError, match="device=0: no CUDA GPU is usable here"):
        select_device("0")
    with pytest.raises(ConfigError, match="device=tpu: not a device"):
        select_device("tpu")
