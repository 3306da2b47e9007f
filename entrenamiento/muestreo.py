"""Length-grouped batching: each batch holds utterances of similar token length, so the decoder pads little,
and, with a short audio context (modelo/contexto.py), clips of one window only, so their log-mels stack.

A batch is as wide as its longest token sequence. Hand-written (about 30 lines) rather than taken from transformers,
whose LengthGroupedSampler is not rank-aware and would bring in a large dependency.
"""

from __future__ import annotations

import torch
from torch.utils.data import DistributedSampler


class LengthGroupedSampler(DistributedSampler):
    """Shuffle, cut into buckets of batch_size * ranks * bucket_batches items, sort each bucket by length,
    cut into batches, shuffle the batches. Deterministic per (seed, epoch); every rank computes the same
    order and takes its own disjoint part of each batch.

    A DistributedSampler so that Lightning keeps it under DDP: any other sampler gets wrapped in one that
    reshuffles its output, which would undo the grouping. As DistributedSampler does, when the item count
    is not a multiple of the ranks, up to ranks - 1 items repeat so every rank runs the same number of steps.

    With `groups` (one label per item, e.g. its audio window), no batch mixes two groups: each group is
    batched on its own, topped up with its own items to whole batches (a few repeat each epoch), so that
    every batch a rank reads is full and from one group.
    """

    def __init__(self, lengths: list[int], batch_size: int, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 bucket_batches: int = 50, groups: list | None = None):
        super().__init__(lengths, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False)
        self.lengths, self.batch_size, self.bucket_batches = list(lengths), batch_size, bucket_batches
        self.groups = list(groups) if groups is not None else None
        if self.groups is not None:  # every group rounded up to whole batches
            width = batch_size * num_replicas
            self.total_size = sum(-(-self.groups.count(g) // width) * width for g in set(self.groups))
            self.num_samples = self.total_size // num_replicas

    def global_batches(self) -> list[list[int]]:
        """This epoch's batches across all ranks, each batch_size * num_replicas wide (without groups the last
        may be short)."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        if self.groups is None:
            full, short = self._batches(order, self.total_size)
        else:
            full, short = [], []
            width = self.batch_size * self.num_replicas
            for group in sorted(set(self.groups)):
                members = [i for i in order if self.groups[i] == group]
                full += self._batches(members, -(-len(members) // width) * width)[0]
        return [full[i] for i in torch.randperm(len(full), generator=generator)] + short

    def _batches(self, order: list[int], size: int) -> tuple[list[list[int]], list[list[int]]]:
        """(full batches, the short last one if any) of `order` repeated up to `size` items."""
        if not order:
            return [], []
        order = (order * (-(-size // len(order))))[:size]  # repeated as often as needed (a small group)
        bucket = self.batch_size * self.num_replicas * self.bucket_batches
        order = [i for start in range(0, len(order), bucket)
                 for i in sorted(order[start : start + bucket], key=self.lengths.__getitem__)]
        width = self.batch_size * self.num_replicas
        batches = [order[start : start + width] for start in range(0, len(order), width)]
        short = [batches.pop()] if batches and len(batches[-1]) < width else []  # stays last: batch boundaries hold
        return batches, short

    def __iter__(self):
        mine = []
        for batch in self.global_batches():
            share = len(batch) // self.num_replicas  # batch_size, or less in the short last batch
            mine += batch[self.rank * share : (self.rank + 1) * share]
        return iter(mine)


def window_batches(windows: list[int], batch_size: int) -> list[list[int]]:
    """Batches in item order, each of one audio window (for validation: every item once, nothing shuffled)."""
    batches: list[list[int]] = []
    for window in sorted(set(windows)):
        members = [i for i, w in enumerate(windows) if w == window]
        batches += [members[start : start + batch_size] for start in range(0, len(members), batch_size)]
    return batches


def padding_fraction(lengths: list[int], batches: list[list[int]]) -> float:
    """Share of the decoder's token slots that are padding when each batch is as wide as its longest item."""
    slots = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    return 1 - sum(lengths[i] for batch in batches for i in batch) / slots
