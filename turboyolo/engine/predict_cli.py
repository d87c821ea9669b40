"""`turboyolo predict weights=best.pt source=...`: annotated images and videos, JSON, optional YOLO txt.

source= an image or video file, a folder or glob of them, a camera index or an rtsp/http URL
(data/sources.py). Predictor.stream yields the detections; PredictionWriter writes them into
runs/predict/expN (engine/prediction_writer.py). Outputs are keyed by the name relative to the
source: a glob over several folders keeps their sub-folders, so equal file names never overwrite
each other. imgsz, amp and channels_last come from the checkpoint unless given (checkpoint_settings.py).
weights= may also be an .onnx file from `turboyolo export` (run by onnxruntime, same pre- and post-processing).
"""
from __future__ import annotations

from turboyolo.config import ConfigError


def run(cfg, positional=None) -> int:
    from turboyolo.data.sources import iter_frames, list_sources
    from turboyolo.distributed.env import select_device
    from turboyolo.engine.predict_images import open_predictor
    from turboyolo.engine.prediction_writer import PredictionWriter
    from turboyolo.engine.predictor import MAX_PREDICT_BATCH
    from turboyolo.engine.run_dir import mode_run_dir

    if not cfg.weights or not cfg.source:
        raise ConfigError("predict needs weights=PATH.pt (or .onnx) and source=FILE|DIR|GLOB|CAMERA|URL")
    items = list_sources(cfg.source)
    device = select_device(cfg.device)
    predictor, adopted = open_predictor(cfg, device)  # refuses a wrong classes= before any folder is made
    if cfg.verbose:
        print(f"turboyolo predict: {adopted}")
    batch_size = max(1, min(cfg.batch, MAX_PREDICT_BATCH))
    results = predictor.stream(iter_frames(items, cfg.vid_stride), batch_size, cfg.conf, cfg.iou, cfg.max_det,
                               cfg.agnostic_nms, cfg.classes)
    with PredictionWriter(mode_run_dir(cfg, "predict"), predictor.names, cfg.save_txt, cfg.save_conf,
                          cfg.line_width, cfg.vid_stride) as writer:
        for result in results:
            writer.write(result)
    ms = predictor.times.per_image_ms()
    print(writer.summary())
    print(f"per image: preprocess {ms['preprocess_ms']:.1f} ms, inference {ms['inference_ms']:.1f} ms, "
          f"NMS {ms['nms_ms']:.1f} ms (batch {batch_size}, {device})")
    return 0
