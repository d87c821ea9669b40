"""model: YOLO detector (blocks, spec parsing, head, DetectionModel, BN fusion, build_model)."""
from turboyolo.model.build import build_model
from turboyolo.model.detector import DetectionModel

__all__ = ["build_model", "DetectionModel"]
