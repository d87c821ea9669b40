"""The GPU half of benchmarks/gpu_check.sh: BCCD training at 640 on cuda:0, compile=false against true.

Per run: training images/s, MFU against the measured peak (turboyolo/perf/hardware.py), data-wait
share and the phase split of the last epoch, seconds per epoch (train and val apart) and val mAP.
Without CUDA it says so, writes {"cuda": false, ...} and exits 0.

usage: python3 benchmarks/gpu_check.py [--out DIR] [--epochs 3] [--data PATH] [--batch 32] [--runs compile=false,compile=true]
       (--device cpu --imgsz 64 --data synthetic --set fraction=0.1: a dry run on a machine without a GPU)
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from the source tree, nothing installed

from turboyolo.config import build_config  # noqa: E402
from turboyolo.engine.trainer import Trainer  # noqa: E402

PHASES = ("data", "h2d", "forward", "backward", "optimizer", "other")


def find_bccd(given: str | None) -> Path | None:
    """BCCD where the checkouts keep it: <repo>/shared/..., <repo>/../shared/... (a worktree: two up)."""
    candidates = [Path(given)] if given else []
    candidates += [base / "shared" / "datasets" / "bccd" / "BCCD" for base in (ROOT, ROOT.parent, ROOT.parent.parent)]
    return next((p for p in candidates if (p / "Annotations").is_dir()), None)


def machine() -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "cpu_cores": os.cpu_count(), "host": platform.node()}
    if info["cuda"]:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda_version=torch.version.cuda,
                    bf16=torch.cuda.is_bf16_supported())
    return info


def train_once(data: str, project: Path, name: str, epochs: int, batch: int, extra: dict, device: str, imgsz: int) -> dict:
    settings = dict(data=data, model="n", imgsz=imgsz, batch=batch, epochs=epochs, workers=min(8, (os.cpu_count() or 2) - 1),
                    cache="ram", device=device, amp="auto", project=str(project), name=name, exist_ok=True, plots=False,
                    close_mosaic=0, verbose=True)
    settings.update(extra)  # --set and the run's own key win
    started = time.perf_counter()
    summary = Trainer(build_config(settings)).fit()
    total_s = time.perf_counter() - started
    rows = list(csv.DictReader((Path(summary["run_dir"]) / "results.csv").open()))
    last = rows[-1]
    return {
        "settings": {k: v for k, v in settings.items() if k not in ("project", "data")},
        "total_s": round(total_s, 1),
        "epoch_s": [round(float(r["epoch_s"]), 2) for r in rows],
        "val_s": [round(float(r["val_s"]), 2) for r in rows if r.get("val_s")],
        "images_per_s": round(float(last["images_per_s"]), 1),  # the last epoch: compile and cache warm-up are over
        "mfu": round(float(last["mfu"]), 4),
        "data_wait_share": round(float(last["data_wait_share"]), 3),
        "phase_s": {p: round(float(last[f"{p}_s"]), 3) for p in PHASES},
        "mAP50": float(last.get("mAP50") or 0), "mAP50-95": float(last.get("mAP50-95") or 0),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--data", default=None, help="BCCD root (default: the shared copy next to the checkout)")
    parser.add_argument("--runs", default="compile=false,compile=true", help="comma-separated key=value, one run each")
    parser.add_argument("--device", default="0")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any other train key, for every run")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "runs": {}}
    path = out / "gpu_check.json"
    save = lambda: path.write_text(json.dumps(result, indent=2) + "\n")  # noqa: E731  (after every run: a timeout keeps what ran)
    if args.device != "cpu" and not result["machine"]["cuda"]:
        print(f"gpu_check: no CUDA device here (torch {torch.__version__}, torch.cuda.is_available() is False): "
              "GPU training check skipped")
    else:
        from turboyolo.perf.hardware import get_peak

        device = torch.device("cpu") if args.device == "cpu" else torch.device("cuda", 0)
        result["peak_tflops"] = {"fp32": get_peak(device, torch.float32) / 1e12, "bf16": get_peak(device, torch.bfloat16) / 1e12}
        bccd = None if args.data == "synthetic" else find_bccd(args.data)
        data = str(bccd) if bccd else "synthetic"
        if bccd is None:
            print("gpu_check: BCCD not found next to the checkout (pass --data); training on the synthetic set instead")
        result["data"] = "BCCD" if bccd else "synthetic"
        project = Path(os.environ.get("TMPDIR", "/tmp")) / "turboyolo-gpu-check"
        for run in args.runs.split(","):
            key, value = run.split("=")
            print(f"\n=== {run} ===", flush=True)
            try:
                extra = dict(pair.split("=", 1) for pair in args.set)
                result["runs"][run] = train_once(data, project, run.replace("=", "_"), args.epochs, args.batch,
                                                 {**extra, key: value}, args.device, args.imgsz)
            except Exception as err:  # one failing variant (e.g. compile without a compiler) must not hide the other
                result["runs"][run] = {"error": f"{type(err).__name__}: {err}"}
                print(f"gpu_check: {run} failed: {type(err).__name__}: {err}", flush=True)
            save()
        _print_table(result)
    save()
    print(f"wrote {path}")
    return 0


def _print_table(result: dict) -> None:
    print(f"\n{result['machine'].get('gpu', 'cpu')}, torch {result['machine']['torch']}, peak {result['peak_tflops']}")
    print(f"{'run':<16} {'img/s':>7} {'MFU':>6} {'data%':>6} {'epoch_s':>22} {'mAP50':>6}  phases (s, last epoch)")
    for name, r in result["runs"].items():
        if "error" in r:
            print(f"{name:<16} {r['error']}")
            continue
        phases = " ".join(f"{p} {s:.2f}" for p, s in r["phase_s"].items())
        print(f"{name:<16} {r['images_per_s']:>7.1f} {100 * r['mfu']:>5.1f}% {100 * r['data_wait_share']:>5.0f}% "
              f"{str(r['epoch_s']):>22} {r['mAP50']:>6.3f}  {phases}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
