"""Training-only audio augmentation: speed perturbation, white noise at a chosen SNR, SpecAugment masks.

Order for one clip: speed (audio) -> noise (audio) -> log-mel -> SpecAugment (mel). Validation is never
augmented. Any augmentation changes what the encoder sees, so the encoder-output cache cannot serve training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
import torch
from whisper.audio import HOP_LENGTH, N_SAMPLES, SAMPLE_RATE

# SpecAugment (Park et al. 2019), LibriSpeech policy widths. Their time masks may span the whole clip;
# ours are capped at a fifth of it (as in their adaptive policies) because these clips are 2-5 s long.
FREQ_MASK_WIDTH = 27  # mel bands, for 80 bands; scaled for 128-band models
N_FREQ_MASKS = 2
TIME_MASK_WIDTH = 100  # frames of 10 ms
TIME_MASK_FRACTION = 0.2
N_TIME_MASKS = 2
SPEED_LIMITS = (0.5, 2.0)


def parse_speed(text: str) -> tuple[float, float] | None:
    """'0.9,1.1' -> (0.9, 1.1); '' -> None. ValueError with a Spanish message when malformed."""
    if not text.strip():
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--speed-perturb: se esperaba 'MIN,MAX' (por ejemplo 0.9,1.1), no {text!r}") from None
    if not SPEED_LIMITS[0] <= low <= high <= SPEED_LIMITS[1]:
        raise ValueError(f"--speed-perturb: MIN no puede ser mayor que MAX y los dos van entre {SPEED_LIMITS[0]} "
                         f"y {SPEED_LIMITS[1]}; no {text!r}")
    return low, high


def speed_perturb(audio: np.ndarray, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Play `factor` times faster (pitch moves too, as in Kaldi's speed perturbation): resample as if
    the clip had been recorded at sample_rate * factor."""
    return soxr.resample(audio, sample_rate * factor, sample_rate).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise whose power is the clip's mean power divided by 10^(snr/10)."""
    power = float(np.mean(audio.astype(np.float64) ** 2))
    noise = rng.standard_normal(len(audio)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (audio + noise).astype(np.float32)


def spec_augment(mel: torch.Tensor, n_frames: int, rng: np.random.Generator) -> torch.Tensor:
    """Frequency and time masks on a (n_mels, 3000) log-mel, only over the clip's first n_frames (the
    rest is Whisper's silence padding, left as the model knows it). Hand-written: torchaudio's masks
    would need torchaudio, which has no build for our torch 2.13."""
    mel = mel.clone()
    n_frames = max(1, min(n_frames, mel.shape[1]))
    # Park et al. fill with the mean of their zero-mean features; Whisper's log-mel is not zero-mean.
    fill = mel[:, :n_frames].mean()
    freq_width = FREQ_MASK_WIDTH * mel.shape[0] // 80
    for _ in range(N_FREQ_MASKS):
        width = int(rng.integers(0, freq_width + 1))
        start = int(rng.integers(0, mel.shape[0] - width + 1))
        mel[start : start + width, :n_frames] = fill
    time_width = min(TIME_MASK_WIDTH, int(TIME_MASK_FRACTION * n_frames))
    for _ in range(N_TIME_MASKS):
        width = int(rng.integers(0, time_width + 1))
        start = int(rng.integers(0, n_frames - width + 1))
        mel[:, start : start + width] = fill
    return mel


@dataclass(frozen=True)
class Augmentation:
    """What to do to each training clip; falsy when nothing is on."""

    specaugment: bool = False
    speed: tuple[float, float] | None = None
    noise_snr: float | None = None  # dB

    def __bool__(self) -> bool:
        return self.specaugment or self.speed is not None or self.noise_snr is not None

    def describe(self) -> str:
        """Spanish, for the one line that says the cache is off and why."""
        parts = (["specaugment"] if self.specaugment else []) + (
            [f"velocidad {self.speed[0]}–{self.speed[1]}"] if self.speed else []) + (
            [f"ruido a {self.noise_snr:g} dB de SNR"] if self.noise_snr is not None else [])
        return ", ".join(parts)

    def audio(self, audio: np.ndarray, rng: np.random.Generator, max_samples: int = N_SAMPLES) -> np.ndarray:
        """The clip perturbed; a slowed-down clip that would not fit the window (`max_samples`) keeps its speed."""
        if self.speed is not None:
            faster = speed_perturb(audio, float(rng.uniform(*self.speed)))
            if len(faster) <= max_samples:  # a slowed-down clip must still fit its window, or its text would not
                audio = faster
        if self.noise_snr is not None:
            audio = add_noise(audio, self.noise_snr, rng)
        return audio

    def mel(self, mel: torch.Tensor, n_samples: int, rng: np.random.Generator) -> torch.Tensor:
        return spec_augment(mel, n_samples // HOP_LENGTH, rng) if self.specaugment else mel
