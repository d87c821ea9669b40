"""build_dataloader: records + config -> a reproducible, rank-aware DataLoader of dict batches."""
from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, get_worker_info

from turboyolo.cores import workers_per_process
from turboyolo.data.dataset import DetectionDataset
from turboyolo.data.image_cache import SharedImageCache
from turboyolo.data.records import ImageRecord
from turboyolo.data.sampler import ShardSampler
from turboyolo.data.shape_batches import ShapeBatchSampler, order_by_shape


def collate_detection(samples: list[dict]) -> dict:
    """Stack DetectionDataset samples into one batch.

    images:      (B, 3, H, W) uint8 RGB
    targets:     (N, 6) float32 rows [batch_idx, class, cx, cy, w, h], box in [0, 1] of the input size
    paths:       list[str] (B)
    orig_shapes: (B, 2) int64 [h, w] of the original images
    scale_pad:   (B, 3) float32 [scale, pad_x, pad_y]: x_in = x_orig * scale + pad_x (val batches only)
    indices:     (B,) int64 dataset indices
    """
    images = torch.from_numpy(np.stack([s["image"] for s in samples]))
    height, width = images.shape[2:]
    counts = [len(s["classes"]) for s in samples]
    boxes = np.concatenate([s["boxes"] for s in samples]).reshape(-1, 4)
    targets = np.empty((len(boxes), 6), dtype=np.float32)
    targets[:, 0] = np.repeat(np.arange(len(samples)), counts)
    targets[:, 1] = np.concatenate([s["classes"] for s in samples]) if boxes.size else 0
    targets[:, 2] = (boxes[:, 0] + boxes[:, 2]) / (2 * width)
    targets[:, 3] = (boxes[:, 1] + boxes[:, 3]) / (2 * height)
    targets[:, 4] = (boxes[:, 2] - boxes[:, 0]) / width
    targets[:, 5] = (boxes[:, 3] - boxes[:, 1]) / height
    return {
        "images": images,
        "targets": torch.from_numpy(targets),
        "paths": [s["path"] for s in samples],
        "orig_shapes": torch.tensor([s["orig_shape"] for s in samples], dtype=torch.int64),
        "scale_pad": torch.tensor([s["scale_pad"] for s in samples], dtype=torch.float32),
        "indices": torch.tensor([s["index"] for s in samples], dtype=torch.int64),
    }


def _init_worker(worker_id: int) -> None:
    """Seed the global RNGs of a worker (from the loader's seeded generator).

    Augmentation itself does not use these (it is seeded per sample); this covers anything else.
    cv2's thread count is left alone: cv2.setNumThreads in a forked worker whose parent already ran
    cv2's thread pool deadlocks (measured: the worker test hung).
    """
    seed = get_worker_info().seed % 2**32
    np.random.seed(seed)
    random.seed(seed)


class DetectionLoader(DataLoader):
    """A DataLoader whose epoch switch also reaches the dataset (augmentation seed, close_mosaic)."""

    def set_epoch(self, epoch: int, total_epochs: int | None = None, start_index: int = 0) -> None:
        """Call before ``iter(loader)`` each epoch; ``start_index`` = global samples already consumed."""
        self.batch_sampler.sampler.set_epoch(epoch, start_index)
        self.dataset.set_epoch(epoch, total_epochs)


def build_dataloader(
    records: list[ImageRecord],
    cfg,
    *,
    train: bool,
    rank: int = 0,
    world_size: int = 1,
    batch_size: int | None = None,
    cache: SharedImageCache | None = None,
    seed: int | None = None,
    local_world_size: int | None = None,
    workers: int | None = None,
    pin_memory: bool = False,
) -> DetectionLoader:
    """DataLoader over ``records`` for one rank.

    records: the split's ImageRecords. cfg.fraction (< 1) keeps a seeded random subset of the
      TRAIN records (same subset on every rank).
    batch_size: images per batch on THIS rank (default cfg.batch // world_size, at least 1).
    cache: a SharedImageCache holding these records' paths at cfg.imgsz (see
      image_cache.open_image_cache), or None to decode from disk every time.
    seed: default cfg.seed; seeds the shuffle (with the epoch) and augmentation (with epoch and index).
    local_world_size: ranks on this machine, sharing its cores (default world_size).
    workers: default cfg.workers capped at this rank's share of the CPU cores minus one
      (turboyolo/cores.py: 1 on a 2-core machine);
      worker processes are persistent and seeded from (seed, rank).
    pin_memory: True when the batches go to a CUDA device (page-locked memory copies faster).

    train=True: shuffled each epoch, augmented (cfg keys mosaic ... max_box_aspect), shards padded
      by repetition so every rank yields len(loader) batches; the last batch may be short.
    train=False: in order, no augmentation, square letterbox, contiguous shards without
      duplicates (ranks may get one image more or less). cfg.rect_val: each image padded only to
      stride multiples, ordered and batched by that shape (turboyolo/data/shape_batches.py).

    Each epoch call ``loader.set_epoch(epoch, total_epochs, start_index=0)`` before iterating
    (``loader.batch_sampler.sampler.set_epoch`` and ``loader.dataset.set_epoch`` do the two halves); a resumed
    run passes start_index = global samples already consumed in that epoch.
    Batches are dicts, see collate_detection.
    """
    seed = int(cfg.seed if seed is None else seed)
    if train and cfg.fraction < 1.0:
        keep = max(1, round(len(records) * float(cfg.fraction)))
        chosen = np.random.default_rng(seed).permutation(len(records))[:keep]
        records = [records[i] for i in sorted(chosen)]
    dataset = DetectionDataset.from_config(records, cfg, train=train, cache=cache, seed=seed)
    batch_size = int(batch_size or max(1, cfg.batch // world_size))
    shard = dict(rank=rank, world_size=world_size, shuffle=train, pad=train, seed=seed)
    if dataset.rect:  # validation in shape order, batches of one shape
        shapes = dataset.input_shapes()
        batches = ShapeBatchSampler(ShardSampler(len(dataset), order=order_by_shape(shapes), **shard), shapes, batch_size)
    else:
        batches = BatchSampler(ShardSampler(len(dataset), **shard), batch_size, drop_last=False)
    if workers is None:
        workers = workers_per_process(cfg.workers, world_size if local_world_size is None else local_world_size)
    workers = int(workers)
    return DetectionLoader(
        dataset,
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=collate_detection,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        worker_init_fn=_init_worker if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed * 1_000_003 + rank),
    )
