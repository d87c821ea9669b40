"""Checkpoints written by other trainers, imported onto our detector without running code from them.

restricted_pickle.py reads a pickle of whole module objects into inert placeholders (refusing any
function a weights file never needs); yolov8.py maps an Ultralytics YOLOv8 tree onto our layout.
"""
from turboyolo.model.foreign.restricted_pickle import RefusedPickleError, UnreadablePickleError, load_restricted
from turboyolo.model.foreign.yolov8 import ForeignCheckpointError, import_yolov8_checkpoint, is_yolov8_checkpoint

__all__ = ["ForeignCheckpointError", "RefusedPickleError", "import_yolov8_checkpoint", "is_yolov8_checkpoint",
           "UnreadablePickleError", "load_restricted"]
