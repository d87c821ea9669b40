"""Which keys of default.yaml each CLI mode reads: what `turboyolo MODE --help` lists.

Whole sections of default.yaml by title, plus single keys; tests/config/test_mode_keys.py runs each
mode and checks that every key listed here is really read by it.
"""
from __future__ import annotations

from turboyolo.config.schema import load_schema

# keys every mode that reads a dataset takes
_DATASET = ("data", "cache_dir", "difficult")
_INFERENCE = ("weights", "imgsz", "batch", "device", "amp", "channels_last", "conf", "iou", "max_det", "agnostic_nms",
              "verbose")

MODE_KEYS: dict[str, tuple[str, ...]] = {
    "train": ("[run]", "[data pipeline]", "[augmentation (train only)]", "[model]", "[optimisation]", "[loss]",
              "sparsity", "teacher", "distill", "distill_t",
              "val", "val_period", "conf", "iou", "max_det", "agnostic_nms", "save_json", "plots", "tensorboard",
              "[checkpoints / fault tolerance]", "[distributed]"),
    "val": (*_INFERENCE, *_DATASET, "split", "workers", "cache", "rect_val", "save_json", "project", "name", "exist_ok",
            "plots", "classes", "seed", "threads"),
    "predict": (*_INFERENCE, "source", "vid_stride", "classes", "save_txt", "save_conf", "line_width", "project", "name",
                "exist_ok"),
    "export": ("weights", "[export (turboyolo export)]", "imgsz", "batch", *_DATASET, "seed", "verbose"),
    "synth": ("out", "n", "imgsz", "nc", "seed"),
    "check": _DATASET,
    "convert": (*_DATASET, "to", "out", "exist_ok", "verbose"),
    "show": ("data", "cache_dir", "n", "out", "imgsz", "seed", "rect_val", "verbose", "[augmentation (train only)]"),
    "prune": ("weights", "ratio", "method", "out", "exist_ok", "imgsz", "data", "batch", "verbose"),
    "tune": ("[tuning (turboyolo tune)]", "[run]", "[data pipeline]", "[augmentation (train only)]", "[model]",
             "[optimisation]", "[loss]", "val_period", "plots", "[distributed]"),
    "bench": ("[benchmark]", "model", "imgsz", "batch", "data", "device", "amp", "channels_last", "compile", "threads",
              "nproc", "workers", "cache", "out", "verbose"),
}


def mode_keys(mode: str) -> list[str]:
    """The keys `mode` reads, in default.yaml's order."""
    schema = load_schema()
    wanted = set()
    for entry in MODE_KEYS[mode]:
        if entry.startswith("["):
            wanted |= {key for key, spec in schema.items() if spec.section == entry[1:-1]}
        else:
            wanted.add(entry)
    return [key for key in schema if key in wanted]
