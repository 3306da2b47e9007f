"""Packing: several short training answers of one speaker joined into one window of up to ~30 s.

Whisper's encoder always hears a 30 s window, and the decoder's cross-attention reads all of its 1,500
frames, so a 6 s answer padded to 30 s pays for 30 s. Joined with short silences, four answers share
one window: about a quarter of the encoder (and of the cache) and half of the decoder per answer, and
Whisper was pretrained on such multi-sentence windows. Only training packs; validation and evaluation
stay one utterance per clip, as the assistant hears them.

`pack` decides which items go together (pure Python); `Clip` is what the encoder then hears for one
item: its recordings read and joined by those silences.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelo.audio import SAMPLE_RATE, load_audio

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


@dataclass(frozen=True)
class Clip:
    """What the encoder hears for one item: one recording, or several of one speaker joined by silences."""

    paths: tuple[Path, ...]
    gaps: tuple[float, ...] = ()  # seconds of silence before each recording after the first

    def load(self, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """(samples,) float32 mono at sample_rate."""
        parts = [load_audio(self.paths[0], sample_rate)]
        for path, gap in zip(self.paths[1:], self.gaps, strict=True):
            parts += [np.zeros(round(gap * sample_rate), np.float32), load_audio(path, sample_rate)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def key(self) -> str:
        """The audio's content, not its names: a re-recorded clip gets a new encoder-cache entry."""
        digests = [hashlib.sha1(path.read_bytes()).hexdigest() for path in self.paths]
        if len(digests) == 1:
            return digests[0]
        joined = ",".join(digests) + ";" + ",".join(f"{gap:.3f}" for gap in self.gaps)
        return hashlib.sha1(joined.encode()).hexdigest()
