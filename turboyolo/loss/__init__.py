"""loss: task-aligned assignment, CIoU + DFL box losses, BCE class loss (DetectionLoss)."""
from turboyolo.loss.detection_loss import DetectionLoss

__all__ = ["DetectionLoss"]
