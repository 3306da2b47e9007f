"""aumentos.py on real espeak-ng speech: each augmentation really changes the clip, reproducibly per seed."""

import numpy as np
import pytest
import torch

import comun
from conftest import espeak, make_tiny_whisper
from corpus import datos
from entrenamiento import aumentos
from modelo import decodificacion
from modelo.audio import load_audio, log_mel


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    path = espeak("La patente es a be ciento veintitrés ce de", tmp_path_factory.mktemp("voz") / "a.wav")
    return load_audio(path)


@pytest.mark.voz
def test_speed_perturbation_changes_the_length_by_the_factor(speech):
    faster = aumentos.speed_perturb(speech, 1.1)
    slower = aumentos.speed_perturb(speech, 0.9)
    assert abs(len(faster) - len(speech) / 1.1) <= 2 and abs(len(slower) - len(speech) / 0.9) <= 2
    assert faster.dtype == np.float32


@pytest.mark.voz
def test_noise_lands_at_the_requested_snr_and_follows_the_seed(speech):
    noisy = aumentos.add_noise(speech, 20, np.random.default_rng(0))
    noise = noisy.astype(np.float64) - speech
    snr = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(snr - 20) < 0.2
    assert np.array_equal(noisy, aumentos.add_noise(speech, 20, np.random.default_rng(0)))
    assert not np.array_equal(noisy, aumentos.add_noise(speech, 20, np.random.default_rng(1)))


@pytest.mark.voz
def test_specaugment_masks_the_speech_and_leaves_the_padding(speech):
    mel = log_mel(speech, 80)
    n_frames = len(speech) // 160
    masked = aumentos.spec_augment(mel, n_frames, np.random.default_rng(0))
    assert torch.equal(masked, aumentos.spec_augment(mel, n_frames, np.random.default_rng(0)))
    assert torch.equal(masked[:, n_frames:], mel[:, n_frames:])  # Whisper's silence padding as the model knows it
    fill = mel[:, :n_frames].mean()
    changed = masked[:, :n_frames] != mel[:, :n_frames]
    assert torch.all(masked[:, :n_frames][changed] == fill)
    whole_frames = (masked[:, :n_frames] == fill).all(dim=0).sum().item()
    whole_bands = (masked[:, :n_frames] == fill).all(dim=1).sum().item()
    assert 0 < whole_frames <= 2 * 0.2 * n_frames and 0 < whole_bands <= 2 * 27


@pytest.mark.voz
def test_augmented_dataset_changes_train_items_reproducibly(synth_dir):
    tiny = make_tiny_whisper()
    tokenizer = decodificacion.get_tokenizer(tiny, "es")
    split = {i: "train" for i in datos.read_transcripts(synth_dir)}
    dataset = comun.SpeechDataset(synth_dir, "train", tokenizer, 80, split_map=split)
    plain = dataset[0]["mel"]
    dataset.augment = aumentos.Augmentation(specaugment=True, speed=(0.9, 1.1), noise_snr=20)
    torch.manual_seed(5)
    first = dataset[0]["mel"]
    torch.manual_seed(5)
    assert torch.equal(first, dataset[0]["mel"])
    assert not torch.equal(first, plain) and not torch.equal(first, dataset[0]["mel"])  # new draw on each read
    with pytest.raises(ValueError, match="augmented"):
        dataset.use_cache(object())


def test_speed_option_parsing():
    assert aumentos.parse_speed("0.9,1.1") == (0.9, 1.1) and aumentos.parse_speed("") is None
    for bad in ("0.9", "1.1,0.9", "0.1,1", "rápido,lento"):
        with pytest.raises(ValueError, match="--speed-perturb"):
            aumentos.parse_speed(bad)
    assert not aumentos.Augmentation() and aumentos.Augmentation(noise_snr=20)
    assert aumentos.Augmentation(True, (0.9, 1.1), 20).describe() == "specaugment, velocidad 0.9–1.1, ruido a 20 dB de SNR"
