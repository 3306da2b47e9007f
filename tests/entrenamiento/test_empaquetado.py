"""empaquetado.py and packed training items: every answer once, one speaker per window, within the limits."""

import shutil

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

import comun
from conftest import make_tiny_whisper, train
from corpus import datos
from entrenamiento import empaquetado
from modelo import decodificacion

items = st.lists(st.tuples(st.sampled_from("abc"), st.floats(0.5, 12.0), st.integers(1, 60)), min_size=1, max_size=40)


@given(items, st.integers(0, 5))
def test_every_item_lands_once_in_a_window_of_one_speaker_within_the_limits(rows, seed):
    speakers, seconds, tokens = (list(x) for x in zip(*rows, strict=True))
    windows = empaquetado.pack(speakers, seconds, tokens, 28.0, 120, seed)
    members = [i for w in windows for i in w.members]
    assert sorted(members) == list(range(len(rows)))
    for w in windows:
        assert len({speakers[i] for i in w.members}) == 1
        assert len(w.gaps) == len(w.members) - 1
        assert all(empaquetado.MIN_GAP_S <= g <= empaquetado.MAX_GAP_S for g in w.gaps)
        if len(w.members) > 1:
            assert sum(seconds[i] for i in w.members) + sum(w.gaps) <= 28.0
            assert sum(tokens[i] for i in w.members) <= 120
    assert windows == empaquetado.pack(speakers, seconds, tokens, 28.0, 120, seed)  # the cache keys rely on it


def test_short_answers_share_windows():
    windows = empaquetado.pack(["a"] * 12, [5.0] * 12, [20] * 12, 28.0, 440)
    # 5 answers of 5 s fit in 28 s when their 4 pauses add up to 3 s or less; 4 always fit.
    assert len(windows) == 3 and all(len(w.members) in (4, 5) for w in windows[:-1])


def test_packed_dataset_joins_audio_text_and_tokens(tmp_path):
    tokenizer = decodificacion.get_tokenizer(make_tiny_whisper(), "es")
    (tmp_path / "audios").mkdir()
    rng = np.random.default_rng(0)
    rows = [("snf_a_001", "Patente AB 123 CD."), ("snf_a_002", "Dos horas."), ("snm_b_003", "Techado.")]
    for utt_id, _ in rows:
        sf.write(tmp_path / "audios" / f"{utt_id}.wav", rng.normal(0, 0.1, 16000).astype(np.float32), 16000)
    datos.write_transcripts(tmp_path, rows)
    split = {utt_id: "train" for utt_id, _ in rows}
    single = comun.SpeechDataset(tmp_path, "train", tokenizer, 80, split_map=split)
    packed = comun.SpeechDataset(tmp_path, "train", tokenizer, 80, split_map=split, pack_seconds=28)
    assert (len(single), len(packed), packed.utterances) == (3, 2, 3)  # speaker a's two answers share a window
    joined = next(i for i in range(len(packed)) if "+" in packed.items[i][0])
    utt_id, text, tokens, clip = packed.items[joined]
    first, second = (single.items[[r[0] for r in rows].index(u)] for u in utt_id.split("+"))
    assert text == f"{first[1]} {second[1]}"
    prefix = len(tokenizer.sot_sequence_including_notimestamps)
    assert tokens == first[2] + second[2][prefix:]  # tokens add up: BPE never merges across the space
    assert len(clip.load()) == 2 * 16000 + round(clip.gaps[0] * 16000)
    assert clip.key() not in {c.key() for c in single.clips()}
    assert empaquetado.Clip(clip.paths, (clip.gaps[0] + 0.1,)).key() != clip.key()  # the silence is part of the audio
    assert packed[joined]["mel"].shape == (80, 3000)


@pytest.mark.voz
def test_fine_tune_packs_training_answers_and_not_validation(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"  # a copy: the run writes particion.tsv and a cache, other tests expect neither
    shutil.copytree(synth_dir, data)
    result = train(data, tiny_whisper_pt, tmp_path, "--max-steps", "2", "--pack-seconds", "28",
                   "--num-train-epochs", "1")
    assert result.returncode == 0, result.stderr
    assert "Empaquetado:" in result.stdout and "ventanas de hasta 28 s" in result.stdout
    assert (tmp_path / "artifacts" / "modelo-ultimo.pt").is_file()


@pytest.mark.voz
def test_pack_seconds_errors_are_spanish_and_together(synth_dir, tiny_whisper_pt, tmp_path):
    result = train(synth_dir, tiny_whisper_pt, tmp_path, "--pack-seconds", "45", "--batch-size", "x")
    assert result.returncode == 2
    assert "--pack-seconds debe ser 0 (sin juntar) o estar entre 1 y 30" in result.stderr
    assert "--batch-size: se esperaba un entero" in result.stderr
    result = train(synth_dir, tiny_whisper_pt, tmp_path, "--pack-seconds", "29", "--speed-perturb", "0.9,1.1")
    assert result.returncode == 2 and "Usá --pack-seconds 27 o menos" in result.stderr
