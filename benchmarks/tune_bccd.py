"""What `turboyolo tune` buys on BCCD at a fixed wall-clock budget.

    python benchmarks/tune_bccd.py [--hours 0.75] [--trial-epochs 8] [--final-epochs 25] [--baseline-run DIR]

1. `turboyolo tune` on BCCD (model n, imgsz 416, batch 16, cache=ram) for --hours, trials of
   --trial-epochs epochs with median pruning (close_mosaic scaled to the short schedule);
2. one --final-epochs run of the best config (best.yaml, with benchmarks/bccd.py's epochs and close_mosaic);
3. against the default config's run of the same length (--baseline-run: a finished benchmarks/bccd.py
   run folder; otherwise trained here).
Reports final val mAP50 / mAP50-95 of both, the tuning minutes and trials (complete / pruned), and
writes benchmarks/results/tune_bccd.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BCCD = ROOT.parent / "shared" / "datasets" / "bccd" / "BCCD"
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))  # run as a script from the checkout
from turboyolo.perf.hardware import describe_machine  # noqa: E402
SETTINGS = ["model=n", "imgsz=416", "batch=16", "workers=2", "cache=ram"]


def turboyolo(*words: str) -> None:
    subprocess.run([sys.executable, "-m", "turboyolo", *words], check=True, cwd=ROOT)


def final_row(run: Path) -> dict:
    rows = [r for r in csv.DictReader((run / "results.csv").open()) if r.get("mAP50")]
    return {"run": str(run), "epochs": len(rows), "mAP50": float(rows[-1]["mAP50"]),
            "mAP50-95": float(rows[-1]["mAP50-95"])}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(BCCD))
    parser.add_argument("--hours", type=float, default=0.75)
    parser.add_argument("--trial-epochs", type=int, default=8)
    parser.add_argument("--final-epochs", type=int, default=25)
    parser.add_argument("--baseline-run", default=None, help="a finished default-config run of --final-epochs")
    parser.add_argument("--project", default="runs/bench")
    args = parser.parse_args(argv)
    project = (ROOT / args.project).absolute()
    close_final = min(10, args.final_epochs // 2)

    started = time.perf_counter()
    turboyolo("tune", f"data={args.data}", *SETTINGS, f"epochs={args.trial_epochs}", "trials=1000",
              f"time={args.hours}", f"close_mosaic={max(1, args.trial_epochs * close_final // args.final_epochs)}",
              f"project={project}", "name=tune-bccd")
    tune_min = (time.perf_counter() - started) / 60
    folder = project / "tune-bccd"
    trials = list(csv.DictReader((folder / "trials.csv").open()))
    best = folder / "best.yaml"
    turboyolo("train", f"cfg={best}", f"epochs={args.final_epochs}", f"close_mosaic={close_final}",
              f"project={project}", "name=tuned-final", "exist_ok=true")
    tuned = final_row(project / "tuned-final")
    if args.baseline_run:
        baseline = final_row(Path(args.baseline_run))
    else:
        turboyolo("train", f"data={args.data}", *SETTINGS, f"epochs={args.final_epochs}", f"close_mosaic={close_final}",
                  f"project={project}", "name=default-final", "exist_ok=true")
        baseline = final_row(project / "default-final")

    states = [t["state"] for t in trials]
    result = {"machine": describe_machine(), "args": vars(args),
              "tune_minutes": tune_min, "trials": len(trials), "complete": states.count("complete"),
              "pruned": states.count("pruned"), "best_yaml": best.read_text(), "default": baseline, "tuned": tuned}
    print(f"\ntuning: {tune_min:.0f} min, {len(trials)} trials ({result['complete']} complete, {result['pruned']} pruned)")
    print(f"{'config':<10} {'mAP50':>6} {'mAP50-95':>8}   ({args.final_epochs} epochs, val split)")
    for label, row in (("default", baseline), ("tuned", tuned)):
        print(f"{label:<10} {row['mAP50']:>6.3f} {row['mAP50-95']:>8.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tune_bccd.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
