"""Distributed validation (engine/validator.py) on 2 gloo ranks gives exactly the single-process result.

The validation set has an odd size, so the shards are uneven (9 and 8 images) and the last batches
are short: the case where a padded sampler would count an image twice. A third of the images are
wide and a third tall, so rect validation (rect_val=true) batches three input shapes.
"""
import hashlib
from pathlib import Path

import cv2

import numpy as np
import pytest
import torch
from torch import nn

from tests.distributed.toy import run_ranks
from turboyolo.config import build_config
from turboyolo.distributed.env import read_env
from turboyolo.distributed.strategy import Strategy

VAL_IMAGES = 17
BATCH = 3  # per rank: 3 + 3 + 3 on rank 0, 3 + 3 + 2 on rank 1
CLASSES = 3
IMGSZ = 128


def fingerprint(image: torch.Tensor) -> str:
    """Exact key of one (3, H, W) image in [0, 1] as the loader makes it (uint8 / 255)."""
    return hashlib.sha1((image * 255).round().to(torch.uint8).numpy().tobytes()).hexdigest()


class LookupDetector(nn.Module):
    """A stand-in for a trained detector with non-trivial metrics: per image, fixed raw predictions
    (A, 4 + classes) - noisy copies of the true boxes plus false positives - found by fingerprint."""

    def __init__(self, table: dict[str, torch.Tensor]):
        super().__init__()
        self.table = table

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 3, H, W) in [0, 1] -> (B, A, 4 + classes) xyxy network pixels + scores."""
        return torch.stack([self.table[fingerprint(image)] for image in images])


def lookup_detector(records, cfg) -> LookupDetector:
    from turboyolo.data.loader import build_dataloader

    anchors = 24
    table = {}
    for batch in build_dataloader(records, cfg, train=False, batch_size=1, cache=None):
        index = int(batch["indices"][0])
        gen = torch.Generator().manual_seed(index)
        scale, pad_x, pad_y = batch["scale_pad"][0].tolist()
        truth = torch.as_tensor(records[index].boxes) * scale + torch.tensor([pad_x, pad_y, pad_x, pad_y])
        pred = torch.zeros(anchors, 4 + CLASSES)
        n = min(len(truth), anchors // 2)
        pred[:n, :4] = truth[:n] + torch.randn(n, 4, generator=gen) * 2.0  # ~2 px of localisation error
        wrong_class = torch.rand(n, generator=gen) < 0.2
        classes = torch.as_tensor(records[index].classes[:n])
        classes = torch.where(wrong_class, (classes + 1) % CLASSES, classes)
        pred[torch.arange(n), 4 + classes] = torch.rand(n, generator=gen) * 0.7 + 0.3
        corners = torch.rand(anchors - n, 2, generator=gen) * 48
        pred[n:, :2], pred[n:, 2:4] = corners, corners + torch.rand(anchors - n, 2, generator=gen) * 16 + 2
        pred[n:, 4:] = torch.rand(anchors - n, CLASSES, generator=gen) * 0.5  # false positives
        table[fingerprint(batch["images"][0].float() / 255)] = pred
    return LookupDetector(table)


def yolo_with_detections() -> nn.Module:
    """The real detector, randomly initialised, with class biases at 0 so it emits many boxes."""
    from turboyolo.model.build import build_model

    torch.manual_seed(0)
    model = build_model("n", CLASSES).eval()
    with torch.no_grad():
        for tower in model.head.cls_towers:
            tower[-1].bias.zero_()
    return model


def _validate(cfg, env, strategy) -> dict:
    from turboyolo.data.formats import load_dataset
    from turboyolo.data.loader import build_dataloader
    from turboyolo.engine.validator import predict_shard, validate

    records = load_dataset(cfg.data, None, verbose=False).split("val")
    names = [f"class{c}" for c in range(CLASSES)]
    loader = build_dataloader(records, cfg, train=False, rank=env.rank, world_size=env.world_size,
                              batch_size=BATCH, cache=None)
    metrics = validate(lookup_detector(records, cfg), loader, records, names, strategy, cfg, None,
                       torch.contiguous_format)
    # the real network: every image's detections, whatever batch and rank it was predicted in
    local = predict_shard(yolo_with_detections(), loader, env.device, None, torch.contiguous_format, 0.001, cfg.iou,
                          cfg.max_det, False)
    gathered = strategy.gather_objects(local)
    detections = None if gathered is None else dict(item for part in gathered for item in part)
    shapes = {tuple(batch["images"].shape[2:]) for batch in loader}
    return {"metrics": metrics, "detections": detections, "images": len(local), "shapes": shapes}


@pytest.fixture(scope="module")
def val_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    data = generate_synthetic(tmp_path_factory.mktemp("val"), n_train=1, n_val=VAL_IMAGES, imgsz=64,
                              nc=CLASSES, seed=3)
    for index, image_path in enumerate(sorted((data.parent / "images" / "val").glob("*.jpg"))):
        if index % 3:  # 64x64 -> 64 high x 100 wide, or 100 x 64: rect inputs 96x128 and 128x96 at IMGSZ
            _pad_image(image_path, height=64 if index % 3 == 1 else 100, width=100 if index % 3 == 1 else 64)
    return str(data)


def _pad_image(image_path: Path, height: int, width: int) -> None:
    """Pad one synthetic image (bottom/right, black) to height x width and rewrite its YOLO labels."""
    image = cv2.imread(str(image_path))
    old_h, old_w = image.shape[:2]
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:old_h, :old_w] = image
    cv2.imwrite(str(image_path.with_suffix(".png")), canvas)
    image_path.unlink()
    label_path = Path(str(image_path.with_suffix(".txt")).replace("/images/", "/labels/"))
    rows = np.loadtxt(label_path, ndmin=2)
    rows[:, [1, 3]] *= old_w / width
    rows[:, [2, 4]] *= old_h / height
    np.savetxt(label_path, rows, fmt=["%d", "%.6f", "%.6f", "%.6f", "%.6f"])


def _cfg(data: str, **kw):
    return build_config({"data": data, "imgsz": IMGSZ, "workers": 0, "threads": 1, "plots": False, "device": "cpu", **kw})


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.parametrize("rect_val", [False, True])
def test_two_rank_validation_equals_single_process_exactly(val_data, rect_val):
    cfg = _cfg(val_data, rect_val=rect_val)
    single = _validate(cfg, read_env("cpu"), Strategy(read_env("cpu")))
    assert single["metrics"]["mAP50"] > 0.3  # non-trivial metrics, or the comparison proves nothing
    assert single["shapes"] == ({(128, 128), (96, 128), (128, 96)} if rect_val else {(128, 128)})
    ranks = run_ranks(_validate, 2, data=val_data, imgsz=IMGSZ, workers=0, plots=False, rect_val=rect_val)

    assert sorted(r["images"] for r in ranks) == [8, 9]  # uneven shards, no padding
    for r in ranks:  # every rank gets rank 0's metrics
        assert r["metrics"] == single["metrics"]
    gathered, alone = ranks[0]["detections"], single["detections"]
    assert sorted(gathered) == list(range(VAL_IMAGES))  # each image once
    assert sum(len(d) for d in alone.values()) > 0
    for index in alone:  # same boxes; a different batch composition may change conv sums by an ulp
        a, b = _canonical(gathered[index]), _canonical(alone[index])
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-4), index


def _canonical(dets: np.ndarray) -> np.ndarray:
    """Rows in a fixed order (class, x1, y1, x2, y2): near-equal scores may swap places between runs."""
    keys = np.round(dets[:, [5, 0, 1, 2, 3]], 2)
    return dets[np.lexsort(keys.T[::-1])]
