"""Validation with difficult ground truth (VOC difficult=1, policy difficult=ignore, the default):
a detection on a difficult box is neither a true nor a false positive, an undetected one is no miss.

A stand-in detector finds the ordinary object and one of two difficult objects, the difficult one
with the higher score: counted as ordinary boxes (what happened before the policy existed) the
missed one costs recall, and dropped (difficult=drop) the found one is a top-scoring false positive.
"""
import numpy as np
import pytest
import torch
from torch import nn

from tests.data.dataset_fixtures import make_voc
from turboyolo.config import build_config
from turboyolo.distributed.env import read_env
from turboyolo.distributed.strategy import Strategy

ORDINARY = (4, 4, 30, 30)
DIFFICULT_FOUND = (34, 4, 62, 40)
DIFFICULT_MISSED = (8, 32, 26, 46)


class FixedDetector(nn.Module):
    """Returns the same raw predictions (1, A, 4 + classes) for any input: one image per batch."""

    def __init__(self, pred: torch.Tensor):
        super().__init__()
        self.pred = pred

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pred.expand(len(images), -1, -1)


def _validate(voc, difficult: str) -> dict:
    from turboyolo.data.formats import load_dataset
    from turboyolo.data.loader import build_dataloader
    from turboyolo.engine.validator import validate

    cfg = build_config({"data": str(voc), "imgsz": 64, "workers": 0, "threads": 1, "plots": False, "device": "cpu",
                        "rect_val": False, "difficult": difficult})
    records = load_dataset(cfg.data, None, verbose=False, difficult=cfg.difficult).split("val")
    loader = build_dataloader(records, cfg, train=False, batch_size=1, cache=None)
    scale, pad_x, pad_y = next(iter(loader))["scale_pad"][0].tolist()
    pred = torch.zeros(1, 8, 4 + 1)
    for row, (box, score) in enumerate([(DIFFICULT_FOUND, 0.9), (ORDINARY, 0.6)]):
        pred[0, row, :4] = torch.tensor(box, dtype=torch.float32) * scale + torch.tensor([pad_x, pad_y] * 2)
        pred[0, row, 4] = score
    env = read_env("cpu")
    return validate(FixedDetector(pred), loader, records, ["cell"], Strategy(env), cfg, None,
                    torch.contiguous_format)


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return make_voc(tmp_path_factory.mktemp("voc"), {
        "train": {"t": [("cell", (5, 5, 40, 40))]},
        "val": {"v": [("cell", ORDINARY), ("cell", DIFFICULT_FOUND, 1), ("cell", DIFFICULT_MISSED, 1)]},
    })


def test_difficult_boxes_are_ignored_by_the_metric(voc):
    ignored = _validate(voc, "ignore")
    assert ignored["mAP50"] == pytest.approx(1.0) and ignored["recall"] == pytest.approx(1.0)
    assert ignored["per_class"][0]["instances"] == 1


def test_other_policies_count_them(voc):
    trained = _validate(voc, "train")  # ordinary boxes: the missed one is a miss
    assert trained["recall"] == pytest.approx(2 / 3, abs=1e-3) and trained["per_class"][0]["instances"] == 3
    dropped = _validate(voc, "drop")  # gone: the detection on the found one is a false positive
    assert dropped["mAP50"] < 0.9 and dropped["per_class"][0]["instances"] == 1
    assert np.isfinite(dropped["mAP50-95"])
