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


def test_samples_are_checked_not_only_the_header(tmp_path):
    """A float wav full of NaN has a perfect header: it used to crash the decoder a minute later."""
    from modelo.audio import audio_problem

    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    nan = tone.copy()
    nan[100:200] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    sf.write(tmp_path / "inf.wav", np.full(16000, np.inf, np.float32), 16000, subtype="FLOAT")
    sf.write(tmp_path / "silencio.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "vacio.wav", np.zeros(0, np.float32), 16000)
    sf.write(tmp_path / "bien.wav", tone, 16000)
    assert audio_problem(tmp_path / "bien.wav") is None
    assert "NaN" in audio_problem(tmp_path / "nan.wav") and "NaN" in audio_problem(tmp_path / "inf.wav")
    assert audio_problem(tmp_path / "silencio.wav") == "audio en silencio"
    assert "vacío" in audio_problem(tmp_path / "vacio.wav")
    for name in ("nan.wav", "inf.wav"):
        with pytest.raises(datos.DataDirError, match=name):
            load_audio(tmp_path / name)
