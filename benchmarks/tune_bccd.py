"""What `turboyolo tune` buys on BCCD at a fixed wall-clock budget.

    python benchmarks/tune_bccd.py [--hours 0.75] [--trial-epochs 8] [--final-epochs 25] [--baseline-run DIR] [--name N]

1. `turboyolo tune` on BCCD (model n, imgsz 416, batch 16, cache=ram) for --hours, trials of
   --trial-epochs epochs with median pruning (close_mosaic scaled to the short schedule);
2. --final-epochs runs of the best config (best.yaml, with benchmarks/bccd.py's epochs and close_mosaic), one
   per seed (--seeds: a run is deterministic for its seed, seeds differ by about 0.02 mAP50-95);
3. against the default config's runs of the same length and seeds (--baseline-run: a finished seed-0 run
   folder; otherwise trained here).
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
from statistics import mean
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
    parser.add_argument("--baseline-run", default=None, help="a finished default-config run of --final-epochs (seed 0)")
    parser.add_argument("--skip-tune", action="store_true", help="use the finished study in --name as it is")
    parser.add_argument("--seeds", type=int, default=2, help="final runs of each config (seeds 0..N-1)")
    parser.add_argument("--project", default="runs/bench")
    parser.add_argument("--name", default="tune-bccd", help="the study's folder under --project (an existing one continues)")
    args = parser.parse_args(argv)
    project = (ROOT / args.project).absolute()
    close_final = min(10, args.final_epochs // 2)

    started = time.perf_counter()
    if not args.skip_tune:
        turboyolo("tune", f"data={args.data}", *SETTINGS, f"epochs={args.trial_epochs}", "trials=1000",
                  f"time={args.hours}", f"close_mosaic={max(1, args.trial_epochs * close_final // args.final_epochs)}",
                  f"project={project}", f"name={args.name}")
    tune_min = (time.perf_counter() - started) / 60
    folder = project / args.name
    trials = list(csv.DictReader((folder / "trials.csv").open()))
    best = folder / "best.yaml"
    # one 25-epoch run is deterministic for its seed, but seeds differ by ~0.02 mAP50-95: compare over seeds
    tuned, baseline = [], []
    for seed in range(args.seeds):
        turboyolo("train", f"cfg={best}", f"epochs={args.final_epochs}", f"close_mosaic={close_final}", f"seed={seed}",
                  f"project={project}", f"name={args.name}-best-seed{seed}", "exist_ok=true")
        tuned.append(final_row(project / f"{args.name}-best-seed{seed}"))
        if seed == 0 and args.baseline_run:
            baseline.append(final_row(Path(args.baseline_run)))
            continue
        turboyolo("train", f"data={args.data}", *SETTINGS, f"epochs={args.final_epochs}", f"close_mosaic={close_final}",
                  f"seed={seed}", f"project={project}", f"name={args.name}-default-seed{seed}", "exist_ok=true")
        baseline.append(final_row(project / f"{args.name}-default-seed{seed}"))

    states = [t["state"] for t in trials]
    # at the trials' own length: the study's baseline trial (the default config) against its best trial
    complete = [t for t in trials if t["state"] == "complete"]
    best_trial = max(complete, key=lambda t: float(t["fitness"]))
    baseline_trial = next((t for t in complete if t.get("baseline") == "yes"), None)
    at_trial_length = {"best_trial": int(best_trial["trial"]), "best_fitness": float(best_trial["fitness"]),
                       "baseline_fitness": float(baseline_trial["fitness"]) if baseline_trial else None}
    result = {"date": time.strftime("%Y-%m-%d"), "machine": describe_machine(), "args": vars(args),
              "tune_minutes": tune_min, "trials": len(trials), "complete": states.count("complete"),
              "pruned": states.count("pruned"), "best_yaml": best.read_text(), "at_trial_length": at_trial_length,
              "default": baseline, "tuned": tuned,
              "mean_mAP50-95": {"default": mean(r["mAP50-95"] for r in baseline), "tuned": mean(r["mAP50-95"] for r in tuned)}}
    print(f"\ntuning: {tune_min:.0f} min, {len(trials)} trials ({result['complete']} complete, {result['pruned']} pruned)")
    print(f"at {args.trial_epochs} epochs (fitness = 0.1 mAP50 + 0.9 mAP50-95): default config (trial 0) "
          f"{at_trial_length['baseline_fitness']}, best trial {at_trial_length['best_trial']} "
          f"{at_trial_length['best_fitness']:.4f}")
    print(f"{'config':<10} {'seed':>4} {'mAP50':>6} {'mAP50-95':>8}   ({args.final_epochs} epochs, val split)")
    for label, rows in (("default", baseline), ("tuned", tuned)):
        for seed, row in enumerate(rows):
            print(f"{label:<10} {seed:>4} {row['mAP50']:>6.3f} {row['mAP50-95']:>8.3f}")
        print(f"{label:<10} {'mean':>4} {mean(r['mAP50'] for r in rows):>6.3f} {mean(r['mAP50-95'] for r in rows):>8.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tune_bccd.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
