"""modelo/audio.py: any readable file to 16 kHz mono float32; a broken one is a Spanish error naming it."""

import numpy as np
import pytest
import soundfile as sf

from corpus import datos
from modelo.audio import load_audio


def test_load_audio_any_rate_and_channels_to_16k_mono(tmp_path):
    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1).astype(np.float32) * 0.5
    sf.write(tmp_path / "a.wav", stereo, 44100)
    audio = load_audio(tmp_path / "a.wav")
    assert audio.dtype == np.float32 and audio.ndim == 1 and abs(len(audio) - 16000) <= 1
    assert 0.4 < np.abs(audio).max() < 0.6
    (tmp_path / "roto.wav").write_bytes(b"RIFF nada")
    with pytest.raises(datos.DataDirError, match="roto.wav"):
        load_audio(tmp_path / "roto.wav")
