"""Pruning and distillation on BCCD: parameters, GFLOPs, CPU ms/img and val mAP of a trained model,
right after `turboyolo prune`, and after fine-tuning (`turboyolo train model=pruned.pt`).

    python benchmarks/compress_prune_distill.py --weights runs/train/exp/weights/best.pt \
        [--ratios 0.3,0.5] [--method l1] [--epochs 10] [--distill-epochs 10] [--nbs 64] [--threads 1]

Rows: the unpruned model; the same model fine-tuned --epochs more (the control: a pruned model
that ends above it has gained from pruning, not from the extra epochs); for each ratio the pruned
model before and after --epochs of fine-tuning. With --distill-epochs, the most pruned model is
also fine-tuned with the unpruned model as its teacher (teacher=, distill=, distill_t=), and the
teacher's extra seconds per epoch are reported. Every figure comes from the real commands: prune
via `turboyolo prune`, training via Trainer, mAP via `turboyolo val` (val split).
Latency: fused eval model, batch 1, channels_last, --imgsz, median of --repeats after warm-up,
the models timed round-robin so that a busy machine slows them alike.
Writes benchmarks/results/compress_prune_distill.json.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import re
import statistics
import sys
import time
from pathlib import Path

import torch

from turboyolo.cli import main as turboyolo
from turboyolo.config import build_config
from turboyolo.engine.checkpoint import eval_model, load_checkpoint
from turboyolo.engine.trainer import Trainer
from turboyolo.model.build import build_model
from turboyolo.perf.flops import count_params, inference_flops_per_image
from turboyolo.perf.hardware import describe_machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def val_map(weights: Path, data: str) -> tuple[float, float]:
    """(mAP50, mAP50-95) on the val split, as `turboyolo val weights=... data=...` prints them."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = turboyolo(["val", f"weights={weights}", f"data={data}", "workers=1", "plots=false",
                          f"project={weights.parent / 'val'}"])
    found = re.search(r"mAP50 ([0-9.]+)\s+mAP50-95 ([0-9.]+)", printed.getvalue())
    if code != 0 or not found:
        raise RuntimeError(f"turboyolo val {weights} failed:\n{printed.getvalue()[-2000:]}")
    return float(found[1]), float(found[2])


def fine_tune(start: Path, args, epochs: int, project: Path, name: str, **keys) -> tuple[Path, float]:
    """`turboyolo train model=start epochs=...` -> (best.pt, median training seconds per epoch)."""
    cfg = build_config(dict(data=args.data, model=str(start), epochs=epochs, imgsz=args.imgsz, nbs=args.nbs, workers=1,
                            warmup_epochs=1, project=str(project), name=name, exist_ok=True, plots=False,
                            verbose=False, **keys))
    started = time.perf_counter()
    summary = Trainer(cfg).fit()
    rows = list(csv.DictReader((Path(summary["run_dir"]) / "results.csv").open()))
    print(f"  {name}: {epochs} epochs in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return Path(summary["run_dir"]) / "weights" / "best.pt", statistics.median(float(r["epoch_s"]) for r in rows)


def cpu_latency_ms(weights: dict[str, Path], imgsz: int, threads: int, repeats: int) -> dict[str, float]:
    """Median ms per image (batch 1) of each checkpoint, timed round-robin."""
    torch.set_num_threads(threads)
    models = {label: eval_model(load_checkpoint(path), "cpu", torch.channels_last) for label, path in weights.items()}
    image = torch.rand(1, 3, imgsz, imgsz).contiguous(memory_format=torch.channels_last)
    times: dict[str, list[float]] = {label: [] for label in models}
    with torch.inference_mode():
        for model in models.values():
            for _ in range(3):
                model(image)
        for _ in range(repeats):
            for label, model in models.items():
                start = time.perf_counter()
                model(image)
                times[label].append(time.perf_counter() - start)
    return {label: 1000 * statistics.median(values) for label, values in times.items()}


def size_figures(path: Path, imgsz: int) -> tuple[float, float]:
    """(parameters in millions, inference GFLOPs per image) of a checkpoint, BatchNorm not folded."""
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["spec"], len(ckpt["names"]))
    return count_params(model) / 1e6, inference_flops_per_image(model, imgsz) / 1e9


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="a trained checkpoint (the report: BCCD, model n, imgsz 416)")
    parser.add_argument("--data", default=None, help="default: the dataset the checkpoint was trained on")
    parser.add_argument("--ratios", default="0.3,0.5")
    parser.add_argument("--method", default="l1", choices=["l1", "bn", "taylor"])
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs after pruning")
    parser.add_argument("--distill-epochs", type=int, default=0, help="0: no distillation rows")
    parser.add_argument("--distill", type=float, default=1.0)
    parser.add_argument("--distill-t", type=float, default=1.0)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--nbs", type=int, default=64,
                        help="fine-tuning nominal batch (64 = the default; 16 = 4x more optimizer steps in a short run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--project", default="runs/compress")
    args = parser.parse_args(argv)
    project = Path(args.project).absolute()
    project.mkdir(parents=True, exist_ok=True)
    base = Path(args.weights).absolute()
    args.data = args.data or str(load_checkpoint(base)["args"]["data"])
    ratios = [float(r) for r in args.ratios.split(",")]
    started = time.perf_counter()

    rows: dict[str, dict] = {}  # label -> {"weights", "mAP50", "mAP50-95", ...}

    def add(label: str, weights: Path, **extra) -> None:
        map50, map5095 = val_map(weights, args.data)
        rows[label] = {"weights": str(weights), "mAP50": map50, "mAP50-95": map5095, **extra}
        print(f"  {label}: mAP50 {map50:.3f}  mAP50-95 {map5095:.3f}", flush=True)

    add("unpruned", base)
    control, control_epoch_s = fine_tune(base, args, args.epochs, project, "unpruned-ft")
    add(f"unpruned +{args.epochs} ep", control, epoch_s=control_epoch_s)
    for ratio in ratios:
        pruned = project / f"pruned{ratio}.pt"
        assert turboyolo(["prune", f"weights={base}", f"ratio={ratio}", f"method={args.method}", f"out={pruned}",
                          "exist_ok=true", "verbose=false"]) == 0
        add(f"{ratio} pruned", pruned)
        tuned, epoch_s = fine_tune(pruned, args, args.epochs, project, f"pruned{ratio}-ft")
        add(f"{ratio} +{args.epochs} ep", tuned, epoch_s=epoch_s)
    if args.distill_epochs:
        ratio = max(ratios)
        pruned = project / f"pruned{ratio}.pt"
        plain_label = f"{ratio} +{args.distill_epochs} ep"
        if plain_label not in rows:  # the same fine-tuning without a teacher, unless done above
            plain, plain_s = fine_tune(pruned, args, args.distill_epochs, project, f"pruned{ratio}-plain")
            add(plain_label, plain, epoch_s=plain_s)
        plain_s = rows[plain_label]["epoch_s"]
        taught, taught_s = fine_tune(pruned, args, args.distill_epochs, project, f"pruned{ratio}-kd",
                                     teacher=str(base), distill=args.distill, distill_t=args.distill_t)
        add(f"{ratio} +{args.distill_epochs} ep KD", taught, epoch_s=taught_s, teacher_extra_s_per_epoch=taught_s - plain_s)

    latency = cpu_latency_ms({label: Path(row["weights"]) for label, row in rows.items()}, args.imgsz,
                             args.threads, args.repeats)
    for label, row in rows.items():
        row["params_M"], row["gflops"] = size_figures(Path(row["weights"]), args.imgsz)
        row["cpu_ms_per_img"] = latency[label]
    reference_ms = rows["unpruned"]["cpu_ms_per_img"]

    machine = f"{describe_machine()}, {torch.get_num_threads()} thread(s) for latency"
    print(f"\n{Path(args.data).name} val split ({args.method} pruning, imgsz {args.imgsz}); {machine}")
    print(f"{'model':<22} {'params M':>8} {'GFLOPs':>7} {'ms/img':>7} {'speed-up':>8} {'mAP50':>6} {'mAP50-95':>8}")
    for label, row in rows.items():
        print(f"{label:<22} {row['params_M']:>8.2f} {row['gflops']:>7.2f} {row['cpu_ms_per_img']:>7.1f} "
              f"{reference_ms / row['cpu_ms_per_img']:>7.2f}x {row['mAP50']:>6.3f} {row['mAP50-95']:>8.3f}")
    for label, row in rows.items():
        if "teacher_extra_s_per_epoch" in row:
            print(f"{label}: the teacher adds {row['teacher_extra_s_per_epoch']:.0f} s per training epoch")
    result = {"machine": machine, "args": vars(args), "rows": rows, "total_min": (time.perf_counter() - started) / 60}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compress_prune_distill.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
