"""validate(): training's validation and `turboyolo val` score the same model, to the last bit."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from turboyolo.config import build_config
from turboyolo.data.loader import build_dataloader
from turboyolo.data.records import ImageRecord
from turboyolo.distributed.factory import setup_distributed
from turboyolo.engine.checkpoint import eval_model
from turboyolo.engine.validator import validate
from turboyolo.model.build import build_model

NAMES = ["a", "b"]


def trained_like_model() -> nn.Module:
    """A detector whose BatchNorms hold statistics as after training (fresh 0/1 ones fold exactly) and whose
    class biases are 0: it emits many boxes with near-equal scores, whose order any rounding changes."""
    torch.manual_seed(0)
    model = build_model("n", len(NAMES))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        for tower in model.head.cls_towers:
            tower[-1].bias.zero_()
    return model.eval()


def large_box_records(folder, count: int = 16) -> list[ImageRecord]:
    """Flat-coloured objects filling most of a flat frame: an untrained model's big boxes match some, and the
    many anchors that see the same flat pixels score equal up to rounding (a young model's near-ties)."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    records = []
    for i in range(count):
        width, height = (64, 48) if i % 2 else (48, 64)
        image = np.full((height, width, 3), 50, np.uint8)
        x1, y1, x2, y2 = (int(v) for v in (rng.uniform(0, 12), rng.uniform(0, 12), width - rng.uniform(0, 12),
                                            height - rng.uniform(0, 12)))
        image[y1:y2, x1:x2] = (230, 60, 60) if i % 2 else (60, 230, 60)
        path = folder / f"{i}.png"
        cv2.imwrite(str(path), image)
        records.append(ImageRecord(str(path), width, height, np.array([[x1, y1, x2, y2]]), [i % 2], image_id=i))
    return records


def test_training_validation_and_val_score_the_same_model(tmp_path, monkeypatch):
    """Training validates its live (unfused) EMA module, `val` the checkpoint's fused model: they must find
    the same detections to the last bit, or `val best.pt` cannot reproduce results.csv (on a two-epoch
    model fusing alone moved mAP50 by 4.5e-4: its many near-equal scores re-order on any rounding)."""
    import turboyolo.engine.validator as validator

    found = []  # what each validate() call detected: [(dataset index, (n, 6) detections)]
    real_predict_shard = validator.predict_shard

    def recording_predict_shard(*args, **kwargs):
        found.append(real_predict_shard(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr(validator, "predict_shard", recording_predict_shard)
    model = trained_like_model().to(memory_format=torch.channels_last)
    records = large_box_records(tmp_path / "images")
    cfg = build_config(dict(imgsz=64, workers=0, cache="none", amp="off", save_json=True, verbose=False))
    _, strategy = setup_distributed(cfg)
    loader = build_dataloader(records, cfg, train=False, batch_size=4, workers=0)
    in_training = validate(model, loader, records, NAMES, strategy, cfg, None, torch.channels_last)
    ckpt = {"model": model.state_dict(), "spec": model.spec, "names": NAMES}
    in_val = validate(eval_model(ckpt, "cpu", torch.channels_last), loader, records, NAMES, strategy, cfg, None,
                      torch.channels_last)
    assert in_training["mAP50"] > 0 and in_training["mAP50-95"] == in_val["mAP50-95"]
    training_dets, val_dets = ({index: dets for index, dets in run} for run in found)
    assert sum(len(d) for d in training_dets.values()) > 100
    for index, dets in training_dets.items():
        np.testing.assert_array_equal(dets, val_dets[index])
    assert not model.training and any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # not fused in place
    strategy.close()


def test_validate_leaves_the_training_model_unfused_and_in_its_mode(tmp_path):
    model = trained_like_model().train()
    records = large_box_records(tmp_path / "images", 2)
    cfg = build_config(dict(imgsz=64, workers=0, cache="none", amp="off", plots=False))
    _, strategy = setup_distributed(cfg)
    validate(model, build_dataloader(records, cfg, train=False, batch_size=2, workers=0), records, NAMES, strategy,
             cfg, None, torch.contiguous_format)
    assert model.training and sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 10
    strategy.close()
