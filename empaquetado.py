"""Packing: several short training answers of one speaker joined into one window of up to ~30 s.

Whisper's encoder always hears a 30 s window, and the decoder's cross-attention reads all of its 1,500
frames, so a 6 s answer padded to 30 s pays for 30 s. Joined with short silences, four answers share
one window: about a quarter of the encoder (and of the cache) and half of the decoder per answer, and
Whisper was pretrained on such multi-sentence windows. Only training packs; validation and evaluation
stay one utterance per clip, as the assistant hears them.

Pure Python: it decides which items go together; comun.SpeechDataset reads and joins the audio.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MIN_GAP_S, MAX_GAP_S = 0.3, 1.0  # silence between joined answers: a pause, not a new recording


@dataclass(frozen=True)
class Window:
    members: tuple[int, ...]  # item indices, in the order they are heard
    gaps: tuple[float, ...]  # seconds of silence before each member after the first


def pack(speakers: list[str], seconds: list[float], tokens: list[int], max_seconds: float, max_tokens: int,
         seed: int = 0) -> list[Window]:
    """Greedy packing of items into windows of one speaker, at most `max_seconds` of audio (gaps included)
    and `max_tokens` text tokens each. Every item lands in exactly one window; an item that alone is over
    a limit gets a window of its own (the dataset has already dropped what cannot be used at all).
    Deterministic for a given seed: the encoder cache keys depend on it.
    """
    rng = random.Random(seed)
    by_speaker: dict[str, list[int]] = {}
    for index, speaker in enumerate(speakers):
        by_speaker.setdefault(speaker, []).append(index)
    windows = []
    for indices in by_speaker.values():
        rng.shuffle(indices)
        members, gaps, length, count = [], [], 0.0, 0
        for i in indices:
            gap = round(rng.uniform(MIN_GAP_S, MAX_GAP_S), 2)
            if members and (length + gap + seconds[i] > max_seconds or count + tokens[i] > max_tokens):
                windows.append(Window(tuple(members), tuple(gaps)))
                members, gaps, length, count = [], [], 0.0, 0
            if members:
                gaps.append(gap)
                length += gap
            members.append(i)
            length += seconds[i]
            count += tokens[i]
        if members:
            windows.append(Window(tuple(members), tuple(gaps)))
    return windows
