"""Speech-to-text engines behind one interface: openai-whisper (PyTorch) and, later, CTranslate2.

ref_test, the assistant and bench load a model with `load_engine(spec, engine)` and call
`engine.transcribe(audios)`; which library does the decoding is a flag, not a code path of each tool.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENGINES = ("openai", "ctranslate2")


@dataclass
class OpenAIEngine:
    """openai-whisper's own decoder on a model loaded through `pesos.load_whisper` (strict keys)."""

    model: object  # whisper.model.Whisper
    spec: str
    language: str = "es"
    name: str = "openai"

    def transcribe(self, audios: list[np.ndarray], beam_size: int | None = None) -> list[str]:
        """16 kHz mono float32 clips (each ≤ 30 s) -> texts, batched greedy (or beam) decoding."""
        import torch

        import comun

        if not audios:
            return []
        mel = torch.stack([comun.log_mel(a, self.model.dims.n_mels) for a in audios])  # (B, n_mels, 3000)
        return comun.transcribe_batch(self.model, mel, self.language, beam_size=beam_size)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_engine(spec: str, engine: str = "openai", device: str | None = None, language: str = "es"):
    """A model name, `.pt`, Lightning `.ckpt` or CTranslate2 dir -> an engine with `.transcribe(audios)`."""
    if engine not in ENGINES:
        raise ValueError(f"motor desconocido {engine!r}: usá uno de {', '.join(ENGINES)}.")
    device = device or default_device()
    if engine == "openai":
        import pesos

        return OpenAIEngine(pesos.load_whisper(spec, device=device), spec, language)
    raise ValueError("el motor ctranslate2 todavía no está disponible en esta versión.")
