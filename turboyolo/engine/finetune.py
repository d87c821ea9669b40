"""The model a training run starts from: a fresh detector, or one fine-tuned from a checkpoint.

`model=best.pt` (or last.pt) starts a *fresh run* (epoch 0, new optimizer, new run folder) whose
architecture is the checkpoint's spec and whose weights come from the checkpoint's weights (the
EMA ones when the run kept an EMA) through turboyolo.model.transfer; `resume=` is the way to
continue a run instead. `freeze=N` then keeps layers 0 .. N-1 as they are.
"""
from __future__ import annotations

from pathlib import Path

from turboyolo.config import ConfigError
from turboyolo.engine.checkpoint import CheckpointError, load_checkpoint
from turboyolo.model.build import build_model
from turboyolo.model.detector import DetectionModel
from turboyolo.model.transfer import transfer_weights

CHECKPOINT_SUFFIXES = (".pt", ".pth")


def is_checkpoint_path(model_arg) -> bool:
    return isinstance(model_arg, (str, Path)) and str(model_arg).endswith(CHECKPOINT_SUFFIXES)


def load_start_checkpoint(path: str | Path) -> dict:
    """The checkpoint named by model=, or a one-line error that names the key and the fix."""
    hint = "give the weights/best.pt or weights/last.pt a `turboyolo train` run wrote"
    if not Path(path).is_file():
        raise FileNotFoundError(f"model={path}: no such checkpoint; {hint}")
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as err:  # says what the file is instead, and what to give
        raise ConfigError(f"model={err}") from None
    if not isinstance(ckpt.get("names"), list):
        raise ConfigError(f"model={path}: not a turboyolo checkpoint (no class names); {hint}")
    return ckpt


def build_start_model(source, names: list[str], freeze: int, verbose: bool) -> DetectionModel:
    """Detector for `names` from `source`: a scale, model YAML or spec dict (fresh weights) or a
    checkpoint path (its architecture and transferred weights); layers 0 .. freeze-1 frozen."""
    if is_checkpoint_path(source):
        ckpt = load_start_checkpoint(source)
        model = build_model(ckpt["spec"], len(names))
        report = transfer_weights(model, ckpt["model"], ckpt["names"], names)
        if verbose:
            print(f"fine-tuning from {source} ({len(ckpt['names'])} classes -> {len(names)}): {report.describe()}")
    else:
        model = build_model(source, len(names))
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
