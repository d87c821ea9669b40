"""Progressive resizing against a fixed input size: BCCD, model n, imgsz 416, batch 16, from scratch.

Reports per arm the wall time (whole run, setup included) to the first validation with mAP50 >= target,
the epoch it happened in, and the final and best mAP; the arms alternate (fixed, progressive, fixed, ...)
so machine drift cancels, and medians are taken over repeats. Writes benchmarks/results/progressive.json.

usage: python benchmarks/progressive.py [repeats=1] [target=0.6] [out=FILE.json] [progressive=0.5]
                                        [progressive_min=0.5] [any train key=value ...]
Reproduce the BCCD figures: python benchmarks/progressive.py repeats=2   (about 4 x 7 min on 2 CPU cores)
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from turboyolo.config import build_config, split_overrides  # noqa: E402
from turboyolo.engine.trainer import Trainer  # noqa: E402
from turboyolo.perf.hardware import describe_machine  # noqa: E402

BCCD = ROOT.parent / "shared" / "datasets" / "bccd" / "BCCD"
RESULTS = ROOT / "benchmarks" / "results"
BENCH_KEYS = ("repeats", "target", "out")  # this script's own keys; the rest are training keys


def run_arm(settings: dict, name: str, target: float) -> dict:
    """One training run; the wall time at the end of every epoch (after its validation)."""
    started = time.perf_counter()
    ended_at = []

    def on_epoch_end(trainer):
        ended_at.append(time.perf_counter() - started)

    trainer = Trainer(build_config({**settings, "name": name}), callbacks={"on_epoch_end": [on_epoch_end]})
    summary = trainer.fit()
    total_s = time.perf_counter() - started
    return _arm_result(list(trainer.history), ended_at, total_s, summary, target)


def _arm_result(rows: list[dict], ended_at: list[float], total_s: float, summary: dict, target: float) -> dict:
    reached = next((i for i, r in enumerate(rows) if r.get("mAP50", 0.0) >= target), None)
    return {
        "time_to_target_s": ended_at[reached] if reached is not None else None,
        "epoch_of_target": reached + 1 if reached is not None else None,
        "total_s": total_s,
        "final_mAP50": rows[-1].get("mAP50", 0.0) if rows else 0.0,
        "final_mAP50-95": rows[-1].get("mAP50-95", 0.0) if rows else 0.0,
        "best_mAP50-95": summary.get("best", {}).get("mAP50-95", 0.0),
        "train_imgsz": [r.get("train_imgsz") for r in rows],
        "epoch_s": [round(r.get("epoch_s", 0.0), 2) for r in rows],
        "mAP50": [round(r.get("mAP50", 0.0), 4) for r in rows],
    }


def _median(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def main(argv: list[str]) -> int:
    _, pairs = split_overrides(argv)
    repeats, target = int(pairs.pop("repeats", 1)), float(pairs.pop("target", 0.6))
    out = Path(pairs.pop("out", RESULTS / "progressive.json"))
    ramp = {"progressive": pairs.pop("progressive", "0.5"), "progressive_min": pairs.pop("progressive_min", "0.5")}
    settings = {"data": str(BCCD), "model": "n", "imgsz": 416, "batch": 16, "epochs": 25, "workers": 2, "cache": "ram",
                "project": "runs/bench", "exist_ok": True, "plots": False, **pairs}
    arms = {"fixed": {**settings, "progressive": 0.0}, "progressive": {**settings, **ramp}}
    runs: dict[str, list[dict]] = {name: [] for name in arms}
    for repeat in range(repeats):
        order = list(arms) if repeat % 2 == 0 else list(arms)[::-1]  # alternate who goes first
        for name in order:
            print(f"\n=== {name} (repeat {repeat + 1}/{repeats}) ===", flush=True)
            runs[name].append(run_arm(arms[name], f"progressive_bench_{name}", target))
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": describe_machine(),
        "target_mAP50": target, "settings": settings, "ramp": ramp, "repeats": repeats,
        "median": {name: {key: _median([r[key] for r in arm_runs])
                          for key in ("time_to_target_s", "total_s", "final_mAP50", "final_mAP50-95", "best_mAP50-95")}
                   for name, arm_runs in runs.items()},
        "runs": runs,
    }
    print(f"\n{'arm':<12} {'to mAP50>=' + str(target):>14} {'total_s':>8} {'final mAP50':>12} {'final mAP50-95':>15}")
    for name, m in result["median"].items():
        reach = f"{m['time_to_target_s']:.0f} s" if m["time_to_target_s"] is not None else "not reached"
        print(f"{name:<12} {reach:>14} {m['total_s']:>8.0f} {m['final_mAP50']:>12.3f} {m['final_mAP50-95']:>15.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
