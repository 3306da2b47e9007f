"""Shared fixtures: a tiny random Whisper saved through the real code path, and real espeak-ng audio."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI must be reproducible: the same examples every run. Locally hypothesis keeps exploring.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATA = ROOT / "tests" / "data"  # small excerpts copied into the repo, so the tests run without ../shared


def make_tiny_whisper(seed: int = 0):
    """A 1-layer Whisper with the real vocabulary and mel size: fast to train, real tokenizer and shapes."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    model = Whisper(ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                                    n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1))
    # whisper leaves the decoder's positional embedding uninitialised (torch.empty): loaded weights fill it.
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)
    torch.nn.init.normal_(model.decoder.token_embedding.weight, std=0.02)  # tied output: keep logits small
    return model


class RunsCode:
    """A pickle that, when unpickled the unsafe way, calls open(marker, "w"): if the marker exists, code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="session")
def tiny_whisper_pt(tmp_path_factory) -> Path:
    from modelo import pesos

    return pesos.save_whisper(make_tiny_whisper(), tmp_path_factory.mktemp("tiny") / "tiny.pt")


@pytest.fixture(scope="session")
def base_model():
    from modelo import pesos

    return pesos.load_whisper("base")


def run(args: list[str], cwd: Path = ROOT, timeout: int = 900, **kwargs) -> subprocess.CompletedProcess:
    """Run one of the project's commands for real, with this interpreter."""
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs)


def train(data_dir, model, out: Path, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """fine_tune.py for real, small: artifacts in out/artifacts, logs in out/logs; `extra` flags override."""
    return run(["fine_tune.py", "--model-name", str(model), "--data-dir", str(data_dir), "--artifacts-dir",
                str(out / "artifacts"), "--log-dir", str(out / "logs"), "--batch-size", "2", "--num-worker", "0",
                "--val-decode-max", "2", *extra], timeout=timeout)


def espeak(text: str, path: Path, voice: str = "es-419", speed: int = 140) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng no está instalado: `make setup` lo instala (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """A small real data dir: 16 answers spoken by espeak-ng, made by the real sintetico.py."""
    out = tmp_path_factory.mktemp("sintetico") / "datos"
    result = run(["sintetico.py", "--out", str(out), "--n", "16", "--seed", "3", "--sin-progreso"])
    assert result.returncode == 0, result.stderr
    return out
