"""The model a training run starts from: a fresh detector, or one fine-tuned from a checkpoint.

`model=best.pt` (or last.pt) starts a *fresh run* (epoch 0, new optimizer, new run folder) whose
architecture is the checkpoint's spec and whose weights come from the checkpoint's weights (the
EMA ones when the run kept an EMA) through turboyolo.model.transfer; `resume=` is the way to
continue a run instead. `freeze=N` then keeps layers 0 .. N-1 as they are. An Ultralytics
YOLOv8 checkpoint (model=yolov8n.pt) is imported first (turboyolo/model/foreign) and then
fine-tuned the same way, with its class names deciding what happens to the class outputs.
"""
from __future__ import annotations

from pathlib import Path

from turboyolo.config import ConfigError
from turboyolo.config.aliases import WHERE_TO_GET_WEIGHTS
from turboyolo.engine.checkpoint import CheckpointError, load_checkpoint
from turboyolo.errors import UserError
from turboyolo.model.build import build_model
from turboyolo.model.detector import DetectionModel
from turboyolo.model.foreign import import_yolov8_checkpoint, is_yolov8_checkpoint
from turboyolo.model.spec import SpecError
from turboyolo.model.transfer import transfer_weights

CHECKPOINT_SUFFIXES = (".pt", ".pth")


def is_checkpoint_path(model_arg) -> bool:
    return isinstance(model_arg, (str, Path)) and str(model_arg).endswith(CHECKPOINT_SUFFIXES)


def load_start_checkpoint(path: str | Path) -> dict:
    """The checkpoint named by model= (ours, or an imported YOLOv8 one), or a one-line error naming the fix."""
    hint = "give the weights/best.pt or weights/last.pt a `turboyolo train` run wrote"
    if not Path(path).is_file():
        raise FileNotFoundError(f"model={path}: no such checkpoint; {WHERE_TO_GET_WEIGHTS}")
    if is_yolov8_checkpoint(path):
        try:
            return import_yolov8_checkpoint(path)
        except UserError as err:  # refused, unreadable or another layout: name the key too
            raise type(err)(f"model={err}") from None
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as err:  # says what the file is instead, and what to give
        raise ConfigError(f"model={err}") from None
    if not isinstance(ckpt.get("names"), list):
        raise ConfigError(f"model={path}: not a turboyolo checkpoint (no class names); {hint}")
    return ckpt


def _fresh_model(source, num_classes: int) -> DetectionModel:
    """build_model, with where to get weights added when model= looks like a weights name (model=yolov8n)."""
    try:
        return build_model(source, num_classes)
    except SpecError as err:
        if isinstance(source, str) and not Path(source).suffix:
            raise SpecError(f"{err}; to start from weights give model=PATH.pt ({WHERE_TO_GET_WEIGHTS})") from None
        raise


def build_start_model(source, names: list[str], freeze: int, verbose: bool) -> DetectionModel:
    """Detector for `names` from `source`: a scale, model YAML or spec dict (fresh weights) or a
    checkpoint path (its architecture and transferred weights); layers 0 .. freeze-1 frozen."""
    if is_checkpoint_path(source):
        ckpt = load_start_checkpoint(source)
        model = build_model(ckpt["spec"], len(names))
        report = transfer_weights(model, ckpt["model"], ckpt["names"], names)
        if verbose:
            if "imported" in ckpt:
                print(ckpt["imported"])
            print(f"fine-tuning from {source} ({len(ckpt['names'])} classes -> {len(names)}): {report.describe()}")
    else:
        model = _fresh_model(source, len(names))
    model.names = names
    if not 0 <= freeze <= len(model.layers):
        raise ConfigError(f"freeze={freeze}: the model has {len(model.layers)} layers (the head is never frozen); "
                          f"use 0 .. {len(model.layers)}")
    model.freeze(freeze)
    if verbose and freeze:
        frozen = sum(p.numel() for p in model.layers[:freeze].parameters())
        total = sum(p.numel() for p in model.parameters())
        print(f"freeze={freeze}: layers 0-{freeze - 1} frozen ({frozen / total:.0%} of the parameters; "
              f"their BatchNorm statistics fixed)")
    return model
