"""The encoder-output cache: same loss as recomputing, reused across runs, rebuilt when weights change."""

import pytest
import torch

import comun
from conftest import make_tiny_whisper
from corpus import datos
from entrenamiento import cache_encoder, empaquetado
from entrenamiento.cache_encoder import EncoderCache
from modelo.audio import load_audio, log_mel


def _batch(dataset, n=2):
    collate = comun.WhisperDataCollatorWithPadding(dataset.tokenizer.eot)
    return collate([dataset[i] for i in range(n)])


@pytest.mark.base
@pytest.mark.voz
def test_cached_and_recomputed_loss_match_on_the_same_batch(synth_dir, base_model, tmp_path):
    import shutil

    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    config = comun.Config(data_dir=str(data))
    module = comun.WhisperModelModule(config, model=base_model)
    texts = datos.read_transcripts(data)
    split = {i: "train" for i in texts}
    plain = comun.SpeechDataset(data, "train", module.tokenizer, 80, split_map=split)
    cached = comun.SpeechDataset(data, "train", module.tokenizer, 80, split_map=split)
    cache = EncoderCache(data, base_model)
    assert cache.build(base_model, cached.clips()[:2], batch_size=2, device="cpu", progress=False) == 2
    cached.items, cached.windows = cached.items[:2], cached.windows[:2]
    cached.use_cache({30: cache})  # one cache per audio window; Whisper's 30 s here
    with torch.no_grad():
        loss_plain = module._loss(_batch(plain), module._encode(_batch(plain)))
        loss_cached = module._loss(_batch(cached), module._encode(_batch(cached)))
    assert "features" in _batch(cached) and "mel" in _batch(plain)
    assert abs(loss_plain.item() - loss_cached.item()) < 2e-3 * max(1.0, loss_plain.item())
    # A second cache object on the same dir and weights finds everything: nothing recomputed.
    assert EncoderCache(data, base_model).build(base_model, cached.clips(), 2, "cpu", progress=False) == 0


@pytest.mark.voz
def test_cache_key_follows_weights_and_audio(synth_dir, tmp_path):
    a, b = make_tiny_whisper(seed=0), make_tiny_whisper(seed=1)
    assert EncoderCache(tmp_path, a).directory != EncoderCache(tmp_path, b).directory
    assert EncoderCache(tmp_path, a).directory == EncoderCache(tmp_path, make_tiny_whisper(seed=0)).directory
    wavs = sorted((synth_dir / "audios").glob("*.wav"))
    assert empaquetado.Clip((wavs[0],)).key() != empaquetado.Clip((wavs[1],)).key()
    # Mixed precision computes other features: they get a cache of their own.
    assert EncoderCache(tmp_path, a, autocast=torch.bfloat16).directory != EncoderCache(tmp_path, a).directory


@pytest.mark.voz
def test_cut_cache_plus_the_trained_blocks_is_the_whole_encoder(synth_dir):
    """With the top blocks training, the cache holds what enters them; its key ignores their weights."""
    model = make_tiny_whisper(seed=0).eval()
    mel = log_mel(load_audio(sorted((synth_dir / "audios").glob("*.wav"))[0]), model.dims.n_mels)[None]
    n = model.dims.n_audio_layer
    with torch.no_grad():
        full = model.encoder(mel)
        for blocks in range(n + 1):
            hidden = cache_encoder.encode_prefix(model.encoder, mel, blocks)
            assert torch.allclose(cache_encoder.encode_suffix(model.encoder, hidden, blocks), full, atol=1e-5)
    other = make_tiny_whisper(seed=0)
    with torch.no_grad():
        other.encoder.blocks[-1].mlp[0].weight.add_(1.0)
        other.encoder.ln_post.bias.add_(1.0)
    assert EncoderCache("d", other, n - 1).directory == EncoderCache("d", model, n - 1).directory
    assert EncoderCache("d", other).directory != EncoderCache("d", model).directory
    assert len({EncoderCache("d", model, b).directory for b in range(n + 1)}) == n + 1
