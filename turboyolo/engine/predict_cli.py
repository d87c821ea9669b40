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


def _draw(image, dets, names):
    for x1, y1, x2, y2, score, cls in dets.tolist():
        color = tuple(int(c) for c in ((37 * int(cls)) % 255, (97 * int(cls) + 80) % 255, (173 * int(cls) + 40) % 255))
        cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)), color, 2)
        label = f"{names[int(cls)] if int(cls) < len(names) else int(cls)} {score:.2f}"
        cv2.putText(image, label, (int(x1), max(int(y1) - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return image


def run(cfg, positional=None) -> int:
    from turboyolo.distributed.env import select_device
    from turboyolo.engine.checkpoint_settings import PREDICT_KEYS, adopt_checkpoint_settings
    from turboyolo.engine.predictor import Predictor, list_sources
    from turboyolo.engine.run_dir import next_run_dir
    from turboyolo.engine.weights import load_weights

    if not cfg.weights or not cfg.source:
        raise ConfigError("predict needs weights=PATH.pt (or .onnx) and source=FILE|DIR|GLOB")
    files = list_sources(cfg.source)
    device = select_device(cfg.device)
    ckpt = load_weights(cfg.weights)
    adopted = adopt_checkpoint_settings(cfg, ckpt, PREDICT_KEYS, cfg.weights)
    if cfg.verbose:
        print(f"turboyolo predict: {adopted}")
    predictor = Predictor(ckpt, device, imgsz=cfg.imgsz, amp=cfg.amp, channels_last=cfg.channels_last)
    project = "runs/predict" if cfg.project == "runs/train" else cfg.project
    out_dir = next_run_dir(project, cfg.name, cfg.exist_ok)
    out_dir.mkdir(parents=True, exist_ok=True)
    conf = 0.25 if cfg.conf is None else cfg.conf
    results = {}
    batch_size = max(1, min(cfg.batch, 32))
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        images, kept = [], []
        for source in chunk:
            image = cv2.imread(str(source.path))
            if image is None:
                print(f"turboyolo predict: skipping unreadable image {source.path}")
                continue
            images.append(image)
            kept.append(source)
        if not images:
            continue
        found = predictor.predict_batch(images, conf, cfg.iou, cfg.max_det, cfg.agnostic_nms)
        for source, image, dets in zip(kept, images, found):
            annotated = out_dir / source.name
            annotated.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(annotated), _draw(image, dets, predictor.names))
            results[source.name] = [
                {"class": int(c), "name": predictor.names[int(c)], "score": round(float(s), 4),
                 "box_xyxy": [round(float(v), 2) for v in (x1, y1, x2, y2)]}
                for x1, y1, x2, y2, s, c in dets.tolist()
            ]
            if cfg.save_txt:
                h, w = image.shape[:2]
                lines = [f"{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f} {s:.4f}"
                         for x1, y1, x2, y2, s, c in dets.tolist()]
                annotated.with_suffix(".txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    (out_dir / "predictions.json").write_text(json.dumps(results, indent=1))
    ms = predictor.times.per_image_ms()
    total = sum(len(v) for v in results.values())
    print(f"{len(results)} images, {total} boxes -> {out_dir}")
    print(f"per image: preprocess {ms['preprocess_ms']:.1f} ms, inference {ms['inference_ms']:.1f} ms, "
          f"NMS {ms['nms_ms']:.1f} ms (batch {batch_size}, {device})")
    return 0
