"""Against forgetting, at export: --merge-pretrained (WiSE-FT) mixes the trained and the pretrained weights;
--keep-delta (TIES trim) keeps only the largest changes of each tensor."""

import shutil

import pytest
import torch

from conftest import make_tiny_whisper, run, train
from modelo import pesos


def _train_and_export(synth_dir, tiny_whisper_pt, tmp_path, *remedy: str) -> tuple[dict, dict, dict]:
    """fine_tune.py for real, a few steps with a remedy at export: (pretrained, last.ckpt, modelo-ultimo.pt) weights."""
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    out = tmp_path / "artifacts"
    result = train(data, tiny_whisper_pt, tmp_path, "--val-decode-max", "1", "--max-steps", "3", "--learning-rate", "1e-2",
                   *remedy)
    assert result.returncode == 0, result.stderr[-3000:]
    return tuple(pesos.load_whisper(str(path)).state_dict()
                 for path in (tiny_whisper_pt, out / "last.ckpt", out / "modelo-ultimo.pt"))


@pytest.mark.voz
def test_fine_tune_exports_the_mix_and_keeps_checkpoints_as_trained(synth_dir, tiny_whisper_pt, tmp_path):
    pretrained, trained, exported = _train_and_export(synth_dir, tiny_whisper_pt, tmp_path, "--merge-pretrained", "0.5")
    name = "decoder.blocks.0.mlp.0.weight"
    assert not torch.allclose(trained[name], pretrained[name]), "training did not move the decoder"
    for key, tensor in exported.items():
        assert torch.allclose(tensor, 0.5 * trained[key] + 0.5 * pretrained[key], atol=1e-5), key


@pytest.mark.voz
def test_fine_tune_exports_the_trimmed_model(synth_dir, tiny_whisper_pt, tmp_path):
    pretrained, trained, exported = _train_and_export(synth_dir, tiny_whisper_pt, tmp_path, "--keep-delta", "0.5")
    name = "decoder.blocks.0.mlp.0.weight"
    moved = trained[name] != pretrained[name]
    kept = exported[name] != pretrained[name]
    assert moved.float().mean() > 0.9, "training did not move the decoder"
    assert abs(kept.float().mean().item() - 0.5) < 0.02
    assert torch.equal(exported[name][kept], trained[name][kept])
    assert torch.equal(exported["encoder.conv1.weight"], pretrained["encoder.conv1.weight"])  # frozen: untouched


def test_merge_weight_outside_0_1_is_a_spanish_error(tmp_path):
    result = run(["fine_tune.py", "--merge-pretrained", "1.5", "--data-dir", str(tmp_path)])
    assert result.returncode == 2
    assert "--merge-pretrained 1.5: tiene que estar entre 0 y 1" in result.stderr and "Traceback" not in result.stderr


def test_keep_delta_outside_0_1_is_a_spanish_error(tmp_path):
    result = run(["fine_tune.py", "--keep-delta", "0", "--data-dir", str(tmp_path)])
    assert result.returncode == 2
    assert "--keep-delta 0: tiene que ser mayor que 0" in result.stderr and "Traceback" not in result.stderr


def test_exportar_trims_and_mixes_a_checkpoint_afterwards(tmp_path):
    trained_pt = pesos.save_whisper(make_tiny_whisper(seed=1), tmp_path / "afinado.pt")
    pretrained_pt = pesos.save_whisper(make_tiny_whisper(seed=2), tmp_path / "pre.pt")
    out = tmp_path / "recortado.pt"
    result = run(["exportar.py", "--checkpoint", str(trained_pt), "--to", "openai", "--out", str(out),
                  "--preentrenado", str(pretrained_pt), "--keep-delta", "0.5", "--merge-pretrained", "0.5"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--keep-delta 0.5, --merge-pretrained 0.5" in result.stdout
    trained = pesos.load_whisper(str(trained_pt)).state_dict()
    pretrained = pesos.load_whisper(str(pretrained_pt)).state_dict()
    exported = pesos.load_whisper(str(out)).state_dict()
    name = "decoder.blocks.0.mlp.0.weight"
    kept = exported[name] != pretrained[name]
    assert abs(kept.float().mean().item() - 0.5) < 0.02
    expected = 0.5 * trained[name][kept] + 0.5 * pretrained[name][kept]
    assert torch.allclose(exported[name][kept], expected, atol=1e-6)


@pytest.mark.base
def test_exportar_remedy_errors_are_spanish_and_all_at_once(tmp_path, tiny_whisper_pt):
    result = run(["exportar.py", "--checkpoint", str(tiny_whisper_pt), "--to", "openai", "--out", str(tmp_path / "x.pt"),
                  "--keep-delta", "0", "--merge-pretrained", "2"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--keep-delta 0: tiene que ser mayor que 0" in result.stderr
    assert "--merge-pretrained 2: tiene que estar entre 0 y 1" in result.stderr
    # A pretrained model of another shape: named, with what to do, and nothing written.
    result = run(["exportar.py", "--checkpoint", str(tiny_whisper_pt), "--to", "openai", "--out", str(tmp_path / "x.pt"),
                  "--keep-delta", "0.5", "--preentrenado", "base"])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--preentrenado base no tiene la forma" in result.stderr and "--model-name" in result.stderr
    assert not (tmp_path / "x.pt").exists()
