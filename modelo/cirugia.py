"""Weight surgery against forgetting, applied when a model is exported: trim each tensor's changes to
its largest ones (TIES), then mix with the pretrained weights (WiSE-FT)."""

from __future__ import annotations

import torch
import whisper


@torch.no_grad()
def merge_with_pretrained(model: whisper.model.Whisper, pretrained: whisper.model.Whisper, weight: float) -> None:
    """In place: every floating tensor becomes (1 - weight) * fine-tuned + weight * pretrained."""
    reference = pretrained.state_dict()
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            tensor.lerp_(reference[name].to(tensor.device, tensor.dtype), weight)


@torch.no_grad()
def trim_to_pretrained(model: whisper.model.Whisper, pretrained: whisper.model.Whisper, keep: float) -> None:
    """In place: per floating tensor, only the `keep` fraction of entries that moved most from pretrained
    keep their change; the others become pretrained again. Hand-written (a few lines) because the library
    that has it, peft's merge_utils, would bring transformers and accelerate along."""
    if keep >= 1:
        return
    reference = pretrained.state_dict()
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        start = reference[name].to(tensor.device, tensor.dtype)
        moved = (tensor - start).abs()  # frozen tensors: all zero, nothing to trim
        if moved.numel() < 10 or not moved.any():  # scalars and tiny tensors: too few entries to rank
            continue
        threshold = moved.flatten().float().kthvalue(max(1, int(moved.numel() * (1 - keep)))).values
        tensor.copy_(torch.where(moved >= threshold, tensor, start))


def against_forgetting(model: whisper.model.Whisper, pretrained: whisper.model.Whisper, keep_delta: float,
                       merge_pretrained: float) -> None:
    """In place, the export-time remedies in their one order (fine_tune.py and exportar.py): trim, then mix."""
    trim_to_pretrained(model, pretrained, keep_delta)
    merge_with_pretrained(model, pretrained, merge_pretrained)


def remedy_problems(keep_delta: float, merge_pretrained: float) -> list[str]:
    """Out-of-range values of the export-time remedies against forgetting, in Spanish (empty: all fine)."""
    problems = []
    if not 0 < keep_delta <= 1:
        problems.append(f"--keep-delta {keep_delta:g}: tiene que ser mayor que 0 y como mucho 1 (1: todos los cambios)")
    if not 0 <= merge_pretrained <= 1:
        problems.append(f"--merge-pretrained {merge_pretrained:g}: tiene que estar entre 0 y 1")
    return problems
