"""Length-grouped batching: each batch holds utterances of similar token length, so the decoder pads little.

The encoder input is always Whisper's fixed 30 s window; only the decoder's token sequences vary, and a
batch is as wide as its longest one. Hand-written (about 30 lines) rather than taken from transformers,
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
    """

    def __init__(self, lengths: list[int], batch_size: int, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 bucket_batches: int = 50):
        super().__init__(lengths, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False)
        self.lengths, self.batch_size, self.bucket_batches = list(lengths), batch_size, bucket_batches

    def global_batches(self) -> list[list[int]]:
        """This epoch's batches across all ranks, each batch_size * num_replicas wide (the last may be short)."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        order += order[: self.total_size - len(order)]
        bucket = self.batch_size * self.num_replicas * self.bucket_batches
        order = [i for start in range(0, len(order), bucket)
                 for i in sorted(order[start : start + bucket], key=self.lengths.__getitem__)]
        width = self.batch_size * self.num_replicas
        batches = [order[start : start + width] for start in range(0, len(order), width)]
        short = [batches.pop()] if len(batches[-1]) < width else []  # stays last, so batch boundaries hold
        return [batches[i] for i in torch.randperm(len(batches), generator=generator)] + short

    def __iter__(self):
        mine = []
        for batch in self.global_batches():
            share = len(batch) // self.num_replicas  # batch_size, or less in the short last batch
            mine += batch[self.rank * share : (self.rank + 1) * share]
        return iter(mine)


def padding_fraction(lengths: list[int], batches: list[list[int]]) -> float:
    """Share of the decoder's token slots that are padding when each batch is as wide as its longest item."""
    slots = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    return 1 - sum(lengths[i] for batch in batches for i in batch) / slots
