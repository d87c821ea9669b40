"""Validation time and mAP with square letterbox vs rect validation (rect_val=true), same checkpoint.

    python benchmarks/rect_val.py [--weights runs/bench/bccd/weights/best.pt] [--split val] [--repeats 5]

The checkpoint defaults to the one benchmarks/bccd.py trains (run that first). Both settings use
the real build_dataloader and engine/validator.validate in this process, one after the other round
by round (the machine's speed drifts), with the images already decoded in the RAM cache; the table
gives the median seconds per validation pass (prediction, NMS and COCO metrics) and the metrics,
which must agree closely: rect only trims grey padding. Writes benchmarks/results/rect_val.json.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from turboyolo.config import build_config
from turboyolo.data.formats import load_dataset
from turboyolo.data.image_cache import open_image_cache
from turboyolo.data.loader import build_dataloader
from turboyolo.distributed.env import read_env
from turboyolo.distributed.strategy import Strategy
from turboyolo.engine.checkpoint import eval_model, load_checkpoint
from turboyolo.engine.checkpoint_settings import adopt_checkpoint_settings
from turboyolo.engine.validator import validate
from turboyolo.perf.hardware import describe_machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "rect_val.json"


def input_pixels(loader) -> int:
    """Network-input pixels of one pass over the loader (what the convolutions pay for)."""
    shapes = loader.dataset.input_shapes()
    return int((shapes[:, 0] * shapes[:, 1]).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=ROOT / "runs" / "bench" / "bccd" / "weights" / "best.pt")
    parser.add_argument("--split", default="val")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    if not args.weights.is_file():
        raise SystemExit(f"no checkpoint at {args.weights}: run `python benchmarks/bccd.py` first or pass --weights")

    from turboyolo.perf.report import print_table, write_json

    torch.set_num_threads(max(1, len(__import__("os").sched_getaffinity(0))))
    memory_format = torch.channels_last
    ckpt = load_checkpoint(args.weights)
    model = eval_model(ckpt, "cpu", memory_format)
    cfg = build_config({"batch": args.batch, "workers": 0, "cache": "ram", "plots": False, "device": "cpu",
                        "verbose": False})
    adopt_checkpoint_settings(cfg, ckpt, ("data", "imgsz"), args.weights)  # as trained, validated
    records = load_dataset(cfg.data, cfg.cache_dir, verbose=False).split(args.split)
    cache = open_image_cache(records, cfg)
    env = read_env("cpu")
    strategy = Strategy(env)
    settings = {"square letterbox": False, "rect_val": True}
    loaders = {}
    for label, rect in settings.items():
        cfg_rect = build_config({**cfg, "rect_val": rect})
        loaders[label] = build_dataloader(records, cfg_rect, train=False, batch_size=args.batch, cache=cache)
    print(f"benchmarks/rect_val.py: {args.weights} on {len(records)} {args.split} images of {cfg.data}, imgsz "
          f"{cfg.imgsz}, batch {args.batch}, {torch.get_num_threads()} threads, median of {args.repeats}", flush=True)

    seconds: dict[str, list[float]] = {label: [] for label in settings}
    metrics = {}
    validate(model, loaders["square letterbox"], records, ckpt["names"], strategy, cfg, None, memory_format)  # warm-up
    for round_index in range(args.repeats):
        for label, loader in loaders.items():
            started = time.perf_counter()
            metrics[label] = validate(model, loader, records, ckpt["names"], strategy, cfg, None, memory_format)
            seconds[label].append(time.perf_counter() - started)
            print(f"  round {round_index + 1}: {label}: {seconds[label][-1]:.2f} s", flush=True)

    base = statistics.median(seconds["square letterbox"])
    rows, figures = [], {}
    for label, loader in loaders.items():
        median = statistics.median(seconds[label])
        figures[label] = {"median_s": median, "runs_s": seconds[label], "speedup": base / median,
                          "batches": len(loader), "input_megapixels": input_pixels(loader) / 1e6,
                          **{k: metrics[label][k] for k in ("precision", "recall", "mAP50", "mAP50-95")}}
        f = figures[label]
        rows.append([label, f"{median:.2f}", f"{len(records) / median:.1f}", f"{f['speedup']:.2f}x", f["batches"],
                     f"{f['input_megapixels']:.1f}", f"{f['mAP50']:.4f}", f"{f['mAP50-95']:.4f}"])
    print_table("validation pass (prediction + NMS + metrics), median seconds",
                ["setting", "seconds", "images/s", "speedup", "batches", "input Mpx", "mAP50", "mAP50-95"], rows)
    write_json(RESULTS, {"machine": f"{describe_machine()}, {torch.get_num_threads()} threads", "weights": str(args.weights),
                         "split": args.split, "images": len(records), "imgsz": cfg.imgsz, "batch": args.batch,
                         "settings": figures})
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
