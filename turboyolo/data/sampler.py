"""Which dataset indices each rank reads, in which order: epoch-seeded, sharded, resumable.

Drop-in for torch's DistributedSampler (``set_epoch``, same shuffle-then-interleave sharding idea)
plus two things a resumable, exactly-reproducible trainer needs:

- ``start_index``: a GLOBAL sample offset into this epoch's order. The first ``start_index``
  samples of the epoch's permutation are skipped before sharding, so a run resumed after
  ``step * global_batch`` samples reads exactly the images it had not read yet - even when it
  resumes on a different number of ranks (the permutation depends only on seed and epoch).
- ``pad=False`` (validation): contiguous, un-shuffled shards of uneven length, with no repeated
  images, so predictions gathered from all ranks are exactly the single-process ones. ``order``
  fixes that un-shuffled order (rect validation sorts images by input shape).
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler


class ShardSampler(Sampler[int]):
    """Indices of a ``size``-long dataset for one rank.

    shuffle=True: a permutation seeded by (seed, epoch), identical on every rank.
    pad=True: the order is extended by repeating its start until it divides evenly, then rank r
    takes positions r, r + world_size, ... (every rank yields the same count: DDP needs it).
    pad=False: rank r takes one contiguous block; block sizes differ by at most one.
    """

    def __init__(self, size: int, *, rank: int = 0, world_size: int = 1, shuffle: bool = True, pad: bool = True,
                 seed: int = 0, order: list[int] | None = None):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        if order is not None and (shuffle or sorted(order) != list(range(size))):
            raise ValueError("order must be a permutation of range(size) and needs shuffle=False")
        self.order = None if order is None else list(order)
        self.size, self.rank, self.world_size = size, rank, world_size
        self.shuffle, self.pad, self.seed = shuffle, pad, seed
        self.epoch = 0
        self.start_index = 0

    def set_epoch(self, epoch: int, start_index: int = 0) -> None:
        """Select the epoch's order; ``start_index`` skips that many samples of it (global count)."""
        self.epoch = int(epoch)
        self.start_index = int(start_index)

    def epoch_order(self) -> list[int]:
        """The whole epoch's order before sharding (same on every rank)."""
        if not self.shuffle:
            return list(range(self.size)) if self.order is None else list(self.order)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.size, generator=generator).tolist()

    def __iter__(self):
        order = self.epoch_order()[self.start_index :]
        if self.pad:
            total = math.ceil(len(order) / self.world_size) * self.world_size
            while order and len(order) < total:  # repeat as often as needed (tiny datasets, many ranks)
                order += order[: total - len(order)]
            return iter(order[self.rank :: self.world_size])
        begin, end = self._block(len(order))
        return iter(order[begin:end])

    def _block(self, count: int) -> tuple[int, int]:
        base, extra = divmod(count, self.world_size)
        begin = self.rank * base + min(self.rank, extra)
        return begin, begin + base + (self.rank < extra)

    def __len__(self) -> int:
        remaining = max(self.size - self.start_index, 0)
        if self.pad:
            return math.ceil(remaining / self.world_size)
        begin, end = self._block(remaining)
        return end - begin
