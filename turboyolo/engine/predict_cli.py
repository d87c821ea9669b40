"""`turboyolo predict weights=best.pt source=FILE|DIR|GLOB`: annotated images + JSON of boxes.

Outputs are keyed by the image's name relative to the source (predictor.list_sources): a glob over
several folders keeps their sub-folders, so equal file names never overwrite each other.
imgsz, amp and channels_last come from the checkpoint unless given (checkpoint_settings.py).
weights= may also be an .onnx file from `turboyolo export` (run by onnxruntime, same pre- and post-processing).
"""
from __future__ import annotations

import json

import cv2

from turboyolo.config import ConfigError


def run(cfg, positional=None) -> int:
    from turboyolo.distributed.env import select_device
    from turboyolo.engine.predict_images import open_predictor, predict_batch_size, predict_conf, predict_images, read_images
    from turboyolo.engine.predictor import list_sources
    from turboyolo.engine.run_dir import next_run_dir

    if not cfg.weights or not cfg.source:
        raise ConfigError("predict needs weights=PATH.pt (or .onnx) and source=FILE|DIR|GLOB")
    files = list_sources(cfg.source)
    device = select_device(cfg.device)
    predictor, adopted = open_predictor(cfg, device)
    if cfg.verbose:
        print(f"turboyolo predict: {adopted}")
    project = "runs/predict" if cfg.project == "runs/train" else cfg.project
    out_dir = next_run_dir(project, cfg.name, cfg.exist_ok)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    batch_size = predict_batch_size(cfg.batch)
    for result in predict_images(predictor, read_images(files), predict_conf(cfg.conf), cfg.iou, cfg.max_det,
                                 cfg.agnostic_nms, batch_size):
        annotated = out_dir / result.name
        annotated.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(annotated), result.plot())
        results[result.name] = result.detections()
        if cfg.save_txt:
            h, w = result.orig_img.shape[:2]
            lines = [f"{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f} {s:.4f}"
                     for (x1, y1, x2, y2), s, c in zip(result.boxes.tolist(), result.scores.tolist(), result.classes.tolist())]
            annotated.with_suffix(".txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    (out_dir / "predictions.json").write_text(json.dumps(results, indent=1))
    ms = predictor.times.per_image_ms()
    total = sum(len(v) for v in results.values())
    print(f"{len(results)} images, {total} boxes -> {out_dir}")
    print(f"per image: preprocess {ms['preprocess_ms']:.1f} ms, inference {ms['inference_ms']:.1f} ms, "
          f"NMS {ms['nms_ms']:.1f} ms (batch {batch_size}, {device})")
    return 0
