"""Knowledge distillation on BCCD: a student n trained from scratch with and without a teacher.

    python benchmarks/compress_distill.py [--teacher runs/compress/teacher-s/weights/best.pt]
        [--teacher-epochs 40] [--plain runs/bench/bccd] [--epochs 25] [--sweep 1.0:1.0,2.0:2.0]

The student runs benchmarks/bccd.py's settings (model n, imgsz 416, batch 16, cache=ram); the
teacher is an s model trained --teacher-epochs with the same settings unless --teacher names one.
--plain reuses a finished run folder of the same student settings without a teacher (e.g. the one
benchmarks/bccd.py wrote). Each --sweep entry WEIGHT:TEMPERATURE is one more distilled student.
Reported per student: final and best val mAP50 / mAP50-95 (the trainer's own validation, val split),
median training seconds per epoch, and the teacher's extra seconds per epoch (distilled median minus
plain median). Writes benchmarks/results/compress_distill.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from turboyolo.config import build_config
from turboyolo.engine.trainer import Trainer
from turboyolo.perf.hardware import describe_machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BCCD = ROOT.parent / "shared" / "datasets" / "bccd" / "BCCD"
STUDENT = {"model": "n", "imgsz": 416, "batch": 16, "workers": 2, "cache": "ram", "close_mosaic": 10, "exist_ok": True}


def train(project: Path, name: str, **keys) -> Path:
    """One training run (Trainer, as `turboyolo train` runs it); returns its run folder."""
    summary = Trainer(build_config({**STUDENT, "project": str(project), "name": name, **keys})).fit()
    return Path(summary["run_dir"])


def run_figures(run_dir: Path) -> dict:
    rows = list(csv.DictReader((run_dir / "results.csv").open()))
    scored = [r for r in rows if r.get("mAP50")]
    return {
        "run": str(run_dir), "epochs": len(rows),
        "final_mAP50": float(scored[-1]["mAP50"]), "final_mAP50-95": float(scored[-1]["mAP50-95"]),
        "best_mAP50": max(float(r["mAP50"]) for r in scored),
        "best_mAP50-95": max(float(r["mAP50-95"]) for r in scored),
        "median_train_epoch_s": statistics.median(float(r["epoch_s"]) for r in rows),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(BCCD))
    parser.add_argument("--teacher", default=None, help="a trained teacher checkpoint (default: train an s model)")
    parser.add_argument("--teacher-model", default="s")
    parser.add_argument("--teacher-epochs", type=int, default=40)
    parser.add_argument("--plain", default=None, help="a finished student run without a teacher, to reuse")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--sweep", default="1.0:1.0", help="WEIGHT:TEMPERATURE,... one distilled student each")
    parser.add_argument("--project", default="runs/compress")
    args = parser.parse_args(argv)
    project = Path(args.project).absolute()
    started = time.perf_counter()

    teacher = Path(args.teacher) if args.teacher else None
    teacher_figures = None
    if teacher is None:
        teacher_run = train(project, f"teacher-{args.teacher_model}", data=args.data, model=args.teacher_model,
                            epochs=args.teacher_epochs)
        teacher = teacher_run / "weights" / "best.pt"
        teacher_figures = run_figures(teacher_run)
    plain_run = Path(args.plain) if args.plain else train(project, "student-plain", data=args.data, epochs=args.epochs)
    students = {"plain": run_figures(plain_run)}
    for entry in args.sweep.split(","):
        weight, temperature = (float(v) for v in entry.split(":"))
        run = train(project, f"student-kd-w{weight:g}-t{temperature:g}", data=args.data, epochs=args.epochs,
                    teacher=str(teacher.absolute()), distill=weight, distill_t=temperature)
        figures = run_figures(run)
        figures["teacher_extra_s_per_epoch"] = figures["median_train_epoch_s"] - students["plain"]["median_train_epoch_s"]
        students[f"distill={weight:g} distill_t={temperature:g}"] = figures

    machine = f"{describe_machine()}, {torch.get_num_threads()} threads"
    print(f"\nstudent n, {args.epochs} epochs from scratch on {Path(args.data).name} (val split), teacher {teacher}; {machine}")
    print(f"{'student':<26} {'mAP50':>6} {'mAP50-95':>8} {'best 50-95':>10} {'s/epoch':>8} {'teacher +s':>10}")
    for label, row in students.items():
        extra = row.get("teacher_extra_s_per_epoch")
        print(f"{label:<26} {row['final_mAP50']:>6.3f} {row['final_mAP50-95']:>8.3f} {row['best_mAP50-95']:>10.3f} "
              f"{row['median_train_epoch_s']:>8.1f} {'' if extra is None else f'{extra:+.1f}':>10}")
    if teacher_figures:
        print(f"teacher ({args.teacher_model}, {args.teacher_epochs} epochs): mAP50 {teacher_figures['final_mAP50']:.3f} "
              f"mAP50-95 {teacher_figures['final_mAP50-95']:.3f}, {teacher_figures['median_train_epoch_s']:.1f} s/epoch")
    result = {"machine": machine, "args": vars(args), "teacher": str(teacher), "teacher_run": teacher_figures,
              "students": students,
              "total_min": (time.perf_counter() - started) / 60}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compress_distill.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
