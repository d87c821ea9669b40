"""The demo behind `make demo`: synthetic data -> health check -> augmented-batch picture -> train -> predict.

Runs on a laptop CPU in a few minutes; every step is a plain `turboyolo` command you can rerun.
"""
from __future__ import annotations

import shlex
import sys
import time

from turboyolo.cli import main

STEPS = [
    ("check the generated dataset", "check data=synthetic"),
    ("picture of augmented training samples", "show data=synthetic n=16 out=runs/demo/augmented_batch.png"),
    ("train a small detector from scratch", "train data=synthetic model=n imgsz=256 batch=16 nbs=16 epochs=10 close_mosaic=3 "
                                            "project=runs/demo name=train exist_ok=True"),
    ("validate the best checkpoint", "val weights=runs/demo/train/weights/best.pt data=synthetic imgsz=256 project=runs/demo/val"),
    ("predict on the validation images", "predict weights=runs/demo/train/weights/best.pt "
                                         "source=runs/demo/val_images project=runs/demo name=predict exist_ok=True"),
]


def _link_val_images() -> None:
    """Predict needs image files: point at the generated synthetic validation images."""
    from pathlib import Path

    from turboyolo.data.formats import load_dataset

    records = load_dataset("synthetic", verbose=False).split("val")[:8]
    folder = Path("runs/demo/val_images")
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records:
        link = folder / Path(rec.path).name
        if not link.exists():
            link.symlink_to(Path(rec.path).resolve())


def run() -> int:
    for title, command in STEPS:
        if command.startswith("predict"):
            _link_val_images()
        print(f"\n=== {title}: turboyolo {command}", flush=True)
        start = time.perf_counter()
        code = main(shlex.split(command))
        print(f"=== done in {time.perf_counter() - start:.1f} s (exit {code})", flush=True)
        if code not in (0,) and not command.startswith("check"):
            return code
    print("\nDemo finished: see runs/demo/ (train/results.csv, train/*.png, augmented_batch.png, predict/)")
    return 0


if __name__ == "__main__":
    sys.exit(run())
