"""comun.py: dataset, collator, freeze policy and optimizer groups."""

import numpy as np
import pytest
import soundfile as sf
import torch

import comun
from conftest import make_tiny_whisper
from corpus import datos
from modelo import decodificacion


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_whisper()


@pytest.fixture(scope="module")
def tokenizer(tiny):
    return decodificacion.get_tokenizer(tiny, "es")


def test_dataset_builds_sot_inputs_and_skips_with_counts(tmp_path, tokenizer):
    audio = tmp_path / "audios"
    audio.mkdir()
    sf.write(audio / "snf_a_001.wav", np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
    noise = np.random.default_rng(1).normal(0, 0.1, 31 * 16000).astype(np.float32)
    sf.write(audio / "snf_a_002.wav", noise, 16000)
    sf.write(audio / "snf_a_004.wav", noise[:16000], 16000)
    sf.write(audio / "snf_a_005.wav", np.zeros(16000, np.float32), 16000)
    sf.write(audio / "snf_a_006.wav", noise[:16000], 16000)
    datos.write_transcripts(tmp_path, [("snf_a_001", "AB 123 CD"), ("snf_a_002", "largo"), ("snf_a_003", "sin audio"),
                                       ("snf_a_004", "palabra " * 500), ("snf_a_005", "silencio"), ("snf_a_006", " ")])
    split = {i: "train" for i in datos.read_transcripts(tmp_path)}
    dataset = comun.SpeechDataset(tmp_path, "train", tokenizer, n_mels=80, split_map=split)
    assert len(dataset) == 1
    assert sum(dataset.skipped.counts.values()) == 5 and len(dataset.skipped.counts) == 5
    assert dataset.skipped.counts["audio en silencio"] == 1 and dataset.skipped.counts[datos.EMPTY_TEXT] == 1
    item = dataset[0]
    assert item["mel"].shape == (80, 3000)
    sot = list(tokenizer.sot_sequence_including_notimestamps)
    assert item["dec_input"][: len(sot)] == sot
    assert item["labels"] == item["dec_input"][1:] + [tokenizer.eot]
    # The plate's symbols are spelled one token each (BPE would glue " AB", " 12"+"3" differently per plate).
    text_tokens = item["dec_input"][len(sot):]
    assert tokenizer.decode(text_tokens).strip() == "A B 1 2 3 C D"
    assert [tokenizer.decode([t]) for t in text_tokens][:4] == [" A", " B", " 1", " 2"]


def test_collator_pads_with_eot_and_ignore_index(tokenizer):
    features = [{"id": "a", "text": "x", "mel": torch.zeros(80, 3000), "dec_input": [1, 2, 3], "labels": [2, 3, 9]},
                {"id": "b", "text": "y", "mel": torch.ones(80, 3000), "dec_input": [1, 2], "labels": [2, 9]}]
    batch = comun.WhisperDataCollatorWithPadding(tokenizer.eot)(features)
    assert batch["mel"].shape == (2, 80, 3000)
    assert batch["dec_input"].tolist() == [[1, 2, 3], [1, 2, tokenizer.eot]]
    assert batch["labels"].tolist() == [[2, 3, 9], [2, 9, -100]]


def test_freeze_policies(tiny):
    comun.apply_freeze_policy(tiny, "encoder")
    assert not any(p.requires_grad for p in tiny.encoder.parameters())
    assert not tiny.decoder.token_embedding.weight.requires_grad
    assert all(p.requires_grad for n, p in tiny.decoder.named_parameters() if not n.startswith("token_embedding"))
    comun.apply_freeze_policy(tiny, "conv")
    assert not tiny.encoder.conv1.weight.requires_grad and tiny.encoder.blocks[0].attn.query.weight.requires_grad
    with pytest.raises(ValueError, match="freeze"):
        comun.apply_freeze_policy(tiny, "todo")
    comun.apply_freeze_policy(tiny, "encoder", train_encoder_blocks=1)
    top = len(tiny.encoder.blocks) - 1
    trainable = {n for n, p in tiny.encoder.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith((f"blocks.{top}.", "ln_post.")) for n in trainable)
    assert tiny.encoder.ln_post.weight.requires_grad and not tiny.encoder.conv1.weight.requires_grad
    with pytest.raises(ValueError, match="train_encoder_blocks"):
        comun.apply_freeze_policy(tiny, "encoder", train_encoder_blocks=top + 2)


def test_no_weight_decay_on_biases_and_layer_norms(tiny):
    comun.apply_freeze_policy(tiny, "conv")
    decay, no_decay = comun.parameter_groups(tiny, 0.01)
    names = {id(p): n for n, p in tiny.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert "decoder.ln.weight" in no_decay_names and "encoder.ln_post.weight" in no_decay_names
    assert "decoder.blocks.0.cross_attn_ln.bias" in no_decay_names and "decoder.blocks.0.mlp.0.bias" in no_decay_names
    decay_names = {names[id(p)] for p in decay["params"]}
    assert "decoder.blocks.0.mlp.0.weight" in decay_names and "decoder.token_embedding.weight" not in decay_names
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0


def test_a_short_audio_context_windows_each_clip_and_skips_what_does_not_fit(tmp_path, tokenizer):
    audio = tmp_path / "audios"
    audio.mkdir()
    for name, seconds in (("snf_a_001", 3), ("snf_a_002", 7), ("snf_a_003", 12)):
        sf.write(audio / f"{name}.wav", np.random.default_rng(seconds).normal(0, 0.1, seconds * 16000).astype(np.float32),
                 16000)
    datos.write_transcripts(tmp_path, [("snf_a_001", "uno"), ("snf_a_002", "dos"), ("snf_a_003", "tres")])
    split = {i: "train" for i in datos.read_transcripts(tmp_path)}
    fixed = comun.SpeechDataset(tmp_path, "train", tokenizer, n_mels=80, split_map=split, audio_context="10")
    assert fixed.windows == [10, 10] and fixed[0]["mel"].shape == (80, 1000)
    assert fixed.skipped.counts == {"audio de más de 10 s (--audio-context 10)": 1}  # counted, never silent
    auto = comun.SpeechDataset(tmp_path, "train", tokenizer, n_mels=80, split_map=split, audio_context="auto")
    assert auto.windows == [10, 10, 15] and auto[2]["mel"].shape == (80, 1500) and not auto.skipped.counts
    whole = comun.SpeechDataset(tmp_path, "train", tokenizer, n_mels=80, split_map=split)
    assert whole.windows == [30, 30, 30] and whole[0]["mel"].shape == (80, 3000)
