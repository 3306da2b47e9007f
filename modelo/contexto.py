"""The audio context: how many seconds of audio the encoder hears.

Whisper pads every clip to 30 s, and its encoder and every cross-attention of the decoder pay for all
1,500 positions; a driver's answer lasts 2-8 s. A model fine-tuned on a shorter window (FUTO's
whisper-acft; whisper.cpp's `audio_ctx`) hears each clip padded only to its window: the log-mel is cut,
the encoder adds the matching slice of its positional embedding, and the decoder cross-attends to the
shorter sequence.

A context is a setting (Config.audio_context, recorded in checkpoints and exports):
  "30"    today's Whisper: every clip in a 30 s window;
  "N"     a window of N seconds; in training a longer clip is skipped and counted, in decoding it gets
          the next window of WINDOWS that fits it (up to 30 s);
  "auto"  each clip in the smallest window of WINDOWS that fits it, from AUTO_MIN up.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from whisper.audio import CHUNK_LENGTH, HOP_LENGTH, SAMPLE_RATE
from whisper.model import AudioEncoder, Whisper

FULL_SECONDS = CHUNK_LENGTH
SAMPLE_LEN = 224  # whisper's DecodingOptions.sample_len default, for 30 s
FULL = str(FULL_SECONDS)  # "30"
AUTO = "auto"
WINDOWS = (10, 15, 20, 30)  # seconds; few, so a batch of mixed lengths splits into few groups
AUTO_MIN = WINDOWS[0]
MIN_SECONDS = 1
MEL_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100 log-mel frames
ENCODER_PER_SECOND = MEL_PER_SECOND // 2  # 50 encoder positions (conv2 has stride 2)


def problem(setting: str) -> str | None:
    """Why `setting` is not a context, in Spanish (None: it is one)."""
    if setting == AUTO:
        return None
    try:
        seconds = int(setting)
    except ValueError:
        return f"--audio-context {setting}: tiene que ser un número entero de segundos o {AUTO}"
    if not MIN_SECONDS <= seconds <= CHUNK_LENGTH:
        return f"--audio-context {setting}: tiene que estar entre {MIN_SECONDS} y {CHUNK_LENGTH} segundos, o ser {AUTO}"
    return None


def normal(setting) -> str:
    """The canonical spelling of a context setting ("10", "auto"); a ValueError says why it is not one."""
    setting = str(setting).strip().lower()
    if problem(setting):
        raise ValueError(problem(setting))
    return setting if setting == AUTO else str(int(setting))


def minimum(setting: str) -> int:
    """The smallest window a context uses, in seconds."""
    return AUTO_MIN if setting == AUTO else int(setting)


def training_window(setting: str, clip_seconds: float) -> int | None:
    """The window a training clip is padded to, in seconds; None when a fixed context is shorter than the clip."""
    if setting == AUTO:
        return decoding_window(setting, clip_seconds)
    return int(setting) if clip_seconds <= int(setting) else None


def decoding_window(setting: str, clip_seconds: float) -> int:
    """The window a clip is decoded in: the context's own, or the next of WINDOWS that fits a longer clip."""
    low = minimum(setting)
    if clip_seconds <= low:
        return low
    return next((w for w in WINDOWS if w >= math.ceil(clip_seconds) and w > low), CHUNK_LENGTH)


def max_tokens(window_frames: int) -> int:
    """Text tokens a window of `window_frames` log-mel frames may decode: whisper's 224 per 30 s, per second
    (75 in 10 s). A looping decode stops there instead of at 224, which on a short window is mostly loop."""
    return max(16, math.ceil(SAMPLE_LEN * window_frames / (MEL_PER_SECOND * FULL_SECONDS)))


def mel_frames(seconds: int) -> int:
    return seconds * MEL_PER_SECOND


def samples(seconds: int) -> int:
    return seconds * SAMPLE_RATE


def of(model: Whisper) -> str:
    """The context a model was trained for (pesos.load_whisper reads it from the checkpoint); "30" if none."""
    return getattr(model, "audio_context", FULL)


def by_window(setting: str, clip_seconds: list[float]) -> dict[int, list[int]]:
    """Clip indices grouped by their decoding window, in order: one batch per window."""
    groups: dict[int, list[int]] = {}
    for index, seconds in enumerate(clip_seconds):
        groups.setdefault(decoding_window(setting, seconds), []).append(index)
    return groups


def embed(encoder: AudioEncoder, mel: torch.Tensor) -> torch.Tensor:
    """mel (B, n_mels, frames) -> what enters the first encoder block (B, frames // 2, d): the convolutional
    front end plus the first frames // 2 rows of the positional embedding (all 1,500 for a 30 s window)."""
    x = F.gelu(encoder.conv2(F.gelu(encoder.conv1(mel)))).permute(0, 2, 1)
    if x.shape[1] > encoder.positional_embedding.shape[0]:
        raise ValueError(f"audio of {x.shape[1]} encoder positions: the encoder has {encoder.positional_embedding.shape[0]}")
    return (x + encoder.positional_embedding[: x.shape[1]]).to(x.dtype)


class AudioEncoderAnyLength(AudioEncoder):
    """whisper's AudioEncoder for any window up to 30 s: its forward asserts a 30 s input, this one slices
    the positional embedding to the input's length (whisper.cpp's audio_ctx). A 30 s input computes
    exactly what whisper's does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, n_mels, frames) -> (B, frames // 2, n_audio_state)."""
        x = embed(self, x)
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)


def allow_any_length(model: Whisper) -> Whisper:
    """In place: the model's encoder takes windows shorter than 30 s (same weights, same 30 s results)."""
    model.encoder.__class__ = AudioEncoderAnyLength
    return model
