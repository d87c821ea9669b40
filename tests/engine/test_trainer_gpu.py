"""Training on device=0 end to end (fp16 and bf16), and the checkpoint it writes loads on a CPU."""
import pytest
import torch

from turboyolo.config import build_config
from turboyolo.engine.checkpoint import load_checkpoint
from turboyolo.engine.trainer import Trainer

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    return str(generate_synthetic(tmp_path_factory.mktemp("synth"), n_train=32, n_val=8, imgsz=128, nc=2, seed=1))


@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_device_0_trains_and_writes_checkpoints(tiny_data, tmp_path, amp):
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    cfg = build_config(dict(data=tiny_data, model="n", imgsz=128, batch=8, epochs=2, workers=1, cache="ram",
                            device="0", amp=amp, project=str(tmp_path), name="run", verbose=False, plots=False))
    summary = Trainer(cfg).fit()
    assert summary["stop_reason"] == "" and summary["images_per_s"] > 0
    assert all(torch.isfinite(torch.tensor([summary["box_loss"], summary["cls_loss"], summary["dfl_loss"]])))
    best = load_checkpoint(tmp_path / "run" / "weights" / "best.pt", map_location=None)  # as saved
    assert all(t.device.type == "cpu" for t in best["model"].values())  # portable to a machine without a GPU
