"""`turboyolo val weights=best.pt [data=...] [split=val]`: COCO metrics of a checkpoint on one split.

Without other keys it scores the checkpoint as its training validated it: data, image size,
letterbox, precision, NMS settings and batch come from the checkpoint (checkpoint_settings.py).
weights=best.onnx (from `turboyolo export`) is scored the same way, run by onnxruntime.
Outputs go to runs/val/expN (name=, exist_ok=, project= as for training): metrics.json, the
plots (plots=true) and save_json's predictions. classes=0,2 scores those classes only.
"""
from __future__ import annotations

import json

import torch

from turboyolo.config import ConfigError


def run(cfg, positional=None) -> int:
    validate_weights(cfg)
    return 0


def validate_weights(cfg) -> dict:
    """`turboyolo val` of cfg.weights (adopting the checkpoint's settings into cfg); returns the metrics
    dict of validator.validate (benchmarks call this to score several weights files alike)."""
    from turboyolo.data.formats import load_dataset
    from turboyolo.data.image_cache import open_image_cache
    from turboyolo.data.loader import build_dataloader
    from turboyolo.distributed.factory import setup_distributed
    from turboyolo.engine import amp as amp_lib
    from turboyolo.engine.checkpoint_settings import VAL_KEYS, adopt_checkpoint_settings, trained_settings
    from turboyolo.engine.class_filter import ClassFilteredModel, check_classes, records_with_classes
    from turboyolo.engine.run_dir import mode_run_dir
    from turboyolo.engine.validator import format_class_table, validate, validation_batch_per_rank
    from turboyolo.engine.weights import inference_model, load_weights

    if not cfg.weights:
        raise ConfigError("val needs weights=PATH.pt or PATH.onnx (e.g. runs/train/exp/weights/best.pt)")
    ckpt = load_weights(cfg.weights)
    classes = check_classes(cfg.classes, list(ckpt["names"]))
    adopted = adopt_checkpoint_settings(cfg, ckpt, VAL_KEYS, cfg.weights)
    env, strategy = setup_distributed(cfg)
    if "batch" in cfg.given:
        batch_size, batch_note = max(cfg.batch // env.world_size, 1), ""
    else:  # the batches the training validated in: numerics (and so near-tied scores) can depend on them
        trained_cfg = trained_settings(ckpt, ("batch",), origin=f"checkpoint {cfg.weights}")
        batch_size = validation_batch_per_rank(trained_cfg.batch, env.world_size)
        batch_note = f", validation batch {batch_size} per rank (as in training)"
    if env.is_main and cfg.verbose:
        print(f"turboyolo val: {adopted}{batch_note}")
    data = load_dataset(cfg.data, cfg.cache_dir, verbose=cfg.verbose and env.is_main,
                        difficult=cfg.difficult)
    records = data.split(cfg.split)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = inference_model(ckpt, env.device, memory_format)
    if classes:  # the other classes neither predicted nor in the ground truth: metrics of these alone
        records, model = records_with_classes(records, classes), ClassFilteredModel(model, classes)
    cache = open_image_cache(records, cfg)
    loader = build_dataloader(records, cfg, train=False, rank=env.rank, world_size=env.world_size,
                              batch_size=batch_size, cache=cache, seed=cfg.seed, local_world_size=env.local_world_size,
                              pin_memory=env.device.type == "cuda")
    amp_dtype = amp_lib.resolve_amp(cfg.amp, env.device)
    out_dir = None
    if env.is_main:
        out_dir = mode_run_dir(cfg, "val")
        out_dir.mkdir(parents=True, exist_ok=True)
    metrics = validate(model, loader, records, ckpt["names"], strategy, cfg, amp_dtype, memory_format,
                       plots_dir=out_dir, category_ids=data.category_ids)
    if classes:
        metrics["per_class"] = [row for i, row in enumerate(metrics["per_class"]) if i in classes]
    if env.is_main:
        (out_dir / "metrics.json").write_text(json.dumps({"split": cfg.split, "images": len(records), **metrics},
                                                         indent=1))
        only = f"  classes {','.join(ckpt['names'][c] for c in classes)}" if classes else ""
        print(f"{cfg.split}: {len(records)} images{only}  P {metrics['precision']:.4f}  R {metrics['recall']:.4f}  "
              f"mAP50 {metrics['mAP50']:.4f}  mAP50-95 {metrics['mAP50-95']:.4f}   -> {out_dir}")
        print(format_class_table(metrics["per_class"]))
    strategy.close()
    return metrics
