"""motores.py: both engines on real espeak-ng speech with the bundled base; the export cache; bad models."""

import os

import pytest

from conftest import espeak, make_tiny_whisper, run
from corpus import datos
from modelo import decodificacion, motores, pesos
from modelo.audio import load_audio, log_mel
from modelo.precision import cpu_has_native_bf16, decode_dtype
from texto import metricas


@pytest.fixture(scope="module")
def base_ct2(tmp_path_factory):
    """Base exported once, through the engine's own cache (float16: CTranslate2 runs it as float32 on CPU)."""
    cache = tmp_path_factory.mktemp("ct2_cache")
    messages = []
    engine = motores.load_engine("base", "ctranslate2", device="cpu", compute_type="float32", cache_dir=cache,
                                 log=messages.append)
    assert len(messages) == 1 and "lo exporto una vez" in messages[0], messages
    return engine


@pytest.fixture(scope="module")
def clear_corpus(tmp_path_factory):
    """Parking answers by sintetico.py in espeak-ng's plainest voice: base transcribes them without looping."""
    out = tmp_path_factory.mktemp("claro") / "datos"
    result = run(["sintetico.py", "--out", str(out), "--n", "4", "--seed", "1", "--voices", "es-419", "--sin-progreso"])
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.base
@pytest.mark.voz
def test_faster_whisper_matches_openai_whisper_on_synthetic_speech(clear_corpus, base_model, base_ct2):
    """The issue's bar: the exported model's WER within 0.5 points of openai-whisper on the same checkpoint."""
    texts = datos.read_transcripts(clear_corpus)
    ids = list(texts)
    audios = [load_audio(datos.audio_path(clear_corpus, i)) for i in ids]
    references = [texts[i] for i in ids]
    openai = motores.OpenAIEngine(base_model, "base").transcribe(audios)
    faster = base_ct2.transcribe(audios)
    wer_openai = metricas.error_rates(references, openai)["wer"]
    wer_faster = metricas.error_rates(references, faster)["wer"]
    assert abs(wer_faster - wer_openai) <= 0.005, (openai, faster)
    assert wer_openai < 0.8, openai  # really transcribed (both empty would be 1.0)


@pytest.mark.base
@pytest.mark.voz
def test_batched_beam_search_decodes_each_clip_against_its_own_audio(clear_corpus, base_model):
    """openai-whisper alone mixes up the audio of a batch under beam search (PR #2197); ours gives each clip's
    beams its own encoder output, so a batch of 4 decodes exactly as the 4 clips one by one."""
    import torch
    import whisper

    ids = list(datos.read_transcripts(clear_corpus))
    mel = torch.stack([log_mel(load_audio(datos.audio_path(clear_corpus, i)), 80) for i in ids])
    options = whisper.DecodingOptions(language="es", without_timestamps=True, fp16=False, beam_size=3)
    one_by_one = [whisper.decode(base_model, m, options).text for m in mel]
    assert len(set(one_by_one)) == len(ids)  # four different answers
    assert [r.text for r in decodificacion._decode(base_model, mel, options)] == one_by_one


@pytest.mark.base
@pytest.mark.voz
def test_bf16_decoding_transcribes_like_fp32(clear_corpus, base_model):
    """--precision bf16 (what auto picks on CPUs with AMX or AVX512-BF16): the same model in bf16 autocast
    gets the clear answers about as right as in fp32, and the model's own weights stay fp32."""
    import torch

    texts = datos.read_transcripts(clear_corpus)
    audios = [load_audio(datos.audio_path(clear_corpus, i)) for i in texts]
    engines = {p: motores.OpenAIEngine(base_model, "base", precision=p) for p in ("fp32", "bf16")}
    assert engines["fp32"].autocast is None and engines["bf16"].autocast is torch.bfloat16
    wer = {p: metricas.error_rates(list(texts.values()), e.transcribe(audios))["wer"] for p, e in engines.items()}
    # Base writes "be larga" / "ve corta" as words, not letters: 50% WER on these 4 answers (measured).
    assert wer["fp32"] < 0.6 and abs(wer["bf16"] - wer["fp32"]) <= 0.1, wer
    assert next(base_model.parameters()).dtype is torch.float32


def test_auto_precision_follows_the_hardware():
    import torch

    assert decode_dtype("auto", "cpu") == (torch.bfloat16 if cpu_has_native_bf16() else None)
    with pytest.raises(ValueError, match="precisión desconocida 'fp8'"):
        decode_dtype("fp8", "cpu")
    with pytest.raises(ValueError, match="precisión desconocida 'fp8'"):  # at load, before any decoding
        motores.OpenAIEngine(make_tiny_whisper(), "tiny", precision="fp8")


@pytest.mark.base
@pytest.mark.voz
def test_int8_engine_transcribes_a_clear_sentence(base_ct2, tmp_path):
    # The float16 export, quantized to int8 by CTranslate2 as it loads: no second export.
    int8 = motores.load_engine(str(base_ct2.directory), "ctranslate2", device="cpu", compute_type="int8")
    assert isinstance(int8, motores.CTranslate2Engine) and int8.name == "ctranslate2"
    sentence = "Buenos días, quiero dejar el auto en el estacionamiento"
    audio = load_audio(espeak(sentence, tmp_path / "frase.wav", voice="es"))
    texts = int8.transcribe([audio, audio[: len(audio) // 2]])
    assert len(texts) == 2 and metricas.error_rates([sentence], texts[:1])["wer"] <= 0.2, texts
    assert int8.transcribe([]) == []


@pytest.mark.base
def test_export_cache_is_reused_until_the_checkpoint_changes(tmp_path):
    pt = pesos.save_whisper(make_tiny_whisper(), tmp_path / "tiny.pt")
    cache, messages = tmp_path / "cache", []

    def load():
        return motores.load_engine(str(pt), "ctranslate2", device="cpu", cache_dir=cache, log=messages.append)

    first = load()
    assert len(messages) == 1 and first.directory.parent == cache and first.directory.name.endswith("-int8")
    assert load().directory == first.directory and len(messages) == 1  # cached: no second export, no message
    pesos.save_whisper(make_tiny_whisper(seed=1), pt)
    os.utime(pt, ns=(1, 1))  # a retrained checkpoint at the same path
    assert load().directory != first.directory and len(messages) == 2


@pytest.mark.base
def test_bad_models_and_engines_are_spanish_errors(tmp_path):
    with pytest.raises(pesos.WeightsError, match="No existe"):
        motores.load_engine(str(tmp_path / "no_existe.pt"), "ctranslate2", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="motor desconocido 'onnx'"):
        motores.load_engine("base", "onnx")
    broken = tmp_path / "roto"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"\0" * 100)
    (broken / "tokenizer.json").write_text("{}")
    (broken / "config.json").write_text("{}")
    with pytest.raises(pesos.WeightsError, match="no se pudo cargar como Whisper"):
        motores.load_engine(str(broken), "ctranslate2", device="cpu")
