"""The loader's pinned-memory batches for CUDA, copied without blocking into the model's input."""
import pytest
import torch

from turboyolo.config import build_config
from turboyolo.data.loader import build_dataloader
from turboyolo.engine.model_input import to_model_input
from tests.data.loader_fixtures import write_records

pytestmark = pytest.mark.gpu


def test_pinned_batches_reach_the_gpu_unchanged(tmp_path):
    records = write_records(tmp_path / "images", 8)
    cfg = build_config({"imgsz": 64, "batch": 4, "workers": 1, "cache": "none"})
    loader = build_dataloader(records, cfg, train=True, pin_memory=True)
    loader.set_epoch(0, 10)
    batch = next(iter(loader))
    assert batch["images"].is_pinned() and batch["targets"].is_pinned()
    images = to_model_input(batch["images"], torch.device("cuda", 0), torch.channels_last)
    assert images.is_cuda
    torch.testing.assert_close(images.cpu(), to_model_input(batch["images"], torch.device("cpu"), torch.channels_last))
