"""Audio in: any file soundfile reads -> 16 kHz mono float32 -> Whisper's log-mel; and the header check.

Shapes: wav --load_audio--> (samples,) float32 16 kHz --log_mel--> (n_mels, 100 * window seconds)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
import whisper
from whisper.audio import CHUNK_LENGTH, N_SAMPLES, SAMPLE_RATE  # noqa: F401 - N_SAMPLES re-exported

from corpus import datos

NOT_FINITE = "audio con valores no numéricos (NaN o infinito)"
SILENCE_PEAK = 1e-4  # peak amplitude at or below about -80 dBFS: digital silence, nothing was said


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file soundfile reads, any rate and channel count -> (samples,) mono float32 at sample_rate."""
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise datos.DataDirError(f"{path}: no se pudo leer el audio ({e}). ¿Es un wav/flac válido?") from None
    if not np.isfinite(audio).all():  # NaN/inf would reach the decoder and crash it a minute later
        raise datos.DataDirError(f"{path}: {NOT_FINITE}. Grabalo o exportalo de nuevo como wav PCM.")
    audio = audio.mean(axis=1)
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate).astype(np.float32)
    return audio


def log_mel(audio: np.ndarray, n_mels: int, seconds: int = CHUNK_LENGTH) -> torch.Tensor:
    """(samples,) -> (n_mels, 100 * seconds): padded or trimmed to a window of `seconds` (Whisper's is 30 s;
    see contexto.py for shorter ones)."""
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(audio), seconds * SAMPLE_RATE), n_mels)


def audio_problem(path: Path) -> str | None:
    """Why a clip cannot be used (missing, unreadable, empty, longer than Whisper's 30 s window, NaN/inf
    samples, silent), or None. Training, evaluation, the assistant and the kiosk share it.

    The header is checked first; the samples are read too (a float wav's header says nothing about NaN),
    which for clips of a few seconds costs about a millisecond each.
    """
    if not path.is_file():
        return "audio faltante"
    try:
        info = sf.info(str(path))
        if info.frames == 0:
            return "audio vacío (sin muestras)"
        if info.frames / info.samplerate > CHUNK_LENGTH:
            return f"audio de más de {CHUNK_LENGTH} s"
        samples = sf.read(str(path), dtype="float32", always_2d=True)[0]
    except (sf.LibsndfileError, RuntimeError, OSError):
        return "audio ilegible"
    if not np.isfinite(samples).all():
        return NOT_FINITE
    if np.abs(samples).max() <= SILENCE_PEAK:
        return "audio en silencio"
    return None
