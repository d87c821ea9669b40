"""Rectangular validation batches: images grouped by network-input shape, so less padding is computed.

A 640x480 image at imgsz 416 fills 416x320 of a 416x416 square letterbox: 23% of that input is grey
padding the network still convolves. With rect validation every image is padded only to the next
stride multiple of its own resized size, and a batch holds images of one shape. Because an image's
input depends on nothing but the image, predictions do not depend on batch size, batch composition
or the number of ranks (distributed validation still equals single-process validation).
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
from torch.utils.data import Sampler


def order_by_shape(shapes: np.ndarray) -> list[int]:
    """Dataset indices sorted by input shape (h, w), ties in index order: same shapes become neighbours.

    shapes: (N, 2) int rows (height, width) of each sample's network input.
    """
    shapes = np.asarray(shapes).reshape(-1, 2)
    return np.lexsort((np.arange(len(shapes)), shapes[:, 1], shapes[:, 0])).tolist()


class ShapeBatchSampler(Sampler[list[int]]):
    """Batches of at most ``batch_size`` consecutive indices of ``sampler`` that share one shape.

    A batch ends when it is full or the next index has another shape, so feed it an order sorted by
    shape (order_by_shape) or most batches come out short. ``sampler`` stays reachable as
    ``.sampler`` (set_epoch goes there, as with torch's BatchSampler).
    """

    def __init__(self, sampler: Iterable[int], shapes: np.ndarray, batch_size: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.sampler = sampler
        self.shapes = [tuple(s) for s in np.asarray(shapes).reshape(-1, 2).tolist()]
        self.batch_size = int(batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            if batch and (len(batch) == self.batch_size or self.shapes[index] != self.shapes[batch[0]]):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch

    def __len__(self) -> int:
        return sum(1 for _ in self)  # a pass over ints: cheap next to a validation epoch
