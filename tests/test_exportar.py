"""exportar.py for real: the bundled base through the OpenAI .pt to CTranslate2, compared tensor by tensor."""

import json

import numpy as np
import pytest
import tokenizers
import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from conftest import run
from modelo import pesos


@pytest.fixture(scope="module")
def bundle():
    directory, parts = pesos.bundle_files("base")
    variables, aliases = pesos.read_ct2_model_bin(b"".join(p.read_bytes() for p in parts))
    return directory, variables, aliases


@pytest.fixture(scope="module")
def exported(base_model, tmp_path_factory):
    """bundle -> OpenAI .pt -> CTranslate2 float16, both steps through the real command."""
    work = tmp_path_factory.mktemp("exportar")
    pt, ct2 = work / "base.pt", work / "base_ct2"
    for target, out in (("openai", pt), ("ctranslate2", ct2)):
        source = "base" if target == "openai" else pt
        result = run(["exportar.py", "--checkpoint", str(source), "--to", target, "--out", str(out)])
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.startswith(f"Listo: {out}")
    return pt, ct2


@pytest.mark.base
def test_round_trip_gives_the_bundle_tensors_exactly(exported, bundle):
    directory, expected, expected_aliases = bundle
    variables, aliases = pesos.read_ct2_model_bin((exported[1] / "model.bin").read_bytes())
    assert aliases == expected_aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    # Newer CTranslate2 writes two more flags (both off) than the converter that made the bundle.
    assert set(variables) - set(expected) == {"decoder/alibi_use_positive_positions", "decoder/scale_alibi"}
    assert not variables["decoder/scale_alibi"] and not variables["decoder/alibi_use_positive_positions"]
    for name, array in expected.items():  # fused q/k/v, zero key bias, float16: all as the bundle has them
        assert variables[name].dtype == array.dtype and np.array_equal(variables[name], array), name


@pytest.mark.base
def test_config_and_tokenizer_files_match_the_bundle(exported, bundle):
    directory, ct2 = bundle[0], exported[1]
    assert json.loads((ct2 / "config.json").read_text()) == json.loads((directory / "config.json").read_text())
    assert json.loads((ct2 / "tokenizer.json").read_text()) == json.loads((directory / "tokenizer.json").read_text())
    vocabulary = (directory / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert json.loads((ct2 / "vocabulary.json").read_text()) == vocabulary
    assert json.loads((ct2 / "preprocessor_config.json").read_text())["feature_size"] == 80


@pytest.mark.base
def test_ct2_dir_back_to_openai_pt(exported, base_model, tmp_path):
    back = tmp_path / "vuelta.pt"
    result = run(["exportar.py", "--checkpoint", str(exported[1]), "--to", "openai", "--out", str(back)])
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = whisper.load_model(str(back), device="cpu")
    for name, tensor in base_model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name].float()), name
    # The alignment heads (word timestamps) travel in the .pt and the config, not only in the bundle.
    assert torch.equal(pesos.load_whisper(back).alignment_heads.to_dense(), base_model.alignment_heads.to_dense())


@pytest.mark.base
def test_int8_export_is_quantized_per_row_and_loads_back(base_model, tmp_path):
    out = pesos.save_ct2_dir(base_model, tmp_path / "int8", "int8")
    variables, _ = pesos.read_ct2_model_bin((out / "model.bin").read_bytes())
    weight = variables["decoder/layer_0/ffn/linear_0/weight"]
    scale = variables["decoder/layer_0/ffn/linear_0/weight_scale"]
    assert weight.dtype == np.int8 and scale.shape == (weight.shape[0],)
    assert (out / "model.bin").stat().st_size < 0.6 * 145e6  # half of float16, plus float32 norms and biases
    original = base_model.decoder.blocks[0].mlp[0].weight.detach().numpy()
    loaded = pesos.load_whisper(out).decoder.blocks[0].mlp[0].weight.detach().numpy()
    assert np.all(np.abs(loaded - original) <= 0.5 / scale[:, None] + 1e-6)  # rounding error of each row, no more
    assert not np.array_equal(loaded, original)


@pytest.mark.base
def test_large_v3_vocabulary_gets_its_own_special_token_ids(tmp_path):
    """One more language (<|yue|>) moves every later special token; 128 mels go to preprocessor_config."""
    torch.manual_seed(0)
    model = Whisper(ModelDimensions(n_mels=128, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                                    n_vocab=51866, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1))
    out = pesos.save_ct2_dir(model, tmp_path / "v3", "float32")
    tok = tokenizers.Tokenizer.from_file(str(out / "tokenizer.json"))
    assert tok.token_to_id("<|yue|>") == 50358 and tok.token_to_id("<|transcribe|>") == 50360
    assert tok.token_to_id("<|notimestamps|>") == 50364
    assert json.loads((out / "preprocessor_config.json").read_text())["feature_size"] == 128
    config = json.loads((out / "config.json").read_text())
    assert len(config["lang_ids"]) == 100 and 50358 in config["lang_ids"]
    text = "La patente es AB 123 CD, ¿la dejo techada hasta las seis?"
    reference = whisper.tokenizer.get_tokenizer(True, num_languages=100)
    # faster-whisper decodes the model's tokens with this file: the same text as openai-whisper's tokenizer.
    assert tok.decode(reference.encode(text)) == text
    assert reference.decode(tok.encode(text, add_special_tokens=False).ids) == text


@pytest.mark.base
def test_command_errors_are_spanish_and_clean(tmp_path):
    result = run(["exportar.py", "--help"])
    assert result.returncode == 0 and result.stdout.startswith("uso: exportar.py") and "--quantization" in result.stdout
    busy = tmp_path / "ocupada"
    busy.mkdir()
    (busy / "notas.txt").write_text("no borrar")
    cases = [
        (["--checkpoint", "no_existe.pt", "--to", "ctranslate2", "--out", str(tmp_path / "x")], 1, "No existe"),
        (["--checkpoint", "base", "--to", "ctranslate2", "--out", str(busy)], 1, "no es un modelo CTranslate2"),
        (["--checkpoint", "base", "--to", "openai", "--out", str(tmp_path)], 2, "es una carpeta"),
        (["--checkpoint", "base", "--to", "onnx", "--out", str(tmp_path / "x")], 2, "opción inválida"),
    ]
    for args, code, fragment in cases:
        result = run(["exportar.py", *args])
        assert result.returncode == code and fragment in result.stderr, (args, result.stderr[-1000:])
        assert "Traceback" not in result.stderr
    assert (busy / "notas.txt").read_text() == "no borrar"


@pytest.mark.base
def test_english_only_models_are_refused(tmp_path):
    model = Whisper(ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                                    n_vocab=51864, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1))
    with pytest.raises(pesos.WeightsError, match="Solo se exportan modelos multilingües"):
        pesos.save_ct2_dir(model, tmp_path / "en")
    assert not (tmp_path / "en").exists()
