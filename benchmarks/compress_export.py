"""fp32 PyTorch vs fp32 ONNX vs int8 PTQ vs int8 QAT (onnxruntime) on BCCD: mAP, file size, CPU latency, throughput.

    python benchmarks/compress_export.py [weights=runs/bench/bccd/weights/best.pt] [calib=200]
                                         [calib_method=minmax] [split=val] [out=benchmarks/results/compress_export.json]
                                         [qat=true [epochs=5] [lr0=0.001] | model=<a qat run's best.pt>]

The int8 QAT row (qat=true, or model= naming a finished `train qat=true` run's best.pt): the checkpoint is
fine-tuned with `turboyolo train model=<weights> qat=true epochs=K` (SGD, lr0, no warm-up, into
runs/bench/export/qat-train; rerunning reuses one of the same weights) and exported like the others; the
QAT target (recover at least half of PTQ's mAP50-95 loss against fp32 ONNX) is reported beside PTQ's.

The checkpoint defaults to the one benchmarks/bccd.py trains; data= to the one it was trained on
(BCCD for that one). It is copied to runs/bench/export/ and
exported there with `turboyolo export ... int8=true` twice: fixed batch 1 (latency, mAP) and
dynamic=true (batch-16 throughput). mAP comes from `turboyolo val` of each file (validate_weights),
all at the same square letterbox the fixed-size graphs take (rect_val=false) and in fp32. Times are
the network alone (no letterbox, no NMS) on real letterboxed BCCD images: batch 1 in ms/image, the
median of 50 runs after warm-up at 1 and 2 threads; batch 16 in images/s (median of 10) at 2
threads. The runtimes take turns in rounds, so a neighbour's load on this shared machine falls on
all of them alike; the load average is recorded with the figures. When OpenVINO is installed, it runs
the same two .onnx files beside onnxruntime (timing, and its largest output difference from
onnxruntime's; its mAP is not scored, as val runs onnxruntime).
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from turboyolo.cli import main as turboyolo
from turboyolo.config import build_config, split_overrides
from turboyolo.data.formats import load_dataset
from turboyolo.engine.checkpoint import eval_model, load_checkpoint
from turboyolo.engine.predictor import letterbox_batch
from turboyolo.engine.val_cli import validate_weights
from turboyolo.engine.weights import load_weights
from turboyolo.export.onnx_runtime import OnnxDetector
from turboyolo.export.verify import output_difference
from turboyolo.perf.hardware import describe_machine
from turboyolo.perf.report import print_table, write_json

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "bench" / "export"
LATENCY_RUNS, THROUGHPUT_RUNS, ROUNDS = 50, 10, 5  # runs per model, spread over ROUNDS turns
WARMUP_RUNS = 10
THROUGHPUT_BATCH = 16
THREADS = (1, 2)
# issue 12's targets for int8 PTQ against fp32 ONNX, and for QAT against PTQ
MAX_MAP_LOSS, MIN_SPEEDUP, MIN_QAT_RECOVERY = 0.015, 1.5, 0.5
QAT_EPOCHS, QAT_LR0 = 5, 0.001  # a short, gentle fine-tune: BatchNorm is frozen and the weights start trained


def export_copy(weights: Path, folder: str, cfg, *extra: str) -> Path:
    """Copy the checkpoint to WORK/folder and export it there (fp32 + int8); returns the copy."""
    copy = WORK / folder / "best.pt"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, copy)
    code = turboyolo(["export", f"weights={copy}", f"data={cfg.data}", "int8=true", f"calib={cfg.calib}",
                      f"calib_method={cfg.calib_method}", *extra])
    if code:
        raise SystemExit(f"turboyolo export failed for {copy}")
    return copy


def qat_checkpoint(weights: Path, cfg, imgsz: int) -> Path:
    """best.pt of `train model=weights qat=true` on cfg.data (model= names a finished one instead)."""
    if "model" in cfg.given:
        return Path(cfg.model)
    run = WORK / "qat-train"
    best = run / "weights" / "best.pt"
    if best.is_file() and load_checkpoint(best)["args"]["model"] == str(weights):
        return best  # an earlier fine-tune of these weights (delete the folder to redo it)
    epochs = cfg.epochs if "epochs" in cfg.given else QAT_EPOCHS
    lr0 = cfg.lr0 if "lr0" in cfg.given else QAT_LR0
    code = turboyolo(["train", f"model={weights}", "qat=true", f"data={cfg.data}", f"imgsz={imgsz}", f"epochs={epochs}",
                      "optimizer=SGD", f"lr0={lr0}", "warmup_epochs=0", f"project={WORK}", "name=qat-train",
                      "exist_ok=true", "plots=false"])
    if code:
        raise SystemExit(f"turboyolo train qat=true failed for {weights}")
    return best


def scores(weights: Path, cfg, **keys) -> dict:
    vcfg = build_config({"weights": str(weights), "data": cfg.data, "split": cfg.split, "plots": False,
                         "verbose": False, **keys})
    metrics = validate_weights(vcfg)
    return {key: metrics[key] for key in ("mAP50", "mAP50-95")}


def letterboxed(cfg, count: int, imgsz: int, stride: int) -> np.ndarray:
    """(count, 3, S, S) float32 in [0, 1]: the first `count` images of the split, as predict feeds them."""
    records = load_dataset(cfg.data, cfg.cache_dir, verbose=False).split(cfg.split)
    images = [cv2.imread(records[i % len(records)].path) for i in range(count)]
    return np.ascontiguousarray(letterbox_batch(images, imgsz, stride)[0].float().div_(255).numpy())


def time_in_rounds(runners: dict, runs: int) -> dict[str, float]:
    """Median seconds per call of each runner; warm-up first, then the runners take turns."""
    for run in runners.values():
        for _ in range(WARMUP_RUNS):
            run()
    seconds = {label: [] for label in runners}
    for _ in range(ROUNDS):
        for label, run in runners.items():
            for _ in range(runs // ROUNDS):
                started = time.perf_counter()
                run()
                seconds[label].append(time.perf_counter() - started)
    return {label: statistics.median(values) for label, values in seconds.items()}


def runners_for(ckpt: dict, files: dict[str, Path], pixels: np.ndarray, threads: int) -> dict:
    """One zero-argument callable per model running `pixels` through it with `threads` threads."""
    torch.set_num_threads(threads)
    model = eval_model(ckpt, "cpu", torch.channels_last)  # as val/predict run a checkpoint
    tensor = torch.from_numpy(pixels).to(memory_format=torch.channels_last)
    strides = [int(s) for s in model.strides.tolist()]
    sessions = {label: OnnxDetector(path, strides, torch.device("cpu"), threads) for label, path in files.items()}

    def pytorch():
        with torch.inference_mode():
            model(tensor)

    return {"fp32 PyTorch": pytorch, **{label: (lambda s=s: s.run(pixels)) for label, s in sessions.items()}}


def openvino_runners(files: dict[str, Path], pixels: np.ndarray, threads: int) -> dict:
    """The same files compiled by OpenVINO for the CPU (fp32 math where the graph is fp32); {} if not installed."""
    try:
        import openvino
    except ImportError:
        return {}
    core = openvino.Core()
    runners = {}
    for label, path in files.items():
        settings = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                    "INFERENCE_PRECISION_HINT": "f32"}  # else bf16 on CPUs with AMX
        compiled = core.compile_model(str(path), "CPU", settings)
        request = compiled.create_infer_request()
        runners[f"{label}, OpenVINO"] = lambda r=request: r.infer({0: pixels})[0]
    return runners


def cell(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str]) -> int:
    _, overrides = split_overrides(argv)
    cfg = build_config({"weights": str(ROOT / "runs" / "bench" / "bccd" / "weights" / "best.pt"),
                        "out": str(ROOT / "benchmarks" / "results" / "compress_export.json"), **overrides})
    weights = Path(cfg.weights)
    if not weights.is_file():
        raise SystemExit(f"no checkpoint at {weights}: run `python benchmarks/bccd.py` first or pass weights=")
    load_before = os.getloadavg()
    ckpt = load_checkpoint(weights)
    if "data" not in cfg.given:
        cfg.data = str(ckpt["args"]["data"])
    imgsz = int(ckpt["args"]["imgsz"])
    static = export_copy(weights, "batch1", cfg)
    dynamic = export_copy(weights, "dynamic", cfg, "dynamic=true")
    files = {"fp32 ONNX": static.with_suffix(".onnx"), "int8 PTQ": static.with_name("best_int8.onnx")}
    batch_files = {"fp32 ONNX": dynamic.with_suffix(".onnx"), "int8 PTQ": dynamic.with_name("best_int8.onnx")}
    qat = None
    if cfg.qat or "model" in cfg.given:
        qat = qat_checkpoint(weights, cfg, imgsz)
        files["int8 QAT"] = export_copy(qat, "qat-batch1", cfg).with_name("best_int8.onnx")
        batch_files["int8 QAT"] = export_copy(qat, "qat-dynamic", cfg, "dynamic=true").with_name("best_int8.onnx")

    figures = {"fp32 PyTorch": {"file_mb": weights.stat().st_size / 2**20,
                                **scores(weights, cfg, rect_val=False, amp="off")}}
    for label, path in files.items():
        figures[label] = {"file_mb": path.stat().st_size / 2**20, **scores(path, cfg)}

    strides = load_weights(files["fp32 ONNX"])["strides"]
    stride = max(strides)
    one = letterboxed(cfg, 1, imgsz, stride)
    for threads in THREADS:
        runners = runners_for(ckpt, files, one, threads)
        runners.update(openvino_runners(files, one, threads))
        for label, seconds in time_in_rounds(runners, LATENCY_RUNS).items():
            figures.setdefault(label, {})[f"ms_batch1_{threads}t"] = 1e3 * seconds
    for label, run in openvino_runners(files, one, 1).items():  # agreement with what val scored
        runtime_label = label.split(",")[0]
        reference = OnnxDetector(files[runtime_label], strides, torch.device("cpu"), 1).run(one)
        figures[label]["max_diff_vs_onnxruntime"] = output_difference(reference, np.asarray(run()))
    batch = letterboxed(cfg, THROUGHPUT_BATCH, imgsz, stride)
    runners = runners_for(ckpt, batch_files, batch, max(THREADS))
    runners.update(openvino_runners(batch_files, batch, max(THREADS)))
    for label, seconds in time_in_rounds(runners, THROUGHPUT_RUNS).items():
        figures[label][f"images_per_s_batch{THROUGHPUT_BATCH}_{max(THREADS)}t"] = THROUGHPUT_BATCH / seconds

    base = figures["fp32 ONNX"]
    rows = []
    for label, f in figures.items():
        f["speedup_vs_fp32_onnx_1t"] = base["ms_batch1_1t"] / f["ms_batch1_1t"]
        rows.append([label, cell(f.get("mAP50"), ".4f"), cell(f.get("mAP50-95"), ".4f"), cell(f.get("file_mb"), ".1f"),
                     f"{f['ms_batch1_1t']:.1f}", f"{f['ms_batch1_2t']:.1f}",
                     f"{f[f'images_per_s_batch{THROUGHPUT_BATCH}_2t']:.1f}", f"{f['speedup_vs_fp32_onnx_1t']:.2f}x"])
    machine = describe_machine()
    load_after = os.getloadavg()
    print_table(f"BCCD {cfg.split}, model {weights}, imgsz {imgsz}; {machine}; load average "
                f"{load_before[0]:.1f} -> {load_after[0]:.1f}",
                ["model", "mAP50", "mAP50-95", "MB", "ms/img b1 1t", "ms/img b1 2t",
                 f"img/s b{THROUGHPUT_BATCH} 2t", "vs fp32 ONNX"], rows)
    int8 = figures["int8 PTQ"]
    loss = base["mAP50-95"] - int8["mAP50-95"]
    speedups = {t: base[f"ms_batch1_{t}t"] / int8[f"ms_batch1_{t}t"] for t in THREADS}
    targets = {"int8_mAP50-95_loss": loss, "int8_mAP_target_met": loss <= MAX_MAP_LOSS,
               "int8_speedup_batch1": speedups,
               "int8_speed_target_met": all(s >= MIN_SPEEDUP for s in speedups.values())}
    print(f"\nint8 PTQ vs fp32 ONNX: mAP50-95 {-loss:+.4f} (target: lose at most {MAX_MAP_LOSS}: "
          f"{'met' if targets['int8_mAP_target_met'] else 'MISSED'}); batch-1 speed-up "
          + ", ".join(f"{s:.2f}x at {t} thread{'s' if t > 1 else ''}" for t, s in speedups.items())
          + f" (target {MIN_SPEEDUP}x: {'met' if targets['int8_speed_target_met'] else 'MISSED'})")
    if "int8 QAT" in figures:
        qat_loss = base["mAP50-95"] - figures["int8 QAT"]["mAP50-95"]
        recovery = (loss - qat_loss) / loss if loss > 0 else None
        targets.update({"qat_mAP50-95_loss": qat_loss, "qat_recovery_of_ptq_loss": recovery,
                        "qat_target_met": None if recovery is None else recovery >= MIN_QAT_RECOVERY})
        print(f"int8 QAT vs fp32 ONNX: mAP50-95 {-qat_loss:+.4f}; recovers "
              + (f"{recovery:.0%}" if recovery is not None else "nothing (PTQ lost nothing)")
              + f" of PTQ's loss (target at least {MIN_QAT_RECOVERY:.0%}: "
              f"{ {True: 'met', False: 'MISSED', None: 'nothing to recover'}[targets['qat_target_met']]})")
    write_json(cfg.out, {
        "machine": machine, "load_average_before_after": [load_before[0], load_after[0]],
        "versions": {"torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__},
        "weights": str(weights), "data": cfg.data, "split": cfg.split, "imgsz": imgsz, "calib": cfg.calib,
        "calib_method": cfg.calib_method, "qat_weights": str(qat) if qat else None, "models": figures, "targets": targets,
    })
    print(f"wrote {cfg.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
