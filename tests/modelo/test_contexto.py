"""modelo/contexto.py: windows shorter than 30 s, through the real encoder, decoding and checkpoints."""

import json

import numpy as np
import pytest
import torch
from whisper.model import AudioEncoder

from conftest import make_tiny_whisper
from modelo import contexto, decodificacion, pesos
from modelo.audio import log_mel


def test_windows_for_each_setting():
    assert [contexto.decoding_window("30", s) for s in (2, 12, 30)] == [30, 30, 30]
    assert [contexto.decoding_window("10", s) for s in (2, 10, 10.5, 16, 29)] == [10, 10, 15, 20, 30]
    assert [contexto.decoding_window("auto", s) for s in (0.5, 11, 21)] == [10, 15, 30]
    assert [contexto.training_window("10", s) for s in (3, 10, 10.2)] == [10, 10, None]  # too long: skipped
    assert contexto.training_window("auto", 14) == 15
    assert contexto.by_window("auto", [3, 12, 4, 25]) == {10: [0, 2], 15: [1], 30: [3]}
    assert contexto.normal(" AUTO ") == "auto" and contexto.normal(10) == "10"
    for bad in ("0", "31", "diez", "1.5"):
        assert contexto.problem(bad) and "--audio-context" in contexto.problem(bad)


def test_30_s_is_exactly_whispers_encoder_and_shorter_windows_are_its_prefix():
    model = make_tiny_whisper()
    audio = np.random.default_rng(0).normal(0, 0.1, 4 * 16000).astype(np.float32)
    mel30 = log_mel(audio, 80)[None]  # (1, 80, 3000)
    with torch.no_grad():
        expected = AudioEncoder.forward(model.encoder, mel30)
        contexto.allow_any_length(model)
        assert torch.equal(model.encoder(mel30), expected)
        short = model.encoder(log_mel(audio, 80, 10)[None])
    assert short.shape == (1, 500, 64)
    with pytest.raises(ValueError, match="positions"):
        contexto.embed(model.encoder, torch.zeros(1, 80, 3200))


def test_decoding_a_short_window_batched_and_with_beams():
    model = contexto.allow_any_length(make_tiny_whisper()).eval()
    mel = torch.zeros(2, 80, 1000)  # two 10 s windows
    texts = decodificacion.transcribe_batch(model, mel, "es", plate_grammar=False)
    assert len(texts) == 2 and texts == decodificacion.transcribe_batch(model, model.encoder(mel), "es", plate_grammar=False)
    assert len(decodificacion.transcribe_batch(model, mel, "es", beam_size=2)) == 2


def test_checkpoints_record_the_context_and_refuse_one_they_cannot_honour(tmp_path):
    model = make_tiny_whisper()
    model.audio_context = "10"
    path = pesos.save_whisper(model, tmp_path / "corto.pt")
    assert pesos.load_whisper(path).audio_context == "10"
    model.audio_context = "30"
    assert pesos.load_whisper(pesos.save_whisper(model, tmp_path / "largo.pt")).audio_context == "30"
    raw = torch.load(path, weights_only=False)
    raw["audio_context"] = "45"
    torch.save(raw, tmp_path / "raro.pt")
    with pytest.raises(pesos.WeightsError, match="contexto de audio '45'"):
        pesos.load_whisper(tmp_path / "raro.pt")
    del raw["audio_context"]  # an OpenAI .pt records none: Whisper's 30 s
    torch.save(raw, tmp_path / "openai.pt")
    assert contexto.of(pesos.load_whisper(tmp_path / "openai.pt")) == "30"


@pytest.mark.base
def test_ctranslate2_export_records_the_context_and_decodes_short_windows(tmp_path, base_model):
    from modelo import motores

    base_model.audio_context = "10"
    try:
        directory = pesos.save_ct2_dir(base_model, tmp_path / "ct2", "int8")
    finally:
        base_model.audio_context = "30"
    assert json.loads((directory / "config.json").read_text())["audio_context"] == "10"
    assert pesos.load_whisper(directory).audio_context == "10"
    engine = motores.load_engine(str(directory), "ctranslate2")
    assert engine.audio_context == "10"
    speech = np.zeros(3 * 16000, np.float32)
    assert engine.features(speech, 10).shape == (80, 1000)
    assert len(engine.transcribe([speech, np.zeros(12 * 16000, np.float32)])) == 2  # a 10 s and a 15 s window
