"""`turboyolo show data=DATA n=16 out=FILE.png`: look at what the model will be trained on."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from turboyolo.data.dataset import DetectionDataset
from turboyolo.data.formats import load_dataset
from turboyolo.plots.boxes_grid import save_boxes_grid


def run(cfg, positional: list[str]) -> int:
    """Write a grid of ``cfg.n`` augmented training samples (epoch 0 augmentation) to cfg.out.

    A positional word "val" shows validation samples (letterbox only) instead.
    """
    data = load_dataset(cfg.data, cfg.cache_dir, verbose=cfg.verbose)
    train = "val" not in positional
    records = data.split("train" if train else "val")
    dataset = DetectionDataset.from_config(records, cfg, train=train)
    dataset.set_epoch(0)
    count = min(int(cfg.n), len(dataset))
    picks = np.random.default_rng(cfg.seed).choice(len(dataset), count, replace=False)
    samples = [dataset[int(i)] for i in picks]
    out = Path(cfg.out or "runs/show.png")
    save_boxes_grid(out, [s["image"] for s in samples], [s["boxes"] for s in samples],
                    [s["classes"] for s in samples], data.names, titles=[Path(s["path"]).name for s in samples])
    boxes = sum(len(s["boxes"]) for s in samples)
    print(f"show: {count} {'augmented training' if train else 'validation'} samples, {boxes} boxes -> {out}")
    return 0
