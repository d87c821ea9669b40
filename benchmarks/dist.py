"""Data-parallel throughput on this machine: 1 process vs 2 processes, for every sync strategy.

    python benchmarks/dist.py [--imgsz 128] [--batch 8] [--warmup 2] [--steps 8] [--repeats 3]

Each setting is a real `Trainer` run under torchrun (`--standalone --nproc_per_node N`) on a
synthetic set, with 1 torch thread and 0 loader workers per process, so N processes use N cores
and the comparison is fair on a small CPU. The per-process batch is the same in every run (2
processes do twice the work per step: weak scaling). Rank 0 times every optimizer step through an
`on_optimizer_step` callback; the first `--warmup` steps (allocator, FSDP/DTensor first-call costs)
are dropped and images/s is the images of the timed steps over their wall time (so local SGD's
averaging every `period` steps is counted: keep --steps a multiple of 4). Settings run interleaved,
round by round, `--repeats` times, and the table shows the median run, so a burst of load from
other jobs on the shared machine moves it less; the median single step time is shown too. With
accumulate=4 each optimizer step is 4 micro-steps, so those runs time --steps / 2. The trainer's own
StepTimer (reset after the warm-up) gives the exposed-communication share: gradient communication
the backward pass had to wait for (DDP and local SGD hooks; FSDP and ZeRO's parameter
broadcasts run inside forward/backward/optimizer and are not split out).

scaling efficiency = (2-process images/s) / (2 x 1-process images/s), each strategy against the
1-process run with the same accumulation. A control row runs two unrelated 1-process trainings at
the same time: no communication at all, so its efficiency is the ceiling the shared cores (and
memory bandwidth, and other jobs on the machine) leave for any 2-process strategy. Prints a table and writes benchmarks/results/dist.json.
The script is also its own torchrun worker (`--worker OUT key=value ...`).

Separate runs made one after the other also measure the drift of this virtualised machine's core
speed (10-20% over tens of seconds): read the efficiencies here as a comparison of strategies, and
benchmarks/ddp_overhead.py (1 process, 2 apart and 2 DDP processes alternating inside one job) for
the DDP scaling efficiency itself.
"""
from __future__ import annotations

import argparse
import atexit
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

RESULTS = Path(__file__).resolve().parent / "results" / "dist.json"

# (label, extra trainer keys, accumulation): one 2-process run each; "1 process" rows are baselines
STRATEGIES = [
    ("ddp", ["sync=ddp"], 1),
    ("ddp accumulate=4 (no_sync)", ["sync=ddp"], 4),
    ("ddp grad_compression=fp16", ["sync=ddp", "grad_compression=fp16"], 1),
    ("ddp grad_compression=powersgd", ["sync=ddp", "grad_compression=powersgd"], 1),
    ("localsgd period=4", ["sync=localsgd", "period=4", "localsgd_warmup=0"], 1),  # local from the first step
    ("zero", ["sync=zero"], 1),
    ("fsdp", ["sync=fsdp"], 1),
]
# two unrelated 1-process runs at the same time: no communication at all, only the shared cores
CONTROL = "2 independent 1-process runs (no comm)"


COMM_TIMED = ("ddp", "localsgd", "zero")  # strategies whose gradient hooks time the exposed communication


# --- worker: one rank of one run --------------------------------------------------------------
class StepClock:
    """on_optimizer_step callback: wall time of every optimizer step on this rank (host clock)."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.stamps: list[float] = []

    def __call__(self, trainer) -> None:
        self.stamps.append(time.perf_counter())
        if len(self.stamps) == self.warmup:
            trainer.setup.timer.reset()  # the trainer's phase totals count only the timed steps


def worker(out: Path, warmup: int, pairs: dict) -> None:
    from turboyolo.config import build_config
    from turboyolo.engine.trainer import Trainer

    clock = StepClock(warmup)
    trainer = Trainer(build_config(pairs), callbacks={"on_optimizer_step": [clock]})
    trainer.fit()
    s = trainer.setup
    if not s.env.is_main:
        return
    timing = s.timer.summary()  # totals since the reset after the warm-up steps
    steps = [b - a for a, b in zip(clock.stamps[warmup - 1:], clock.stamps[warmup:])]
    images_per_step = s.derived.global_batch * s.derived.micro_steps_per_step
    row = {"world_size": s.env.world_size, "strategy": s.strategy.name, "images_per_step": images_per_step,
           "timed_steps": len(steps), "step_s_median": statistics.median(steps),
           "images_per_s": images_per_step * len(steps) / sum(steps),
           "images_per_s_of_median_step": images_per_step / statistics.median(steps),
           **{k: timing.get(k, 0.0) for k in ("exposed_comm_share", "exposed_comm_s", "data_wait_share", "forward_s",
                                                "backward_s", "optimizer_s", "data_s")}}
    out.write_text(json.dumps(row))


# --- driver -----------------------------------------------------------------------------------
def benchmark_data(imgsz: int, images: int) -> str:
    from turboyolo.data.synth import ensure_synthetic

    return str(ensure_synthetic(None, n_train=images, n_val=8, imgsz=imgsz, nc=3, seed=0))


def measure(nproc: int, keys: list[str], accumulate: int, args, data: str, workdir: Path, copies: int = 1) -> dict:
    """One torchrun run with `nproc` ranks; copies > 1 starts that many independent runs at once and
    sums their images/s (the no-communication control: what the cores give two processes here)."""
    steps = args.warmup + (args.steps if accumulate == 1 else max(2, args.steps // 2))
    outs, procs = [], []
    for _ in range(copies):
        out = workdir / f"run{len(list(workdir.glob('run*.json'))) + len(outs)}.json"
        pairs = [f"data={data}", "model=n", f"imgsz={args.imgsz}", f"batch={args.batch * nproc}",
                 f"nbs={args.batch * nproc}", f"accumulate={accumulate}", "workers=0", "threads=1", "cache=ram",
                 "val=false", "plots=false", "verbose=false", "epochs=1", f"max_steps={steps}", "warmup_epochs=0",
                 "save_period_steps=0", f"project={workdir / 'runs'}", f"name={out.stem}", *keys]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               str(Path(__file__).resolve()), "--worker", str(out), str(args.warmup), *pairs]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
        outs.append(out)
    for proc, out in zip(procs, outs):
        log = proc.communicate(timeout=args.timeout)[0]
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"{nproc} x {' '.join(keys)} failed (exit {proc.returncode}):\n{log[-3000:]}")
    rows = [json.loads(out.read_text()) for out in outs]
    if copies == 1:
        return rows[0]
    merged = {k: statistics.mean(r[k] for r in rows) for k in rows[0] if isinstance(rows[0][k], (int, float))}
    merged.update(strategy="independent", images_per_s=sum(r["images_per_s"] for r in rows), world_size=copies)
    return merged


def _no_comm(run: dict) -> str:
    return "none" if run["strategy"] == "independent" else "n/m"


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8, help="images per process per micro-step")
    parser.add_argument("--warmup", type=int, default=2, help="optimizer steps dropped before timing")
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting, interleaved (median run shown)")
    parser.add_argument("--only", default="", help="comma-separated strategy labels (default: all)")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    from turboyolo.perf.report import print_table, write_json

    chosen = [s for s in STRATEGIES if not args.only or s[0] in args.only.split(",")]
    most_images = 2 * args.batch * max(a for _, _, a in chosen) * (args.warmup + args.steps)  # an upper bound
    data = benchmark_data(args.imgsz, max(256, most_images))
    workdir = Path(tempfile.mkdtemp(prefix="turboyolo-dist-bench-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # run folders and worker JSON only
    load_before, started = load_average(), time.time()
    print(f"benchmarks/dist.py: model n, imgsz {args.imgsz}, {args.batch} images per process per micro-step, "
          f"1 thread + 0 loader workers per process, {args.warmup} warm-up + {args.steps} timed optimizer steps, "
          f"{args.repeats} run(s) per setting; {os.cpu_count()} cores, load average {load_before:.2f} "
          "(the machine is shared with other jobs)", flush=True)

    # settings interleaved round by round (load from other jobs drifts); median run per setting
    settings = [(f"1 process (accumulate={acc})", 1, [], acc) for acc in sorted({a for _, _, a in chosen})]
    settings.append((CONTROL, 1, [], 1))
    settings += [(label, 2, keys, acc) for label, keys, acc in chosen]
    runs: dict[str, list[dict]] = {label: [] for label, *_ in settings}
    for round_index in range(args.repeats):
        for label, nproc, keys, accumulate in settings:
            run = measure(nproc, keys, accumulate, args, data, workdir, copies=2 if label == CONTROL else 1)
            runs[label].append(run)
            print(f"  round {round_index + 1}: {label}: {run['images_per_s']:.2f} img/s "
                  f"(load {load_average():.2f})", flush=True)
    medians = {}
    for label, found in runs.items():
        middle = sorted(found, key=lambda r: r["images_per_s"])[len(found) // 2]
        medians[label] = {**middle, "label": label, "images_per_s_runs": [r["images_per_s"] for r in found]}
    baselines = {acc: medians[f"1 process (accumulate={acc})"] for acc in sorted({a for _, _, a in chosen})}
    rows = []
    for label, _, accumulate in [(CONTROL, [], 1), *chosen]:
        run, base = medians[label], baselines[accumulate]
        run.update(baseline_images_per_s=base["images_per_s"],
                   scaling_efficiency=run["images_per_s"] / (2 * base["images_per_s"]))
        rows.append(run)
    load_after = load_average()

    table = [[f"1 process (accumulate={acc})", 1, base["images_per_s"], None, f"{base['step_s_median']:.2f}", None, None]
             for acc, base in baselines.items()]
    table += [[r["label"], r["world_size"], r["images_per_s"], r["scaling_efficiency"], f"{r['step_s_median']:.2f}",
               f"{1e3 * r['exposed_comm_s'] / max(r['timed_steps'], 1):.0f}" if r["strategy"] in COMM_TIMED else _no_comm(r),
               f"{100 * r['exposed_comm_share']:.1f}%" if r["strategy"] in COMM_TIMED else _no_comm(r)]
              for r in rows]
    print_table(f"data-parallel throughput, model n at {args.imgsz} px, {args.batch} images/process/micro-step "
                f"(efficiency = 2-process img/s / (2 x 1-process img/s); exposed comm per optimizer step, "
                f"n/m = not measured for this strategy); load average {load_before:.2f} -> {load_after:.2f}",
                ["setting", "procs", "images/s", "efficiency", "step s (median)", "exposed comm ms", "comm share"],
                table)
    figures = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                           "load_average_before": load_before, "load_average_after": load_after,
                           "wall_s": time.time() - started},
               "settings": vars(args), "baselines": {str(k): v for k, v in baselines.items()}, "runs": rows}
    print(f"wrote {write_json(RESULTS, figures)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        from turboyolo.config import split_overrides

        _, overrides = split_overrides(sys.argv[4:])
        worker(Path(sys.argv[2]), int(sys.argv[3]), overrides)
    else:
        main()
