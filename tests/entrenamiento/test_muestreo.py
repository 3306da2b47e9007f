"""Length-grouped batching: every item once per epoch, disjoint rank shares, and less decoder padding."""

import random

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler

import comun
from conftest import make_tiny_whisper
from corpus import datos
from entrenamiento.muestreo import LengthGroupedSampler, window_batches
from modelo import decodificacion


def _lengths(n=203, seed=0):
    rng = random.Random(seed)
    return [rng.randint(5, 60) for _ in range(n)]


def test_every_item_once_per_epoch_and_a_new_order_each_epoch():
    lengths = _lengths()
    sampler = LengthGroupedSampler(lengths, batch_size=4, seed=7, bucket_batches=5)
    orders = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
    assert sorted(orders[0]) == sorted(orders[1]) == list(range(len(lengths)))
    assert orders[0] == orders[2] and orders[0] != orders[1]  # deterministic per (seed, epoch)
    assert orders[0] != list(LengthGroupedSampler(lengths, batch_size=4, seed=8, bucket_batches=5))


def test_ranks_get_disjoint_shares_of_equal_size():
    for n, ranks in ((200, 2), (203, 2), (203, 3)):
        lengths = _lengths(n)
        shares = []
        for rank in range(ranks):
            sampler = LengthGroupedSampler(lengths, batch_size=4, num_replicas=ranks, rank=rank, seed=1, bucket_batches=5)
            sampler.set_epoch(3)
            shares.append(list(sampler))
            assert len(shares[-1]) == len(sampler)
        assert len({len(s) for s in shares}) == 1  # same step count on every rank, or DDP hangs
        everything = [i for share in shares for i in share]
        assert set(everything) == set(range(n))
        assert len(everything) - n == (-n) % ranks  # only DistributedSampler's few repeats, never more
        if n % ranks == 0:
            assert len(everything) == len(set(everything))


def _padding(dataset, sampler) -> float:
    """The fraction of label slots that are padding (-100) in the real collated batches."""
    loader = DataLoader(dataset, batch_size=4, sampler=sampler,
                        collate_fn=comun.WhisperDataCollatorWithPadding(dataset.tokenizer.eot))
    labels = torch.cat([batch["labels"].flatten() for batch in loader])
    return (labels == -100).float().mean().item()


@pytest.mark.voz
def test_grouped_batches_pad_less_than_random_order_on_real_data(synth_dir):
    tokenizer = decodificacion.get_tokenizer(make_tiny_whisper(), "es")
    split = {i: "train" for i in datos.read_transcripts(synth_dir)}
    dataset = comun.SpeechDataset(synth_dir, "train", tokenizer, 80, split_map=split)
    # Random order averaged over seeds: one shuffle of 16 clips is too noisy a yardstick.
    random_order = sum(_padding(dataset, RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)))
                       for seed in range(6)) / 6
    grouped = _padding(dataset, LengthGroupedSampler(dataset.token_lengths(), batch_size=4, seed=0))
    # Measured on the fixture's 16 clips: 0.22 against 0.38 (a corpus with bare "Sí."/"No." and whole answers
    # spreads the lengths wider than four to a batch can group tightly); half, before those were in it.
    assert grouped < 0.7 * random_order, (grouped, random_order)


def test_window_groups_never_share_a_batch_on_any_rank():
    """With a short audio context a batch must hold one window: every batch a rank reads is full and of one group."""
    lengths = [(i * 7) % 23 for i in range(37)]
    groups = [10 if i % 3 else 15 for i in range(37)]
    for ranks in (1, 2):
        seen = []
        for rank in range(ranks):
            sampler = LengthGroupedSampler(lengths, 4, ranks, rank, seed=1, groups=groups)
            order = list(sampler)
            assert len(order) == len(sampler) and len(order) % 4 == 0
            batches = [order[i : i + 4] for i in range(0, len(order), 4)]
            assert all(len({groups[i] for i in batch}) == 1 for batch in batches)
            seen += order
        assert set(seen) == set(range(37))  # every item read (a few twice, to fill the last batch of a group)
    validation = window_batches(groups, 4)
    assert sorted(i for batch in validation for i in batch) == list(range(37))  # validation: each item once
    assert all(len({groups[i] for i in batch}) == 1 for batch in validation)
