"""DDP scaling efficiency measured against machine drift: 1 process vs 2 DDP processes, alternating
every few steps inside the same two processes.

    python benchmarks/ddp_overhead.py [--imgsz 128,320] [--batch 8] [--rounds 10] [--steps 6]

Why not separate runs: on this (virtualised, shared) 2-core machine the speed of a core drifts by
10-20% over tens of seconds, more than the overhead being measured; a 1-process run and a
2-process run made one after the other mostly measure that drift (benchmarks/dist.py repeats and
takes medians, and its DDP efficiency still moved between 0.72 and 0.98 from one repetition to the
next). Here one torchrun job with 2 ranks (1 torch thread each) repeats, round after round, phases
of `--steps` optimizer steps each:

  solo   rank 0 trains a plain copy of the model, rank 1 waits in a barrier: the 1-process baseline
  apart  both ranks train their own plain copy at once, no communication: the ceiling the shared
         cores (memory bandwidth, caches, other jobs) leave for any 2-process run
  ddp... both ranks train a DistributedDataParallel copy (gradient all-reduce), one phase per variant

Efficiency of a phase = its images/s / (2 x solo images/s) in the same round; the median over rounds
is reported. Each phase is timed on rank 0 from one barrier to the next (a 2-process step is as slow
as its slower rank). Real model, loss and optimizer (AdamW); every phase trains on the same `--steps` loader batches
per rank (synthetic set, mosaic), decoded once beforehand: the work of a phase does not depend on
which images it drew (the assigner's cost grows with the boxes per image), and loading, which is
the same for 1 and 2 processes (4% of a step, benchmarks/dist.py), is left out. The same per-rank
batch in every phase (weak scaling, as in benchmarks/dist.py).
Writes benchmarks/results/ddp_overhead.json. The script is also its own torchrun worker.
"""
from __future__ import annotations

import argparse
import atexit
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ddp_overhead.json"

# DDP variants, each its own phase: label -> DistributedDataParallel keyword arguments + hook
DDP_VARIANTS = {
    "ddp (defaults)": {},
    "ddp broadcast_buffers=false": {"broadcast_buffers": False},
    "ddp grad_compression=fp16": {"hook": "fp16"},
    "ddp bucket_cap_mb=4": {"bucket_cap_mb": 4.0},
}


# --- worker: both ranks, all phases -------------------------------------------------------------
def _batches(cfg, rank: int, world: int, data: str, count: int) -> list:
    """This rank's first `count` training batches (images already float, channels_last)."""
    import torch

    from turboyolo.data.formats import load_dataset
    from turboyolo.data.image_cache import open_image_cache
    from turboyolo.data.loader import build_dataloader
    from turboyolo.engine.model_input import to_model_input

    records = load_dataset(data, verbose=False).split("train")
    loader = build_dataloader(records, cfg, train=True, rank=rank, world_size=world, batch_size=cfg.batch,
                              cache=open_image_cache(records, cfg), workers=0)
    loader.set_epoch(0, 100)
    batches = []
    for batch in loader:
        batches.append((to_model_input(batch["images"], torch.device("cpu"), torch.channels_last), batch["targets"]))
        if len(batches) == count:
            return batches
    raise ValueError(f"need {count} batches per rank, the set gives {len(batches)}")


def _trainable(model, cfg):
    """The trainer's own TrainStep around `model` (plain or DDP-wrapped), with its loss and optimizer."""
    import torch

    from turboyolo.distributed.env import DistEnv
    from turboyolo.distributed.strategy import Strategy
    from turboyolo.engine.optim import build_optimizer
    from turboyolo.engine.train_step import DetectionTask, TrainStep
    from turboyolo.loss.detection_loss import DetectionLoss

    plain = model.module if hasattr(model, "module") else model
    loss_fn = DetectionLoss.from_config(plain, cfg)
    optimizer = build_optimizer(plain, "adamw", 1e-3, 0.9, 5e-4)
    # the base Strategy: DDP already averages in backward; the step adds the trainer's finite-norm check
    return TrainStep(Strategy(DistEnv()), model, DetectionTask(loss_fn, torch.device("cpu"), None), optimizer,
                     model=plain)


def _train_steps(runner, batches: list) -> None:
    for step, (images, targets) in enumerate(batches):
        runner.micro(images, targets)
        runner.step(step + 1)


def worker(out: Path, imgsz: int, batch: int, rounds: int, steps: int, data: str) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    from torch.nn.parallel import DistributedDataParallel

    from turboyolo.config import build_config
    from turboyolo.model.build import build_model

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    cfg = build_config({"imgsz": imgsz, "batch": batch, "workers": 0, "cache": "ram", "data": data})
    torch.manual_seed(0)
    base = build_model("n", 3).to(memory_format=torch.channels_last).train()
    batches = _batches(cfg, rank, world, data, steps)
    plain = _trainable(copy.deepcopy(base), cfg)
    variants = {}
    for label, options in DDP_VARIANTS.items():
        options = dict(options)
        hook = options.pop("hook", None)
        ddp = DistributedDataParallel(copy.deepcopy(base), **options)
        if hook == "fp16":
            ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
        variants[label] = _trainable(ddp, cfg)

    def timed(run) -> float:
        dist.barrier()
        started = time.perf_counter()
        run()
        dist.barrier()
        return time.perf_counter() - started

    # one warm-up round (allocator, DDP bucket rebuild on the first iterations), then timed rounds
    phases = {"solo": lambda: _train_steps(plain, batches) if rank == 0 else None,
              "apart": lambda: _train_steps(plain, batches)}
    phases.update({label: (lambda t=t: _train_steps(t, batches)) for label, t in variants.items()})
    seconds: dict[str, list[float]] = {label: [] for label in phases}
    for round_index in range(rounds + 1):
        for label, run in phases.items():
            elapsed = timed(run)
            if round_index > 0:
                seconds[label].append(elapsed)
    if rank == 0:
        images = {label: steps * batch * (1 if label == "solo" else world) for label in phases}
        out.write_text(json.dumps({"seconds": seconds, "images_per_phase": images}))
    dist.destroy_process_group()


# --- driver -------------------------------------------------------------------------------------
def summarise(raw: dict) -> dict:
    """Per-round efficiencies (phase img/s over 2 x solo img/s of the same round) and their medians."""
    seconds, images = raw["seconds"], raw["images_per_phase"]
    solo_rates = [images["solo"] / s for s in seconds["solo"]]
    out = {"solo_images_per_s": statistics.median(solo_rates), "phases": {}}
    for label, times in seconds.items():
        if label == "solo":
            continue
        rates = [images[label] / s for s in times]
        eff = [rate / (2 * solo) for rate, solo in zip(rates, solo_rates)]
        out["phases"][label] = {"images_per_s": statistics.median(rates), "efficiency_median": statistics.median(eff),
                                "efficiency_rounds": eff}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imgsz", default="128,320", help="comma-separated image sizes, one job each")
    parser.add_argument("--batch", type=int, default=8, help="images per process per step")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per phase")
    args = parser.parse_args()

    from turboyolo.data.synth import ensure_synthetic
    from turboyolo.perf.report import print_table, write_json

    started, load_before = time.time(), os.getloadavg()[0]
    results = {}
    for imgsz in [int(x) for x in args.imgsz.split(",")]:
        data = str(ensure_synthetic(None, n_train=256, n_val=8, imgsz=imgsz, nc=3, seed=0))
        out = Path(tempfile.mkdtemp(prefix="turboyolo-ddp-overhead-")) / "raw.json"
        atexit.register(shutil.rmtree, out.parent, ignore_errors=True)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(Path(__file__).resolve()), "--worker", str(out), str(imgsz), str(args.batch), str(args.rounds),
               str(args.steps), data]
        done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        if done.returncode != 0 or not out.is_file():
            raise RuntimeError(f"imgsz {imgsz} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
        raw = json.loads(out.read_text())
        results[str(imgsz)] = {**summarise(raw), "raw": raw}
        summary = results[str(imgsz)]
        print_table(f"model n, imgsz {imgsz}, {args.batch} images/process/step, 1 thread/process, median of "
                    f"{args.rounds} rounds of {args.steps} steps per phase; 1 process alone: "
                    f"{summary['solo_images_per_s']:.1f} img/s",
                    ["phase (2 processes)", "images/s", "efficiency (median)", "min..max over rounds"],
                    [[label, p["images_per_s"], p["efficiency_median"],
                      f"{min(p['efficiency_rounds']):.2f}..{max(p['efficiency_rounds']):.2f}"]
                     for label, p in summary["phases"].items()])
    figures = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                           "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
                           "wall_s": time.time() - started},
               "settings": vars(args), "results": results}
    print(f"wrote {write_json(RESULTS, figures)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        out, imgsz, batch, rounds, steps, data = sys.argv[2:8]
        worker(Path(out), int(imgsz), int(batch), int(rounds), int(steps), data)
    else:
        main()
