"""The Python front end: the CLI's modes as methods of one object that holds the weights.

    from turboyolo import Detector
    model = Detector("n")                       # a model scale, a model YAML, a .pt checkpoint or an .onnx
    model.train(data="data.yaml", epochs=10)    # now holds the run's best.pt
    metrics = model.val()                       # {"mAP50-95": ..., "per_class": ...}
    for result in model.predict("images/"):     # one Result per image
        cv2.imwrite(f"out/{result.name}", result.plot())
    onnx_path = model.export()

Every keyword is a key of turboyolo/config/default.yaml, validated by build_config as on the
command line; each method calls the function its CLI mode calls, which returns what the CLI prints.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from turboyolo.config import ConfigError, build_config
from turboyolo.engine.results import Result

TRAINER_EVENTS = ("on_train_start", "on_optimizer_step", "on_epoch_end", "on_fit_end")


class Detector:
    """model: "n".."x" or a model YAML (to train from scratch), a .pt checkpoint (to fine-tune, validate,
    predict with, export), or an exported .onnx (to validate and predict with)."""

    def __init__(self, model: str | Path = "n"):
        self.model = str(model)
        self.callbacks: dict[str, list[Callable]] = {}
        self.last_train: dict = {}  # the summary of the latest .train()
        self._predictor = None  # (key, Predictor): reused while weights and settings stay the same

    @property
    def weights(self) -> str | None:
        """The checkpoint val/predict/export use: the one given, or the best of the latest .train()."""
        return self.model if Path(self.model).suffix.lower() in {".pt", ".onnx"} else None

    def add_callback(self, event: str, fn: Callable) -> None:
        """fn(trainer) at `event` of every later .train() (see engine/trainer.Trainer)."""
        if event not in TRAINER_EVENTS:
            raise ConfigError(f"callback event {event!r}: expected one of {', '.join(TRAINER_EVENTS)}")
        self.callbacks.setdefault(event, []).append(fn)

    def train(self, **keys) -> dict:
        """`turboyolo train model=<this model> **keys`; returns the run summary (run_dir, best metrics...)."""
        from turboyolo.engine.train_cli import train
        from turboyolo.engine.weights import is_onnx

        if is_onnx(self.model):
            raise ConfigError(f"Detector({self.model!r}) is an exported ONNX model: train from the .pt checkpoint "
                              "it was exported from")
        cfg = build_config({"model": self.model, **keys})
        self.last_train = train(cfg, self.callbacks)
        if self.last_train.get("weights"):
            self.model = self.last_train["weights"]
            self._predictor = None
        return self.last_train

    def val(self, **keys) -> dict:
        """`turboyolo val weights=<these weights> **keys`; returns the metrics (precision, recall, mAP50,
        mAP50-95, per_class...)."""
        from turboyolo.engine.val_cli import validate_weights

        return validate_weights(build_config({"weights": self._require_weights("val"), **keys}))

    def predict(self, source, **keys) -> list[Result]:
        """source: an image or video file, folder or glob (as `turboyolo predict source=`), or a BGR (H, W, 3)
        uint8 array or a list of them. Returns one Result per image or video frame; nothing is written to disk."""
        from turboyolo.data.sources import iter_frames, list_sources
        from turboyolo.engine.predict_images import array_frames, predict_frames

        in_memory = isinstance(source, np.ndarray) or (isinstance(source, (list, tuple)) and source
                                                       and isinstance(source[0], np.ndarray))
        cfg = build_config({"weights": self._require_weights("predict"), **keys,
                            **({} if in_memory else {"source": str(source)})})
        if in_memory:
            frames = array_frames([source] if isinstance(source, np.ndarray) else source)
        else:
            frames = iter_frames(list_sources(cfg.source), cfg.vid_stride)
        return list(predict_frames(self._open_predictor(cfg), frames, cfg))

    def export(self, **keys) -> Path:
        """`turboyolo export weights=<this checkpoint> **keys`; returns the .onnx path (int8=true also writes
        NAME_int8.onnx beside it)."""
        from turboyolo.export.export_cli import export_weights

        return export_weights(build_config({"weights": self._require_weights("export"), **keys}))[0]

    def _require_weights(self, action: str) -> str:
        if self.weights is None:
            raise ConfigError(f"Detector({self.model!r}) has no trained weights to {action}: call .train(...) first, "
                              "or give a checkpoint, e.g. Detector('runs/train/exp/weights/best.pt')")
        return self.weights

    def _open_predictor(self, cfg):
        """The loaded model for these weights and settings; loaded once for repeated predict calls."""
        from turboyolo.distributed.env import select_device
        from turboyolo.engine.predict_images import open_predictor

        key = (cfg.weights, cfg.device, tuple((k, cfg[k]) for k in ("imgsz", "amp", "channels_last") if k in cfg.given))
        if self._predictor is None or self._predictor[0] != key:
            predictor, adopted = open_predictor(cfg, select_device(cfg.device))
            if cfg.verbose:
                print(f"turboyolo predict: {adopted}")
            self._predictor = (key, predictor)
        return self._predictor[1]

    def __repr__(self) -> str:
        return f"Detector({self.model!r})"
