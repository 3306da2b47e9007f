"""corpus/kokoro.py and `sintetico.py --motor`: Kokoro speaking Spanish from espeak-ng's phonemes."""

import hashlib

import numpy as np
import pytest
import soundfile as sf

from conftest import run
from corpus import kokoro, sintetico

pytestmark = pytest.mark.voz  # espeak-ng gives the phonemes


def test_phonemes_fold_espeaks_ties_into_kokoros_symbols_and_keep_the_pauses():
    ipa = kokoro.phonemes("Chau, muchacho. ¿Hay auto?")
    assert "ʧ" in ipa and "tʃ" not in ipa  # t^ʃ -> ʧ
    assert "I" in ipa and "W" in ipa  # "hay" a^ɪ -> I, "auto" a^ʊ -> W
    assert "," in ipa and "." in ipa


def test_training_voices_never_use_the_evaluation_styles():
    for voice in kokoro.TRAIN_VOICES:
        assert not set(kokoro.parse_voice(voice).styles) & set(kokoro.EVAL_STYLES), voice
    assert {s for v in kokoro.HELDOUT_VOICES for s in kokoro.parse_voice(v).styles} == set(kokoro.EVAL_STYLES)
    assert sintetico.voice_groups("kokoro")["entrenamiento"] == kokoro.TRAIN_VOICES
    both = sintetico.voice_groups("ambos")
    assert set(both["entrenamiento"]) == set(sintetico.TRAIN_VOICES) | set(kokoro.TRAIN_VOICES)
    assert not set(both["entrenamiento"]) & set(both["evaluacion"])
    assert kokoro.parse_voice("kk-alpha-grave").gender == "M" and kokoro.parse_voice("kk-nezumi").gender == "F"
    with pytest.raises(ValueError, match="kk-sakura"):
        kokoro.parse_voice("kk-sakura")
    ids = ["snf_kk-alpha_00001", "snm_kk-kumo_00002", "snf_kk-alpha.tebukuro-grave_00003", "snf_es419-f3_00004"]
    assert kokoro.evaluation_only(ids) == ["snm_kk-kumo_00002", "snf_kk-alpha.tebukuro-grave_00003"]


def _digest(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_both_engines_same_texts_same_labels_byte_identical_per_seed(tmp_path):
    outs = []
    for name in ("a", "b"):
        result = run(["sintetico.py", "--out", str(tmp_path / name), "--n", "4", "--seed", "5", "--motor", "ambos",
                      "--voices", "entrenamiento", "--sin-progreso"])
        assert result.returncode == 0, result.stderr
        outs.append(tmp_path / name)
    assert _digest(outs[0]) == _digest(outs[1])
    ids = [line.split("\t")[0] for line in (outs[0] / "transcripciones.tsv").read_text().splitlines()]
    assert sum("_kk-" in i for i in ids) == 2  # half and half, in turns
    espeak_only = tmp_path / "e"
    assert run(["sintetico.py", "--out", str(espeak_only), "--n", "4", "--seed", "5", "--voices", "entrenamiento",
                "--sin-progreso"]).returncode == 0
    # The texts and labels depend on the seed only, never on the engine.
    def texts(directory):
        return [line.split("\t")[1] for line in (directory / "transcripciones.tsv").read_text().splitlines()]

    assert texts(outs[0]) == texts(espeak_only)
    assert (outs[0] / "slots.tsv").read_text().splitlines()[1:] != []
    kokoro_clip = next((outs[0] / "audios").glob("*_kk-*.wav"))
    audio, rate = sf.read(kokoro_clip)
    assert rate == 16000 and 1.0 < len(audio) / rate < 30 and np.abs(audio).max() > 0.3


@pytest.mark.base
def test_whisper_base_understands_kokoros_spanish(base_model, tmp_path):
    """The point of the engine: base already hears it as Spanish (a foreign accent, but the words)."""
    from modelo import motores
    from modelo.audio import load_audio
    from texto import metricas

    model = kokoro.Kokoro()
    text = "Me quedo dos horas, en un lugar techado, por favor."
    for name in ("kk-alpha", "kk-kumo"):
        audio = model.speak(kokoro.phonemes(text), kokoro.parse_voice(name), 1.0, 16000)
        sf.write(tmp_path / f"{name}.wav", audio, 16000)
        heard = motores.OpenAIEngine(base_model, "base").transcribe([load_audio(tmp_path / f"{name}.wav")])[0]
        assert metricas.error_rates([text], [heard])["wer"] <= 0.25, (name, heard)
