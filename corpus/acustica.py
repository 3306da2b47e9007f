"""Where and by whom a synthetic answer is said: timbre, room and the noise of a parking entrance.

Drawn once per clip when the corpus is planned (so each clip's audio is fixed, the same for a seed, and the
encoder cache still serves training), applied when the clip is rendered:

  speech --timbre: soxr, played at rate*factor (pitch and formants move together, as between vocal tracts
  of different length; the engine's pace pre-compensates the length)--> --room: pyroomacoustics, a shoebox
  room's impulse response (image sources) for a random garage or booth, convolved (scipy)--> --noise of
  the entrance (idling engine, traffic, wind, horn and barrier beeps) mixed at an SNR of 5-20 dB

No recorded noise can be downloaded here, so the noises are synthesised: their spectral slopes come from
`colorednoise`; the engine's harmonics, the beeps and the amplitude swells are a few lines of numpy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import colorednoise
import numpy as np
import pyroomacoustics as pra
import soxr
from scipy.signal import fftconvolve

SAMPLE_RATE = 16000
NOISES = ("motor", "transito", "viento", "bocina")
SNRS_DB = (5.0, 10.0, 15.0, 20.0)
FACTOR_RANGE = (0.9, 1.1)  # about +-1.7 semitones of pitch and +-10% of formant frequencies
ROOM_SHARE = 0.5  # clips said in a room (a garage, a booth); the rest as if outdoors
NOISE_SHARE = 0.5  # clips with an entrance noise
MAX_ORDER = 12  # image-source reflections: enough for the early part; the late tail comes from the RT60's absorption


@dataclass(frozen=True)
class Room:
    size: tuple[float, float, float]  # m
    rt60: float  # s
    source: tuple[float, float, float]  # the driver's mouth
    mic: tuple[float, float, float]  # the kiosk's microphone


@dataclass(frozen=True)
class Acoustics:
    """What happens to one clip after the engine speaks it; the default changes nothing."""

    factor: float = 1.0  # timbre: pitch and formants times factor (applied by the engine's renderer)
    room: Room | None = None
    noise: str | None = None  # one of NOISES
    snr_db: float = 20.0
    seed: int = 0  # the noise's own random stream


def draw(rng: random.Random, variety: bool = True) -> Acoustics:
    """One clip's conditions from the corpus plan's stream (the same number of draws either way, so turning
    variety off keeps every other property of the corpus)."""
    factor = round(rng.uniform(*FACTOR_RANGE), 3)
    in_room, with_noise = rng.random() < ROOM_SHARE, rng.random() < NOISE_SHARE
    size = (round(rng.uniform(3, 12), 2), round(rng.uniform(3, 20), 2), round(rng.uniform(2.4, 4.5), 2))
    rt60 = round(rng.uniform(0.2, 0.8), 2)
    source = tuple(round(rng.uniform(0.25, 0.75) * s, 2) for s in size[:2]) + (round(rng.uniform(1.0, 1.4), 2),)
    angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0.4, 1.5)
    mic = (round(min(max(source[0] + distance * np.cos(angle), 0.2), size[0] - 0.2), 2),
           round(min(max(source[1] + distance * np.sin(angle), 0.2), size[1] - 0.2), 2), round(rng.uniform(1.1, 1.6), 2))
    noise, snr, seed = rng.choice(NOISES), rng.choice(SNRS_DB), rng.randrange(2**32)
    if not variety:
        return Acoustics(seed=seed)
    return Acoustics(factor, Room(size, rt60, source, mic) if in_room else None, noise if with_noise else None, snr, seed)


def room_response(room: Room, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    absorption, _ = pra.inverse_sabine(room.rt60, room.size)
    shoebox = pra.ShoeBox(list(room.size), fs=sample_rate, materials=pra.Material(float(absorption)),
                          max_order=MAX_ORDER)
    shoebox.add_source(list(room.source))
    shoebox.add_microphone(list(room.mic))
    shoebox.compute_rir()
    return np.asarray(shoebox.rir[0][0], np.float64)


def reverberate(audio: np.ndarray, room: Room, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The clip as heard at the microphone, peak kept; the reverberant tail is kept too (up to 0.5 s)."""
    rir = room_response(room, sample_rate)
    wet = fftconvolve(audio.astype(np.float64), rir)[: len(audio) + sample_rate // 2]
    peak_in, peak_out = float(np.max(np.abs(audio))), float(np.max(np.abs(wet))) or 1.0
    return (wet * (peak_in / peak_out)).astype(np.float32)


def _swells(n: int, rng: np.random.Generator, per_second: float, sample_rate: int) -> np.ndarray:
    """A slow random envelope (cars passing, gusts): smoothed noise, 0.3-1."""
    points = max(2, int(n / sample_rate * per_second) + 2)
    knots = rng.uniform(0.3, 1.0, points)
    return np.interp(np.linspace(0, points - 1, n), np.arange(points), knots)


def entrance_noise(kind: str, n: int, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """n samples of one noise of a parking entrance, unit RMS."""
    t = np.arange(n) / sample_rate
    if kind == "motor":  # idling engine: firing harmonics at 25-45 Hz with a wobble, over a low rumble
        f0 = rng.uniform(25, 45) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        out = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 10))
        out = out + 0.5 * colorednoise.powerlaw_psd_gaussian(2, n, random_state=rng)
    elif kind == "transito":  # street behind the barrier: brown and pink noise, swelling as cars pass
        out = (colorednoise.powerlaw_psd_gaussian(2, n, random_state=rng)
               + 0.5 * colorednoise.powerlaw_psd_gaussian(1, n, random_state=rng)) * _swells(n, rng, 0.5, sample_rate)
    elif kind == "viento":  # wind on the microphone: pink noise in gusts
        out = colorednoise.powerlaw_psd_gaussian(1, n, random_state=rng) * _swells(n, rng, 2.0, sample_rate) ** 2
    elif kind == "bocina":  # a horn (two tones, rich in harmonics) and the barrier's beeps, over faint traffic
        out = 0.3 * colorednoise.powerlaw_psd_gaussian(2, n, random_state=rng)
        out = out / (np.sqrt(np.mean(out**2)) or 1.0)
        events = np.zeros(n)
        for _ in range(max(1, int(n / sample_rate / 2))):
            start, length = int(rng.integers(0, n)), int(rng.uniform(0.15, 0.8) * sample_rate)
            seg = t[: min(length, n - start)]
            if rng.random() < 0.5:  # horn
                tone = np.sign(np.sin(2 * np.pi * rng.uniform(350, 420) * seg)) + np.sign(np.sin(2 * np.pi * rng.uniform(440, 520) * seg))
            else:  # beep
                tone = np.sin(2 * np.pi * rng.uniform(1000, 3000) * seg) * 2
            events[start : start + len(seg)] += tone
        out = out + events
    else:
        raise ValueError(f"ruido desconocido: {kind} (hay: {', '.join(NOISES)})")
    out = np.asarray(out, np.float64)
    return out / (np.sqrt(np.mean(out**2)) or 1.0)


def add_entrance_noise(audio: np.ndarray, speech_rms: float, kind: str, snr_db: float, seed: int,
                       sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Noise at `snr_db` below the speech's RMS (measured on the speech alone, before any leading silence)."""
    noise = entrance_noise(kind, len(audio), np.random.default_rng(seed), sample_rate)
    return (audio + noise * speech_rms * 10 ** (-snr_db / 20)).astype(np.float32)


def resample_factor(audio: np.ndarray, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Played `factor` times faster: pitch and formants times factor, length divided by it (soxr)."""
    if factor == 1.0:
        return audio
    return soxr.resample(audio, sample_rate * factor, sample_rate).astype(np.float32)
