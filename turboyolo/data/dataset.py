"""One training or validation sample: cached pixels -> (augmented) network-input image and boxes."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from turboyolo.config import default_of
from turboyolo.data.augment.params import AugmentParams
from turboyolo.data.augment.recipe import train_sample
from turboyolo.data.image_cache import SharedImageCache, read_resized
from turboyolo.data.letterbox import fit_scale, pad_to, padded_shape, resized_shape
from turboyolo.data.progressive import OFF, ProgressiveResize
from turboyolo.data.records import ImageRecord


class DetectionDataset(Dataset):
    """``dataset[i]`` -> dict with

    image: (3, S, S) uint8 RGB network input (S = imgsz rounded up to the stride)
    boxes: (N, 4) float32 xyxy pixels of that input; classes: (N,) int64
    path: str; orig_shape: (h, w) of the original image; index: i
    scale_pad: (scale, pad_x, pad_y) with x_in = x_orig * scale + pad_x (exact only without augmentation)

    train=False pads to the square S x S, or with rect=True only to the stride multiples that hold
    the resized image (input_shapes() tells each sample's shape without loading it).
    Arguments left out take the documented defaults of the config keys they stand for (seed,
    close_mosaic, rect = rect_val; params: AugmentParams()), as the command line would.
    train=True applies the recipe in augment/recipe.py; mosaic (and mixup) stop for the last
    ``close_mosaic`` epochs. ``progressive`` (ProgressiveResize) makes early epochs' samples smaller
    (``train_input_size``): each loaded image is scaled down first, so mosaic, affine and the box
    filter work on the smaller canvas with the same random draws as at full size. Randomness comes from a generator seeded by (seed, epoch, index), so a
    sample's augmentation is the same whatever the worker count, rank or resume point.
    The epoch lives in shared memory, so ``set_epoch`` reaches persistent DataLoader workers.
    """

    def __init__(self, records: list[ImageRecord], *, imgsz: int, train: bool, params: AugmentParams | None = None,
                 cache: SharedImageCache | None = None, seed: int = default_of("seed"),
                 close_mosaic: int = default_of("close_mosaic"), stride: int = 32, rect: bool = default_of("rect_val"),
                 progressive: ProgressiveResize | None = None):
        self.records = records
        self.imgsz = int(imgsz)
        self.stride = int(stride)
        self.input_size = padded_shape(self.imgsz, self.imgsz, self.imgsz, stride)[0]
        self.train = train
        self.rect = bool(rect) and not train
        self.params = params or AugmentParams()
        self.seed = int(seed)
        self.close_mosaic = int(close_mosaic)
        self.progressive = progressive or OFF
        self.cache = cache
        if cache is not None:
            if cache.imgsz != self.imgsz:
                raise ValueError(f"image cache holds imgsz={cache.imgsz}, dataset wants {self.imgsz}")
            self.cache_slots = np.array([cache.slot(r.path) for r in records], dtype=np.int64)
        # [epoch, total_epochs (0 = unknown), training input size]
        self._epoch_state = torch.tensor([0, 0, self.input_size], dtype=torch.int64).share_memory_()

    @classmethod
    def from_config(cls, records, cfg, *, train: bool, cache=None, seed=None) -> "DetectionDataset":
        """The dataset the run config describes (seed: default cfg.seed)."""
        return cls(records, imgsz=cfg.imgsz, train=train, params=AugmentParams.from_config(cfg), cache=cache,
                   seed=cfg.seed if seed is None else seed, close_mosaic=cfg.close_mosaic, rect=cfg.rect_val,
                   progressive=ProgressiveResize.from_config(cfg))

    # --- epoch switches -----------------------------------------------------------------------
    def set_epoch(self, epoch: int, total_epochs: int | None = None) -> None:
        """Set the epoch (0-based) that seeds augmentation; ``total_epochs`` enables close_mosaic and progressive resizing."""
        self._epoch_state[0] = int(epoch)
        if total_epochs is not None:
            self._epoch_state[1] = int(total_epochs)
            if self.train:
                self._epoch_state[2] = self.progressive.size_at(int(epoch), int(total_epochs), self.input_size,
                                                                self.stride, self.close_mosaic)

    @property
    def train_input_size(self) -> int:
        """Side of this epoch's training samples (input_size unless progressive resizing shrinks it)."""
        return int(self._epoch_state[2])

    @property
    def epoch(self) -> int:
        return int(self._epoch_state[0])

    @property
    def mosaic_enabled(self) -> bool:
        """False during the last ``close_mosaic`` epochs (needs total_epochs from set_epoch)."""
        epoch, total = int(self._epoch_state[0]), int(self._epoch_state[1])
        return not (total and self.close_mosaic and epoch >= total - self.close_mosaic)

    # --- loading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def input_shapes(self) -> np.ndarray:
        """(N, 2) int64 network-input (height, width) of every validation sample, from the records alone."""
        if not self.rect:
            return np.full((len(self), 2), self.input_size, dtype=np.int64)
        return np.array([self._rect_shape(r.height, r.width) for r in self.records], dtype=np.int64).reshape(-1, 2)

    def _rect_shape(self, height: int, width: int) -> tuple[int, int]:
        """Input (h, w) of an original height x width image: resized to long side imgsz, stride-padded."""
        return padded_shape(*resized_shape(height, width, self.imgsz), self.imgsz, self.stride, square=False)

    def load(self, index: int):
        """(image (h, w, 3) BGR with long side imgsz, boxes (N, 4) xyxy px of it, classes (N,))."""
        record = self.records[index]
        if self.cache is not None:
            image = self.cache.get(int(self.cache_slots[index]))
        else:
            image = read_resized(record.path, record.width, record.height, self.imgsz)
        height, width = image.shape[:2]
        gain = np.array([width / record.width, height / record.height] * 2, dtype=np.float32)
        return image, record.boxes * gain, record.classes

    def _load_scaled(self, index: int, factor: float):
        """load(), scaled by factor < 1 (progressive resizing): long side imgsz * factor."""
        image, boxes, classes = self.load(index)
        height, width = image.shape[:2]
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)  # INTER_AREA cost more than the smaller canvas saved
        gain = np.array([size[0] / width, size[1] / height] * 2, dtype=np.float32)
        return image, boxes * gain, classes

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        record = self.records[index]
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            size = self.train_input_size
            load = self.load if size == self.input_size else (lambda i: self._load_scaled(i, size / self.input_size))
            image, boxes, classes = train_sample(load, index, len(self), rng, size, self.params,
                                                 use_mosaic=self.mosaic_enabled)
            pad_x = pad_y = 0
        else:
            image, boxes, classes = self.load(index)
            out_h, out_w = (self._rect_shape(record.height, record.width) if self.rect
                            else (self.input_size, self.input_size))
            image, pad_x, pad_y = pad_to(image, out_h, out_w)
            boxes = boxes + np.array([pad_x, pad_y, pad_x, pad_y], dtype=np.float32)
        return {
            "image": np.ascontiguousarray(image.transpose(2, 0, 1)[::-1]),  # HWC BGR -> CHW RGB, one copy
            "boxes": boxes.astype(np.float32, copy=False),
            "classes": classes,
            "path": record.path,
            "orig_shape": (record.height, record.width),
            "scale_pad": (fit_scale(record.height, record.width, self.imgsz), pad_x, pad_y),
            "index": index,
        }
