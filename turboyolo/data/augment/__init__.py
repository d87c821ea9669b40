"""Training-time augmentation: each file holds one transform on (image, boxes, classes).

Conventions shared by every transform here:
  image:   (H, W, 3) uint8, BGR (OpenCV order; the dataset converts to RGB at the very end)
  boxes:   (N, 4) float32 xyxy in pixels of that image, pixel i spanning [i, i+1)
  classes: (N,) int64
  rng:     numpy.random.Generator, seeded per sample by the dataset (reproducible at any worker count)

recipe.py chains them: mosaic or letterbox -> random affine -> box filter -> mixup -> HSV -> flips.
"""
from turboyolo.data.augment.params import AugmentParams

__all__ = ["AugmentParams"]
