"""Training-loader throughput on BCCD at imgsz 416 with mosaic on: cache none/ram x 0/1/2 workers.

    python benchmarks/loader.py [--data /work/shared/datasets/bccd/BCCD] [--epochs 3] [--batch 16]

Uses the real build_dataloader. Each setting runs one warm-up epoch (worker start-up, page-cache
fill) and then ``--epochs`` timed epochs over the train split; the table shows the median
images/s. Also times each augmentation stage in the main process (ms per sample). Prints a table
and writes benchmarks/results/loader.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from turboyolo.config import build_config
from turboyolo.data.augment.affine import random_affine
from turboyolo.data.augment.flip import random_flip
from turboyolo.data.augment.hsv import random_hsv
from turboyolo.data.augment.mosaic import mosaic4
from turboyolo.data.augment.params import AugmentParams
from turboyolo.data.dataset import DetectionDataset
from turboyolo.data.formats import load_dataset
from turboyolo.data.image_cache import open_image_cache, read_resized
from turboyolo.data.loader import build_dataloader, collate_detection

RESULTS = Path(__file__).resolve().parent / "results" / "loader.json"


def epoch_images_per_second(loader, epoch: int) -> float:
    loader.set_epoch(epoch, total_epochs=1000)
    start, images = time.perf_counter(), 0
    for batch in loader:
        images += len(batch["images"])
    return images / (time.perf_counter() - start)


def stage_ms(records, cfg, cache, samples: int = 100) -> dict[str, float]:
    """Milliseconds per training sample spent in each stage (main process, one thread)."""
    dataset = DetectionDataset.from_config(records, cfg, train=True, cache=cache)
    params, size = AugmentParams.from_config(cfg), dataset.input_size
    rng = np.random.default_rng(0)
    timings = {name: 0.0 for name in ("decode+resize (no cache)", "cache read", "mosaic", "affine", "hsv", "flip+CHW",
                                      "collate (per image)")}

    def timed(name, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        timings[name] += time.perf_counter() - start
        return out

    for i in range(samples):
        index = i % len(records)
        record = records[index]
        timed("decode+resize (no cache)", read_resized, record.path, record.width, record.height, cfg.imgsz)
        four = [timed("cache read", dataset.load, (index + k) % len(records)) for k in range(4)]
        canvas, boxes, visible, classes = timed("mosaic", mosaic4, four, rng, size)
        image, boxes, classes = timed("affine", random_affine, canvas, boxes, classes, rng, (size, size), params, visible)
        image = timed("hsv", random_hsv, image, rng, params.hsv_h, params.hsv_s, params.hsv_v)
        timed("flip+CHW", lambda im, b: np.ascontiguousarray(random_flip(im, b, rng, 0.5, 0)[0].transpose(2, 0, 1)),
              image, boxes)
    batch = [dataset[i % len(records)] for i in range(16)]
    start = time.perf_counter()
    for _ in range(samples // 16 or 1):
        collate_detection(batch)
    timings["collate (per image)"] = (time.perf_counter() - start) / ((samples // 16 or 1) * 16) * samples
    return {name: 1000 * total / samples for name, total in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/work/shared/datasets/bccd/BCCD")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per setting (median reported)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", default="0,1,2")
    args = parser.parse_args()
    torch.set_num_threads(1)

    cfg = build_config({"data": args.data, "imgsz": 416, "batch": args.batch, "mosaic": 1.0, "verbose": False})
    records = load_dataset(cfg.data, verbose=False).split("train")
    start = time.perf_counter()
    cache = open_image_cache(records, build_config({**cfg, "cache": "ram"}))
    cache_build_s = time.perf_counter() - start

    rows = []
    for cache_mode in ("none", "ram"):
        for workers in (int(w) for w in args.workers.split(",")):
            loader = build_dataloader(records, cfg, train=True, cache=cache if cache_mode == "ram" else None,
                                      workers=workers)
            epoch_images_per_second(loader, 0)  # warm-up: worker start, page cache
            speeds = [epoch_images_per_second(loader, e) for e in range(1, args.epochs + 1)]
            rows.append({"cache": cache_mode, "workers": workers, "images_per_second": statistics.median(speeds),
                         "runs": speeds})
            del loader
            print(f"  cache={cache_mode:<4} workers={workers}: {rows[-1]['images_per_second']:.1f} images/s", flush=True)
    stages = stage_ms(records, cfg, cache)

    print(f"\nloader throughput, BCCD train ({len(records)} images), imgsz 416, mosaic 1.0, batch {args.batch}, "
          f"median of {args.epochs} epochs, {os.cpu_count()} CPUs")
    print(f"{'cache':<6} {'workers':>7} {'images/s':>9}")
    for row in rows:
        print(f"{row['cache']:<6} {row['workers']:>7} {row['images_per_second']:>9.1f}")
    print(f"\nRAM cache build: {cache_build_s:.2f} s for {cache.nbytes / 1e6:.0f} MB")
    print("\nper-sample stage cost, main process (ms):")
    for name, ms in stages.items():
        print(f"  {name:<26} {ms:6.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "data": args.data, "images": len(records), "imgsz": 416, "batch": args.batch, "mosaic": 1.0,
        "epochs_timed": args.epochs, "cpus": os.cpu_count(), "platform": platform.platform(),
        "torch": torch.__version__, "cache_build_s": cache_build_s, "cache_mb": cache.nbytes / 1e6,
        "results": rows, "stage_ms_per_sample": stages,
    }, indent=2))
    print(f"\nwrote {RESULTS}")
    cache.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
