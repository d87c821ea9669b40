"""Distributed validation: every rank runs its shard, detections are gathered to rank 0 and scored.

The gathered detections are exactly those a single process would produce (the validation sampler
shards without padding), so the metrics equal single-process validation.

What is scored is the model as `val`, `predict` and export run it: BatchNorm folded into the convs.
Folding changes the outputs in the last bits, and on a young model with many near-equal scores that
reorders detections enough to move mAP by ~5e-4; scoring the fused model in training too makes the
numbers in results.csv the ones `turboyolo val` reproduces from best.pt.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from turboyolo.engine import amp as amp_lib
from turboyolo.engine.model_input import to_model_input
from turboyolo.metrics.coco_json import write_val_predictions
from turboyolo.metrics.detection import DetectionEvaluator
from turboyolo.ops.nms import non_max_suppression

# Top-scoring candidates per image that enter NMS during validation. NMS cost grows with its square;
# on BCCD (trained yolov8n) 1000 gave the same mAP50-95 to 5 decimals as 30000, with 20x less NMS time.
VAL_MAX_CANDIDATES = 1000


def validation_batch_per_rank(global_train_batch: int, world_size: int) -> int:
    """Images per validation batch on one rank: twice the per-rank training batch (no gradients held)."""
    return max(global_train_batch // world_size, 1) * 2


def fused_copy(model: torch.nn.Module, memory_format: torch.memory_format) -> torch.nn.Module:
    """An eval-mode copy of `model` with BatchNorm folded, laid out as eval_model lays out a checkpoint's
    model (fold, then memory format); a model without `fuse` (a test stand-in) is returned as it is."""
    if not hasattr(model, "fuse"):
        return model
    return copy.deepcopy(model).eval().fuse().to(memory_format=memory_format)


def to_original_pixels(dets: torch.Tensor, scale_pad: torch.Tensor, orig_hw: torch.Tensor) -> torch.Tensor:
    """Undo the letterbox. dets (n, 6) xyxy in network pixels -> xyxy in original image pixels, clipped."""
    out = dets.clone()
    scale, pad_x, pad_y = scale_pad.tolist()
    out[:, [0, 2]] = (out[:, [0, 2]] - pad_x) / scale
    out[:, [1, 3]] = (out[:, [1, 3]] - pad_y) / scale
    h, w = orig_hw.tolist()
    out[:, [0, 2]] = out[:, [0, 2]].clamp(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clamp(0, h)
    return out


@torch.inference_mode()
def predict_shard(model, loader, device, amp_dtype, memory_format, conf: float, iou: float, max_det: int,
                  agnostic: bool) -> list[tuple[int, np.ndarray]]:
    """[(dataset index, detections (n, 6) xyxy,score,class in original pixels)] for this rank's shard."""
    was_training = model.training
    model.eval()
    results = []
    for batch in loader:
        images = to_model_input(batch["images"], device, memory_format)
        with amp_lib.autocast(device, amp_dtype):
            preds = model(images)
        # multi-label: a box may count for several classes (the COCO-standard way to score mAP)
        dets = non_max_suppression(preds.float(), conf, iou, max_det, agnostic=agnostic, multi_label=True,
                                   max_candidates=max(VAL_MAX_CANDIDATES, 3 * max_det))
        for k, det in enumerate(dets):
            det = to_original_pixels(det.cpu(), batch["scale_pad"][k], batch["orig_shapes"][k])
            results.append((int(batch["indices"][k]), det.numpy()))
    model.train(was_training)
    return results


def validate(model, loader, records, names, strategy, cfg, amp_dtype, memory_format, plots_dir: Path | None = None,
             category_ids: list[int] | None = None) -> dict:
    """Metrics dict (precision, recall, mAP50, mAP50-95 and per-class lists) on every rank.

    category_ids: the dataset's COCO category id of each class (DetectionData.category_ids), used
    by save_json=True so that predictions score against the dataset's own COCO file.
    """
    conf = 0.001 if cfg.conf is None else cfg.conf
    local = predict_shard(fused_copy(model, memory_format), loader, strategy.env.device, amp_dtype, memory_format,
                          conf, cfg.iou, cfg.max_det, cfg.agnostic_nms)
    gathered = strategy.gather_objects(local)
    metrics = None
    if gathered is not None:
        by_index = dict(item for part in gathered for item in part)
        order = sorted(by_index)
        evaluator = DetectionEvaluator(list(names))
        evaluator.add(
            [records[i].image_id for i in order],
            [records[i].boxes for i in order],
            [records[i].classes for i in order],
            [by_index[i] for i in order],
            ignored_boxes=[records[i].ignored_boxes for i in order],  # difficult/crowd: neither TP nor FP
            ignored_classes=[records[i].ignored_classes for i in order],
        )
        result = evaluator.compute()
        metrics = {key: float(result[key]) for key in ("precision", "recall", "mAP50", "mAP50-95")}
        metrics["per_class"] = result["per_class"]
        if plots_dir is not None and cfg.plots:  # plots_dir also receives save_json's files
            _plot(evaluator, result, names, plots_dir)
        if cfg.save_json and plots_dir is not None:
            _save_json(records, order, by_index, names, category_ids, plots_dir, cfg.verbose)
    return strategy.broadcast_object(metrics)


def _plot(evaluator, result, names, folder: Path) -> None:
    try:
        from turboyolo.plots.confusion_plot import plot_confusion_matrix
        from turboyolo.plots.pr_curve import plot_pr_curve

        curves = result["curves"]
        plot_pr_curve(curves["recall"], curves["precision"], list(names), folder / "PR_curve.png", ap50=curves["ap50"])
        plot_confusion_matrix(result["confusion_matrix"], list(names), folder / "confusion_matrix.png")
    except Exception as err:  # a plot must never cost a training run
        print(f"turboyolo: validation plots skipped ({err})")


def _save_json(records, order, by_index, names, category_ids, folder: Path, verbose: bool) -> None:
    kept = [records[i] for i in order]
    files = write_val_predictions(folder, [r.image_id for r in kept], [by_index[i] for i in order],
                                  [r.boxes for r in kept], [r.classes for r in kept], names, category_ids,
                                  [(r.width, r.height) for r in kept], [Path(r.path).name for r in kept])
    if verbose:
        gt = files["gt"] or "<the dataset's instances_*.json of this split>"
        print(f"COCO predictions: {files['pred']}  (score them: turboyolo eval-coco gt={gt} pred={files['pred']})")


def format_class_table(per_class: list[dict]) -> str:
    """Per-class precision, recall and AP, one line per class (as printed after training and by `val`)."""
    lines = [f"{'class':>16} {'images':>7} {'boxes':>7} {'P':>7} {'R':>7} {'mAP50':>7} {'mAP50-95':>9}"]
    for row in per_class:
        lines.append(f"{row['name'][:16]:>16} {row['images']:>7} {row['instances']:>7} {row['precision']:>7.3f} "
                     f"{row['recall']:>7.3f} {max(row['ap50'], 0):>7.3f} {max(row['ap50_95'], 0):>9.3f}")
    return "\n".join(lines)
