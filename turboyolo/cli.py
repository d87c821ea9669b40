"""`turboyolo MODE key=value ...`: the command line, in the style YOLO users know.

Each mode is a function ``run(cfg, positional) -> exit code`` in its own module, imported only
when used so that `turboyolo help` stays instant.
"""
from __future__ import annotations

import importlib
import sys

from turboyolo.config import ConfigError, build_config, load_schema, split_overrides
from turboyolo.data.records import DatasetError

# mode -> (module:function, one-line description)
MODES: dict[str, tuple[str, str]] = {
    "train": ("turboyolo.engine.train_cli:run", "train a detector (torchrun-aware; device=0,1 or nproc=N spawns workers)"),
    "val": ("turboyolo.engine.val_cli:run", "validate a checkpoint: weights=... data=... split=val"),
    "predict": ("turboyolo.engine.predict_cli:run", "detect objects: weights=... source=FILE|DIR|GLOB"),
    "synth": ("turboyolo.data.synth:run", "generate the synthetic dataset: out=DIR n=... imgsz=... classes=..."),
    "check": ("turboyolo.data.check:run", "dataset health report: data=...; exit 1 if it cannot be trained on"),
    "convert": ("turboyolo.data.convert:run", "convert a dataset: data=SRC to=yolo|coco out=DIR"),
    "show": ("turboyolo.data.show:run", "PNG grid of augmented training samples: data=... n=16 out=FILE.png"),
    "eval-coco": ("turboyolo.metrics.eval_coco_cli:run", "COCO metrics: gt=GT.json pred=DETS.json (same numbers as pycocotools)"),
    "bench": ("turboyolo.perf.bench_cli:run", "measure: bench [hw|scaling [predict]] model=n imgsz=640 batch=16"),
}

# Modes that take their own free-form keys instead of the run configuration.
RAW_KEY_MODES = {"eval-coco"}


def print_help(mode: str | None = None) -> None:
    schema = load_schema()
    if mode is None:
        print("usage: turboyolo MODE key=value ...\n\nmodes:")
        for name, (_, text) in MODES.items():
            print(f"  {name:<10} {text}")
        print("\n`turboyolo MODE --help` lists every key. Keys come from turboyolo/config/default.yaml;")
        print("cfg=FILE.yaml overrides the defaults and key=value overrides both.\n")
    else:
        print(f"usage: turboyolo {mode} key=value ...   ({MODES[mode][1]})\n")
    section = None
    for spec in schema.values():
        if spec.section != section:
            section = spec.section
            print(f"\n[{section}]")
        print(f"  {spec.name}={spec.default!s:<14} {spec.help}  ({spec.describe()})")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"help", "-h", "--help"}:
        print_help(argv[1] if len(argv) > 1 and argv[1] in MODES else None)
        return 0
    mode, rest = argv[0], argv[1:]
    if mode not in MODES:
        import difflib

        close = difflib.get_close_matches(mode, MODES, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        print(f"turboyolo: unknown mode '{mode}'{hint}; modes: {', '.join(MODES)}", file=sys.stderr)
        return 2
    if any(word in {"-h", "--help", "help"} for word in rest):
        print_help(mode)
        return 0
    positional, pairs = split_overrides(rest)
    module_name, func_name = MODES[mode][0].split(":")
    try:
        cfg = pairs if mode in RAW_KEY_MODES else build_config(pairs)
    except ConfigError as err:
        print(f"turboyolo {mode}: {err}", file=sys.stderr)
        return 2
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(cfg, positional) or 0)
    except ConfigError as err:
        print(f"turboyolo {mode}: {err}", file=sys.stderr)
        return 2
    except (DatasetError, FileNotFoundError) as err:  # bad input: one clear line, no traceback
        print(f"turboyolo {mode}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"turboyolo {mode}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
