"""Training-loader throughput on BCCD at imgsz 416 with mosaic on: cache none/ram x 0/1/2 workers.

    python benchmarks/loader.py [--data /work/shared/datasets/bccd/BCCD] [--epochs 3] [--batch 16] [--step-ms 300]

Uses the real build_dataloader. Each setting runs one warm-up epoch (worker start-up, page-cache
fill) and then ``--epochs`` timed epochs over the train split, the settings interleaved round by
round (the machine is shared, so load drifts); the table shows the median images/s. A second table feeds a simulated training step (a torch matmul loop on all cores taking
``--step-ms`` per batch) to show what workers buy when the model competes for the same cores - the
measurement behind the default worker count. Also times each augmentation stage in the main process (ms per sample). Prints a table
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


def calibrated_step(milliseconds: float):
    """A function that keeps torch's intra-op threads busy for about ``milliseconds`` (a fake train step)."""
    a = torch.randn(256, 256)
    start, rounds = time.perf_counter(), 0
    while time.perf_counter() - start < 0.2:
        a @ a
        rounds += 1
    per_round = 0.2 / rounds
    repeats = max(1, round(milliseconds / 1000 / per_round))

    def step(batch):
        for _ in range(repeats):
            a @ a
    return step


def epoch_with_step_images_per_second(loader, epoch: int, step) -> float:
    loader.set_epoch(epoch, total_epochs=1000)
    start, images = time.perf_counter(), 0
    for batch in loader:
        step(batch)
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
    parser.add_argument("--step-ms", type=float, default=300.0, help="simulated train step per batch (0 = skip)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    cfg = build_config({"data": args.data, "imgsz": 416, "batch": args.batch, "mosaic": 1.0, "verbose": False})
    records = load_dataset(cfg.data, verbose=False).split("train")
    start = time.perf_counter()
    cache = open_image_cache(records, build_config({**cfg, "cache": "ram"}))
    cache_build_s = time.perf_counter() - start

    worker_counts = [int(w) for w in args.workers.split(",")]
    settings = [(mode, w) for mode in ("none", "ram") for w in worker_counts]
    loaders = {(mode, w): build_dataloader(records, cfg, train=True, cache=cache if mode == "ram" else None, workers=w)
               for mode, w in settings}
    speeds = {key: [] for key in settings}
    for key, loader in loaders.items():
        epoch_images_per_second(loader, 0)  # warm-up: worker start, page cache
    # rounds interleave the settings, so drifting load from other processes hits each one alike
    for epoch in range(1, args.epochs + 1):
        for key, loader in loaders.items():
            speeds[key].append(epoch_images_per_second(loader, epoch))
    rows = [{"cache": mode, "workers": w, "images_per_second": statistics.median(speeds[(mode, w)]),
             "runs": speeds[(mode, w)]} for mode, w in settings]
    del loaders

    stepped = []
    if args.step_ms > 0:
        torch.set_num_threads(os.cpu_count() or 1)  # the model uses every core, as in training
        step = calibrated_step(args.step_ms)
        loaders = {w: build_dataloader(records, cfg, train=True, cache=cache, workers=w) for w in worker_counts}
        fixed_batch = next(iter(loaders[0]))
        alone, with_loader = [], {w: [] for w in worker_counts}
        for loader in loaders.values():
            epoch_with_step_images_per_second(loader, 0, step)
        for epoch in range(1, args.epochs + 1):
            start = time.perf_counter()
            for _ in range(len(loaders[0])):
                step(fixed_batch)
            alone.append(len(records) / (time.perf_counter() - start))
            for w, loader in loaders.items():
                with_loader[w].append(epoch_with_step_images_per_second(loader, epoch, step))
        stepped = [{"cache": "ram", "workers": w, "images_per_second": statistics.median(with_loader[w]),
                    "runs": with_loader[w]} for w in worker_counts]
        stepped.insert(0, {"cache": "ram", "workers": "step alone", "images_per_second": statistics.median(alone),
                           "runs": alone})
        del loaders
        torch.set_num_threads(1)
    stages = stage_ms(records, cfg, cache)

    print(f"\nloader throughput, BCCD train ({len(records)} images), imgsz 416, mosaic 1.0, batch {args.batch}, "
          f"median of {args.epochs} epochs, {os.cpu_count()} CPUs")
    print(f"{'cache':<6} {'workers':>7} {'images/s':>9}")
    for row in rows:
        print(f"{row['cache']:<6} {row['workers']:>7} {row['images_per_second']:>9.1f}")
    if stepped:
        print(f"\nwith a simulated ~{args.step_ms:.0f} ms train step per batch on all cores, cache=ram")
        print(f"{'workers':>10} {'images/s':>9}")
        for row in stepped:
            print(f"{row['workers']:>10} {row['images_per_second']:>9.1f}")
    print(f"\nRAM cache build: {cache_build_s:.2f} s for {cache.nbytes / 1e6:.0f} MB")
    print("\nper-sample stage cost, main process (ms):")
    for name, ms in stages.items():
        print(f"  {name:<26} {ms:6.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "data": args.data, "images": len(records), "imgsz": 416, "batch": args.batch, "mosaic": 1.0,
        "epochs_timed": args.epochs, "cpus": os.cpu_count(), "platform": platform.platform(),
        "torch": torch.__version__, "cache_build_s": cache_build_s, "cache_mb": cache.nbytes / 1e6,
        "results": rows, "step_ms": args.step_ms, "results_with_step": stepped, "stage_ms_per_sample": stages,
    }, indent=2))
    print(f"\nwrote {RESULTS}")
    cache.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
