"""BCCD from scratch: `model=n imgsz=416 batch=16`, 25 epochs; per-epoch seconds, images/s, val mAP.

The reference figures (same machine, same settings) are those of the most used YOLO trainer:
about 40-47 s per training epoch of 205 images and val mAP50 0.68 / mAP50-95 0.42 after 25 epochs.

usage: python benchmarks/bccd.py [epochs=25] [any train key=value ...]
"""
from __future__ import annotations

import csv
import json
import statistics
import sys
import time
from pathlib import Path

from turboyolo.config import build_config, split_overrides
from turboyolo.engine.trainer import Trainer
from turboyolo.perf.hardware import describe_machine

BCCD = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "bccd" / "BCCD"
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str]) -> int:
    _, overrides = split_overrides(argv)
    settings = {"data": str(BCCD), "model": "n", "imgsz": 416, "batch": 16, "epochs": 25, "workers": 2,
                "cache": "ram", "project": "runs/bench", "name": "bccd", "exist_ok": True, "close_mosaic": 10}
    settings.update(overrides)
    cfg = build_config(settings)
    started = time.perf_counter()
    summary = Trainer(cfg).fit()
    total_s = time.perf_counter() - started
    rows = list(csv.DictReader((Path(summary["run_dir"]) / "results.csv").open()))
    print(f"\n{'epoch':>5} {'epoch_s':>8} {'img/s':>7} {'data%':>6} {'mAP50':>7} {'mAP50-95':>9}")
    for r in rows:
        print(f"{r['epoch']:>5} {float(r['epoch_s']):>8.1f} {float(r['images_per_s']):>7.1f} "
              f"{100 * float(r['data_wait_share']):>5.0f}% {float(r.get('mAP50') or 0):>7.3f} {float(r.get('mAP50-95') or 0):>9.3f}")
    epoch_s = [float(r["epoch_s"]) for r in rows]
    result = {
        "machine": describe_machine(),
        "settings": settings, "epochs": len(rows), "total_s": total_s,
        "median_epoch_s": statistics.median(epoch_s), "median_images_per_s": statistics.median(float(r["images_per_s"]) for r in rows),
        "final_mAP50": float(rows[-1].get("mAP50") or 0), "final_mAP50-95": float(rows[-1].get("mAP50-95") or 0),
        "best_mAP50": max(float(r.get("mAP50") or 0) for r in rows),
    }
    print(f"\nmedian training epoch {result['median_epoch_s']:.1f} s ({result['median_images_per_s']:.1f} img/s), "
          f"total {total_s / 60:.1f} min; final val mAP50 {result['final_mAP50']:.3f}, mAP50-95 {result['final_mAP50-95']:.3f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bccd.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
