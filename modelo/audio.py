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


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file soundfile reads, any rate and channel count -> (samples,) mono float32 at sample_rate."""
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise datos.DataDirError(f"{path}: no se pudo leer el audio ({e}). ¿Es un wav/flac válido?") from None
    audio = audio.mean(axis=1)
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate).astype(np.float32)
    return audio


def log_mel(audio: np.ndarray, n_mels: int, seconds: int = CHUNK_LENGTH) -> torch.Tensor:
    """(samples,) -> (n_mels, 100 * seconds): padded or trimmed to a window of `seconds` (Whisper's is 30 s;
    see contexto.py for shorter ones)."""
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(audio), seconds * SAMPLE_RATE), n_mels)


def audio_problem(path: Path) -> str | None:
    """Why a clip cannot be used whole (missing, unreadable, longer than Whisper's 30 s window), or None.

    Reads only the header, so checking a whole corpus is fast. Training and evaluation share it.
    """
    if not path.is_file():
        return "audio faltante"
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return "audio ilegible"
    if info.frames / info.samplerate > CHUNK_LENGTH:
        return f"audio de más de {CHUNK_LENGTH} s"
    return None
