"""modelo/cirugia.py: the export-time remedies against forgetting, on real (tiny) Whisper weights."""

import torch

from conftest import make_tiny_whisper
from modelo import cirugia


def test_merge_is_a_weighted_mean_of_every_floating_tensor():
    trained, pretrained = make_tiny_whisper(seed=1), make_tiny_whisper(seed=2)
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    cirugia.merge_with_pretrained(trained, pretrained, 0.25)
    for name, tensor in trained.state_dict().items():
        expected = 0.75 * before[name] + 0.25 * pretrained.state_dict()[name]
        assert torch.allclose(tensor, expected, atol=1e-6), name


def test_trim_keeps_only_the_largest_changes_of_each_tensor():
    trained, pretrained = make_tiny_whisper(seed=1), make_tiny_whisper(seed=2)
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    start = pretrained.state_dict()
    cirugia.trim_to_pretrained(trained, pretrained, 0.25)
    checked = 0
    for name, tensor in trained.state_dict().items():
        if not tensor.is_floating_point() or tensor.numel() < 10:
            continue
        moved = before[name] - start[name]
        if not moved.any():  # the sinusoidal positions: the same in both models, nothing to trim
            continue
        kept = tensor != start[name]
        assert torch.equal(tensor[kept], before[name][kept]), name  # a change survives whole or not at all
        assert abs(kept.float().mean().item() - 0.25) < 0.02, name
        if kept.any() and (~kept).any():  # every surviving change is larger than every dropped one
            assert moved.abs()[kept].min() >= moved.abs()[~kept].max(), name
        checked += 1
    assert checked > 10
