"""`turboyolo export weights=best.pt [format=onnx] [imgsz=] [batch=1] [dynamic=false] [simplify=true] [opset=]
[int8=true calib=200 calib_method=minmax data=]`: best.onnx (and best_int8.onnx) beside the weights.

imgsz and data come from the checkpoint unless given. batch is the graph's fixed batch, 1 unless
given (dynamic=true leaves batch and image size to run time). Before a file takes its name,
onnxruntime runs it on a few images of the model's dataset (synthetic ones when the dataset is not
here) beside PyTorch: an fp32 output beyond tolerance is an error and the file is not kept; the
int8 model reports how many of the fp32 model's detections it finds again.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from turboyolo.config import ConfigError

VERIFY_IMAGES = 8  # images the exported models are compared with PyTorch on
AGREEMENT_CONF = 0.25  # int8 and fp32 detections compared at predict's default confidence


def run(cfg, positional=None) -> int:
    export_weights(cfg)
    return 0


def export_weights(cfg) -> list[Path]:
    """`turboyolo export` of cfg.weights; returns the files written (the .onnx, then the int8 one if asked for)."""
    from turboyolo.engine.checkpoint_settings import EXPORT_KEYS, adopt_checkpoint_settings
    from turboyolo.engine.weights import is_onnx, load_weights
    from turboyolo.export.extra import require

    for module in ("onnx", "onnxruntime"):
        require(module, "turboyolo export")
    if not cfg.weights:
        raise ConfigError("export needs weights=PATH.pt (e.g. runs/train/exp/weights/best.pt)")
    if is_onnx(cfg.weights):
        raise ConfigError(f"weights={cfg.weights} is already ONNX: export the .pt checkpoint it was exported from")
    ckpt = load_weights(cfg.weights)  # a turboyolo checkpoint, or a YOLOv8 .pt imported
    try:
        adopted, missing_data = adopt_checkpoint_settings(cfg, ckpt, EXPORT_KEYS, cfg.weights), None
    except ConfigError as err:  # the dataset is not here: int8 needs it, the fp32 check makes do without
        if cfg.int8:
            raise ConfigError(f"int8=true calibrates on training images: {err}") from None
        adopted = adopt_checkpoint_settings(cfg, ckpt, tuple(k for k in EXPORT_KEYS if k != "data"), cfg.weights)
        missing_data = str(err)
    if cfg.verbose:
        print(f"turboyolo export: {adopted}")
    batch = cfg.batch if "batch" in cfg.given else 1
    target = Path(cfg.weights).with_suffix(".onnx")
    checked = write_fp32(ckpt, cfg, target, batch, missing_data)
    written = [target]
    if cfg.int8:
        written.append(target.with_name(f"{target.stem}_int8.onnx"))
        write_int8(cfg, written[-1], target, checked)
    return written


def staged_path(target: Path) -> Path:
    """Where a file waits for its check: beside the target, so the final rename is atomic."""
    return target.with_name(f".{target.name}.unchecked")


def verification_images(cfg, ckpt: dict, missing_data: str | None) -> tuple[list[np.ndarray], str]:
    """A few validation images of the model's dataset, or synthetic ones (saying why) when it is not here."""
    from turboyolo.data.records import DatasetError
    from turboyolo.export.sample_images import dataset_images, synthetic_images

    if missing_data is None:
        try:
            return dataset_images(cfg.data, cfg.cache_dir, cfg.difficult, "val", VERIFY_IMAGES, cfg.seed)
        except (DatasetError, FileNotFoundError) as err:
            missing_data = str(err)
    images, where = synthetic_images(VERIFY_IMAGES, cfg.imgsz, len(ckpt["names"]), cfg.seed)
    print(f"turboyolo export: checking on synthetic images ({' '.join(missing_data.split())})")
    return images, where


def write_fp32(ckpt: dict, cfg, target: Path, batch: int, missing_data: str | None) -> dict:
    """Export, compare with PyTorch, then give the file its name. Returns what the int8 step compares
    against: the letterboxed images (pixels), the fp32 output on them, their description, the strides."""
    from turboyolo.engine.checkpoint import eval_model
    from turboyolo.engine.model_input import cpu_model_input
    from turboyolo.engine.predictor import letterbox_batch
    from turboyolo.export.onnx_export import export_onnx
    from turboyolo.export.onnx_runtime import OnnxDetector
    from turboyolo.export.verify import check_fp32

    start = time.perf_counter()
    model = eval_model(ckpt, "cpu")
    strides = [int(s) for s in model.strides.tolist()]
    images, where = verification_images(cfg, ckpt, missing_data)
    pixels, _ = letterbox_batch(images, cfg.imgsz, max(strides))
    pixels = cpu_model_input(pixels).numpy()
    with torch.inference_mode():
        reference = model(torch.from_numpy(pixels)).numpy()
    staged = staged_path(target)
    try:
        summary = export_onnx(ckpt, staged, cfg.imgsz, batch, cfg.dynamic, cfg.simplify, cfg.opset, cfg.weights)
        output = OnnxDetector(staged, strides, torch.device("cpu"), torch.get_num_threads()).run(pixels)
        difference, tolerance = check_fp32(reference, output, pixels.shape[-1])
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    shape = "x".join(map(str, summary["input_shape"]))
    print(f"ONNX: {target} ({file_mb(target):.1f} MB, opset {summary['opset']}, input {shape}"
          f"{', onnxslim' if summary['simplified'] else ''}) in {time.perf_counter() - start:.1f} s")
    print(f"onnxruntime vs PyTorch on {where}: max |difference| boxes {difference['boxes_px']:.2g} px, "
          f"scores {difference['scores']:.2g} (tolerance {tolerance['boxes_px']:.2g} px, {tolerance['scores']:.0e})")
    return {"pixels": pixels, "output": output, "where": where, "strides": strides}


def write_int8(cfg, target: Path, fp32_path: Path, fp32: dict) -> None:
    """Quantise the checked fp32 file, calibrating on calib= training images; report its agreement with fp32."""
    from turboyolo.export.extra import require
    from turboyolo.export.metadata import copy_metadata
    from turboyolo.export.onnx_export import save_onnx
    from turboyolo.export.onnx_runtime import OnnxDetector
    from turboyolo.export.quantize import quantize_int8
    from turboyolo.export.sample_images import dataset_images
    from turboyolo.export.verify import detection_agreement, output_difference

    onnx = require("onnx", "int8=true")
    start = time.perf_counter()
    calibration, where = dataset_images(cfg.data, cfg.cache_dir, cfg.difficult, "train", cfg.calib, cfg.seed)
    staged = staged_path(target)
    try:
        float_nodes = quantize_int8(fp32_path, staged, calibration, cfg.imgsz, max(fp32["strides"]), cfg.calib_method)
        model = onnx.load(str(staged))
        copy_metadata(onnx.load(str(fp32_path)), model, precision="int8")
        save_onnx(onnx, model, staged)
        output = OnnxDetector(staged, fp32["strides"], torch.device("cpu"), torch.get_num_threads()).run(fp32["pixels"])
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    found, total = detection_agreement(fp32["output"], output, AGREEMENT_CONF, cfg.iou)
    difference = output_difference(fp32["output"], output)
    print(f"int8: {target} ({file_mb(target):.1f} MB, QDQ, per-channel weights, {cfg.calib_method} calibration on "
          f"{where}, {len(float_nodes)} head-output nodes kept float) in {time.perf_counter() - start:.1f} s")
    print(f"int8 vs fp32 on {fp32['where']}: {found} of {total} detections at conf {AGREEMENT_CONF} found again "
          f"(same class, IoU >= 0.5); max |difference| boxes {difference['boxes_px']:.2g} px, "
          f"scores {difference['scores']:.2g}")


def file_mb(path: Path) -> float:
    return path.stat().st_size / 2**20
