"""Side by side on BCCD: turboyolo (its defaults) against the most used YOLO trainer, Ultralytics,
both stock and tuned (2 torch threads set through a callback, cache=ram).

Same settings for all: model n from scratch (yolov8n.yaml), imgsz 416, batch 16, `--epochs`, validation
every epoch, 2 DataLoader workers, CPU. Each trainer runs in its own process; measured from outside
(process_watch.py): wall time, peak memory of the process tree, and when each results.csv row appears
(time to first val mAP50 >= 0.5 / 0.6 counts from process start). Repeats alternate the trainers
(A B C A B C) so machine drift falls on all of them; figures are medians over repeats.

The peer is AGPL: a peer to measure, never a dependency. It is pip-installed into a throw-away venv
outside the repository (`--peer-venv`, default ~/.cache/turboyolo-bench/ultralytics-venv, reused when it
works), with CPU torch wheels from `--torch-index` when that host is reachable. BCCD is converted for it
with `turboyolo convert ... to=yolo` into the cache folder (never into the source); both trainers read
that copy, so they see the same images and boxes.

usage (repository root):
  PYTHONPATH=$PWD python -m benchmarks.vs_ultralytics                      # 25 epochs x 1 repeat
  PYTHONPATH=$PWD python -m benchmarks.vs_ultralytics --epochs 1 --fraction 0.25 --only ours   # quick check
Writes benchmarks/results/vs_ultralytics.json and vs_ultralytics.md (with --output-stem elsewhere).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

from benchmarks.process_watch import run_watched
from benchmarks.vs_ultralytics_report import (markdown_table, median_over_repeats, ratios_against, read_ours,
                                              read_peer, summarize_run)
from turboyolo.perf.hardware import describe_machine

ROOT = Path(__file__).resolve().parents[1]
# the checkout's shared/ data sits beside the repository (or beside the folder of worktrees)
BCCD = next((p / "shared" / "datasets" / "bccd" / "BCCD" for p in ROOT.parents
             if (p / "shared" / "datasets" / "bccd" / "BCCD").is_dir()), ROOT.parent / "shared" / "datasets" / "bccd" / "BCCD")
RESULTS = ROOT / "benchmarks" / "results"
PEER_SCRIPT = ROOT / "benchmarks" / "ultralytics_peer.py"
CACHE = Path.home() / ".cache" / "turboyolo-bench"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# ours-fp32: our defaults at amp=off, the equal-precision comparison with the peer (which trains in fp32 on CPU);
# ours-fp32-compile adds torch.compile (its compile time shows in the whole-process seconds, not in images/s)
TRAINERS = ("ours", "ours-fp32", "ours-fp32-compile", "stock", "tuned")
OURS_EXTRA = {"ours": [], "ours-fp32": ["amp=off"], "ours-fp32-compile": ["amp=off", "compile=true"]}
DEFAULT_TRAINERS = ("ours", "ours-fp32", "stock", "tuned")  # compile's arm on request (--only): 3+ min to compile
TUNED_TORCH_THREADS = 2
# checks that the peer venv can train and validate (torchvision's compiled ops load beside its torch)
PEER_IMPORT_CHECK = ("import torch, torchvision, ultralytics; "
                     "torchvision.ops.nms(torch.zeros(1, 4), torch.ones(1), 0.5); "
                     "print(ultralytics.__version__, torch.__version__, torchvision.__version__)")


def host_resolves(url: str) -> bool:
    try:
        socket.getaddrinfo(urlparse(url).hostname, 443)
        return True
    except (OSError, UnicodeError):
        return False


def peer_versions(python: Path) -> str | None:
    """'ultralytics torch torchvision' versions when the venv works, else None."""
    if not python.is_file():
        return None
    check = subprocess.run([str(python), "-I", "-c", PEER_IMPORT_CHECK], capture_output=True, text=True,
                           env=peer_env(python.parents[1]))
    return check.stdout.strip().splitlines()[-1] if check.returncode == 0 and check.stdout.strip() else None


def ensure_peer_venv(venv: Path, torch_index: str | None) -> tuple[Path, str]:
    """The venv's python and the peer's versions; creates and installs the venv when it does not work yet."""
    python = venv / "bin" / "python"
    versions = peer_versions(python)
    if versions:
        return python, versions
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(python), "-m", "pip", "install", "ultralytics"]
    if torch_index and host_resolves(torch_index):
        install += ["--extra-index-url", torch_index]  # CPU torch/torchvision: no CUDA libraries to download
    elif torch_index:
        print(f"{urlparse(torch_index).hostname} does not resolve: torch comes from the default index")
    print("installing the peer:", " ".join(install), flush=True)
    if subprocess.run(install).returncode != 0:
        raise SystemExit(f"pip could not install the peer into {venv} (its message is above)")
    versions = peer_versions(python)
    if not versions:
        failure = subprocess.run([str(python), "-I", "-c", PEER_IMPORT_CHECK], capture_output=True, text=True,
                                 env=peer_env(venv))
        raise SystemExit(f"the peer venv {venv} cannot train: {failure.stderr.strip().splitlines()[-1:]}; "
                         f"install a matching torch/torchvision pair into it ({python} -m pip install "
                         "torch==X torchvision==Y) and rerun")
    return python, versions


def peer_env(venv: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["YOLO_CONFIG_DIR"] = str(venv.parent / "ultralytics-config")  # its settings file stays in the cache
    env["YOLO_OFFLINE"] = "1"  # no update checks or downloads mid-run
    return env


def converted_bccd(source: Path, cache: Path) -> tuple[Path, Path, int]:
    """(our data.yaml, the peer's data YAML, training images) of BCCD converted to YOLO under `cache`."""
    out = cache / "bccd-yolo"
    ours_yaml = out / "data.yaml"
    if not ours_yaml.is_file():
        shutil.rmtree(out, ignore_errors=True)  # a conversion that did not finish (ours, inside the cache)
        converted = subprocess.run([sys.executable, "-m", "turboyolo", "convert", f"data={source}", "to=yolo",
                                    f"out={out}"], env=ours_env())
        if converted.returncode != 0:
            raise SystemExit(f"converting {source} failed (its message is above); pass the dataset with --data PATH")
    spec = yaml.safe_load(ours_yaml.read_text())
    peer_yaml = out / "ultralytics.yaml"  # the peer resolves relative splits against `path`
    peer_yaml.write_text(yaml.safe_dump({**spec, "path": str(out)}, sort_keys=False))
    train_images = sum(1 for p in (out / spec["train"]).iterdir() if p.is_file())
    return ours_yaml, peer_yaml, train_images


def ours_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def command_for(trainer: str, args, data: dict[str, Path], run_dir: Path, peer_python: Path | None) -> list[str]:
    if trainer in OURS_EXTRA:  # its defaults (amp=auto, cache=ram, threads=usable cores ...) beside the shared settings
        return [sys.executable, "-m", "turboyolo", "train", f"data={data['ours']}", "model=n", "imgsz=416",
                "batch=16", f"epochs={args.epochs}", "workers=2", "val_period=1", f"fraction={args.fraction}",
                f"project={run_dir.parent}", f"name={run_dir.name}", "exist_ok=True", "device=cpu",
                *OURS_EXTRA[trainer]]
    train = {"data": str(data["peer"]), "imgsz": 416, "batch": 16, "epochs": args.epochs, "workers": 2,
             "val": True, "fraction": args.fraction, "device": "cpu", "project": str(run_dir.parent),
             "name": run_dir.name, "exist_ok": True}
    if trainer == "tuned":
        train["cache"] = "ram"
    spec = {"model": "yolov8n.yaml", "train": train, "events": str(run_dir.parent / f"{run_dir.name}.events.jsonl"),
            "torch_threads": TUNED_TORCH_THREADS if trainer == "tuned" else 0}
    return [str(peer_python), "-I", str(PEER_SCRIPT), json.dumps(spec)]


def run_order(trainers: list[str], repeats: int, once: frozenset = frozenset()) -> list[tuple[str, int]]:
    """(trainer, repeat) in the order they run: A B C A B C, so drift over time falls on every trainer alike;
    a trainer in `once` runs in the first round only (the slow stock peer, for context)."""
    return [(trainer, repeat) for repeat in range(1, repeats + 1) for trainer in trainers
            if repeat == 1 or trainer not in once]


def run_once(trainer: str, repeat: int, args, data: dict[str, Path], train_images: int,
             peer_python: Path | None) -> dict:
    run_dir = args.cache / "runs" / f"{trainer}-{repeat}"
    events = run_dir.parent / f"{run_dir.name}.events.jsonl"
    shutil.rmtree(run_dir, ignore_errors=True)  # the harness's own run folder from an earlier call
    events.unlink(missing_ok=True)
    env = ours_env() if trainer in OURS_EXTRA else peer_env(peer_python.parents[1])
    command = command_for(trainer, args, data, run_dir, peer_python)
    print(f"[{trainer} #{repeat}] {' '.join(command[:3])} ... (log: {run_dir}.log)", flush=True)
    watched = run_watched(command, env, run_dir / "results.csv", Path(f"{run_dir}.log"), cwd=args.cache)
    if watched.returncode != 0:
        tail = Path(f"{run_dir}.log").read_text(errors="replace").strip().splitlines()[-5:]
        raise SystemExit(f"{trainer} exited with {watched.returncode}; last lines of {run_dir}.log:\n" + "\n".join(tail))
    rows = read_ours(run_dir / "results.csv") if trainer in OURS_EXTRA else read_peer(run_dir / "results.csv", events)
    summary = summarize_run(rows, watched.row_seen_s, train_images, watched.wall_s,
                            watched.peak_rss_bytes, watched.peak_pss_bytes)
    print(f"[{trainer} #{repeat}] {watched.wall_s:.0f} s, {summary['epochs']} epochs, "
          f"final mAP50 {summary['final_mAP50']}, peak PSS {summary['peak_pss_gib']:.2f} GiB", flush=True)
    return {"summary": summary, "rows": rows, "row_seen_s": watched.row_seen_s}


def ours_version() -> str:
    from turboyolo import __version__
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"turboyolo {__version__} ({commit.stdout.strip() or 'no git'})"


def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=1, help="runs per trainer, alternated A B C A B C")
    parser.add_argument("--only", choices=TRAINERS, action="append", help="run only these trainers (repeatable)")
    parser.add_argument("--once", choices=TRAINERS, action="append", default=[],
                        help="run this trainer in the first round only (repeatable)")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the training images (quick checks)")
    parser.add_argument("--data", type=Path, default=BCCD, help="BCCD (or any dataset turboyolo reads)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="converted data, run folders, logs")
    parser.add_argument("--peer-venv", type=Path, default=CACHE / "ultralytics-venv")
    parser.add_argument("--torch-index", default=CPU_TORCH_INDEX, help="extra pip index for the peer's torch ('' = none)")
    parser.add_argument("--output-stem", type=Path, default=RESULTS / "vs_ultralytics", help="writes STEM.json, STEM.md")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.cache = args.cache.resolve()
    trainers = [t for t in TRAINERS if t in (args.only or DEFAULT_TRAINERS)]
    args.cache.mkdir(parents=True, exist_ok=True)
    peer_python, peer_version = (None, None)
    if set(trainers) - set(OURS_EXTRA):
        peer_python, peer_version = ensure_peer_venv(args.peer_venv.resolve(), args.torch_index or None)
    ours_yaml, peer_yaml, all_train_images = converted_bccd(args.data, args.cache)
    train_images = max(1, round(all_train_images * args.fraction))
    data = {"ours": ours_yaml, "peer": peer_yaml}
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure: say how much there was
    runs = {t: [] for t in trainers}
    for trainer, repeat in run_order(trainers, args.repeats, frozenset(args.once)):
        runs[trainer].append(run_once(trainer, repeat, args, data, train_images, peer_python))
    summaries = {t: median_over_repeats([r["summary"] for r in runs[t]]) for t in trainers}
    ratios = {t: ratios_against(summaries[t], summaries["tuned"]) for t in trainers if "tuned" in summaries and t != "tuned"}
    result = {
        "date": datetime.date.today().isoformat(), "machine": describe_machine(), "ours": ours_version(),
        "peer": f"ultralytics torch torchvision = {peer_version}" if peer_version else None,
        "settings": {"model": "n from scratch (yolov8n.yaml)", "imgsz": 416, "batch": 16, "epochs": args.epochs,
                     "workers": 2, "val_every_epochs": 1, "fraction": args.fraction, "train_images": train_images,
                     "repeats": args.repeats, "first_round_only": args.once, "tuned_peer": f"torch threads {TUNED_TORCH_THREADS} (callback), cache=ram"},
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "summaries": summaries, "ratios_vs_tuned": ratios, "runs": runs,
    }
    header = [f"# turboyolo vs Ultralytics on BCCD ({result['date']})", "",
              f"- machine: {result['machine']}", f"- ours: {result['ours']} (defaults; ours-fp32 = defaults + amp=off)",
              f"- peer: {result['peer'] or 'not run'}; stock, and tuned = {result['settings']['tuned_peer']}",
              f"- settings: model n from scratch, imgsz 416, batch 16, {args.epochs} epochs, val every epoch, "
              f"workers 2, {train_images} training images (fraction {args.fraction}), median of {args.repeats} "
              "alternated repeat(s)" + (f" ({', '.join(args.once)}: first round only)" if args.once else ""),
              f"- load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} "
              f"on {len(os.sched_getaffinity(0))} cores",
              f"- command: python -m benchmarks.vs_ultralytics {' '.join(argv)}".rstrip()]
    if args.fraction < 1 or args.epochs < 25:
        header.append("- a quick check of the harness (few epochs or images): not the comparison; "
                      "time-to-accuracy rows need the 25-epoch run")
    table = markdown_table(summaries, ratios, header)
    print("\n" + table)
    args.output_stem.parent.mkdir(parents=True, exist_ok=True)
    args.output_stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    args.output_stem.with_suffix(".md").write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
