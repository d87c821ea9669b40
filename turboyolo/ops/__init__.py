"""Tensor operations on boxes shared by the loss, NMS and metrics (no torchvision)."""
