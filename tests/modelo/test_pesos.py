"""pesos.py on real weights: the installed base bundle, converted and run on real speech."""

import urllib.error

import numpy as np
import pytest
import torch
import whisper

from conftest import SHARED, RunsCode, espeak
from modelo import decodificacion, pesos
from modelo.audio import load_audio, log_mel
from texto import metricas


@pytest.mark.base
def test_bundle_transcribes_jfk(base_model):
    jfk = SHARED / "audio" / "jfk.flac"
    if not jfk.exists():
        pytest.skip(f"{jfk} no está (viene en ../shared)")
    result = whisper.transcribe(base_model, load_audio(jfk), fp16=False)
    text = result["text"].lower()
    assert result["language"] == "en"
    for phrase in ("my fellow americans", "your country", "do for you"):
        assert phrase in text


@pytest.mark.base
@pytest.mark.voz
def test_bundle_transcribes_spanish_espeak(base_model, tmp_path):
    sentence = "Buenos días, quiero dejar el auto en el estacionamiento"
    wav = espeak(sentence, tmp_path / "es.wav", voice="es")
    mel = log_mel(load_audio(wav), base_model.dims.n_mels)
    text = decodificacion.transcribe_batch(base_model, mel[None], "es")[0]
    assert metricas.error_rates([sentence], [text])["wer"] <= 0.2, text


@pytest.mark.base
def test_ct2_reader_reads_the_whole_bundle():
    directory, parts = pesos.bundle_files("base")
    variables, aliases = pesos.read_ct2_model_bin(b"".join(p.read_bytes() for p in parts))  # every byte, or an error
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert variables["encoder/num_heads"] == 8 and variables["decoder/embeddings/weight"].shape == (51865, 512)


@pytest.mark.base
def test_float32_ct2_dir_loads_same_weights(base_model, tmp_path):
    directory, parts = pesos.bundle_files("base")
    variables, aliases = pesos.read_ct2_model_bin(b"".join(p.read_bytes() for p in parts))
    model = pesos.load_whisper(pesos.save_ct2_dir(base_model, tmp_path / "f32", "float32"))
    for name, tensor in base_model.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name
    # q/k/v were split from fused rows; the key projection has no bias in openai-whisper.
    d = base_model.dims.n_audio_state
    fused = variables["encoder/layer_0/self_attention/linear_0/weight"].astype(np.float32)
    assert np.array_equal(model.encoder.blocks[0].attn.key.weight.detach().numpy(), fused[d : 2 * d])
    assert model.encoder.blocks[0].attn.key.bias is None


@pytest.mark.base
def test_openai_pt_round_trip_through_whisper_load_model(base_model, tmp_path):
    path = pesos.save_whisper(base_model, tmp_path / "base.pt")
    loaded = whisper.load_model(str(path), device="cpu")
    assert loaded.dims == base_model.dims
    for name, tensor in base_model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name].float()), name


@pytest.mark.base
def test_offline_name_falls_back_to_bundle_with_one_line(monkeypatch, capsys, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("sin red")

    monkeypatch.setattr(whisper.urllib.request, "urlopen", offline)
    model = pesos.load_whisper("base", download_root=str(tmp_path))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Sin red" in err[0]
    assert model.dims.n_text_layer == 6


def test_offline_name_without_bundle_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(whisper.urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(urllib.error.URLError("x")))
    with pytest.raises(pesos.WeightsError, match="No se pudo descargar el modelo 'tiny'"):
        pesos.load_whisper("tiny", download_root=str(tmp_path))


@pytest.mark.base
def test_unknown_name_and_broken_files_are_clear_errors(tmp_path):
    with pytest.raises(pesos.WeightsError, match="no es un modelo oficial"):
        pesos.load_whisper("enorme")
    garbage = tmp_path / "roto.pt"
    garbage.write_bytes(b"esto no es un checkpoint")
    with pytest.raises(pesos.WeightsError, match="No se pudo leer"):
        pesos.load_whisper(garbage)
    directory, parts = pesos.bundle_files("base")
    ct2 = tmp_path / "ct2"
    ct2.mkdir()
    (ct2 / "model.bin").write_bytes(parts[0].read_bytes()[:5000])
    (ct2 / "config.json").write_text("{}")
    with pytest.raises(pesos.WeightsError, match="truncado"):
        pesos.load_whisper(ct2)


def test_checkpoint_with_unmatched_keys_fails_loudly(tmp_path):
    """The earlier team's bug: keys under a prefix the model lacks, silently ignored by strict=False."""
    from conftest import make_tiny_whisper

    model = make_tiny_whisper()
    path = tmp_path / "prefijo.pt"
    torch.save({"dims": model.dims.__dict__, "model_state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    with pytest.raises(pesos.WeightsError, match="Faltan"):
        pesos.load_whisper(path)



def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    from conftest import make_tiny_whisper

    model = make_tiny_whisper()
    marker = tmp_path / "ejecutado"
    path = tmp_path / "hostil.pt"
    torch.save({"dims": model.dims.__dict__, "model_state_dict": model.state_dict(), "extra": RunsCode(marker)}, path)
    with pytest.raises(pesos.WeightsError, match="ejecutar código") as raised:
        pesos.load_whisper(path)
    assert "hostil.pt" in str(raised.value) and "open" in str(raised.value)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the probe is real: the old loader ran it
    assert marker.exists()
    # Our own files still load: the .pt written by save_whisper, truncated ones are a clear error.
    good = pesos.save_whisper(model, tmp_path / "bien.pt")
    assert pesos.load_whisper(good).dims == model.dims
    (tmp_path / "cortado.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(pesos.WeightsError, match="cortado.pt"):
        pesos.load_whisper(tmp_path / "cortado.pt")
