"""Error rates: corpus WER and CER on normalised text (numbers as digits), and raw WER.

Text against text, no model: pure Python (jiwer), so scoring loads no torch.
"""

from __future__ import annotations

import jiwer

from texto import numeros
from texto.normalizar import comparable


def normalize_text(text: str) -> str:
    """Text as WER sees it: numbers as digits ("doce" == "12"), no case, punctuation or accents."""
    return comparable(numeros.to_digits(text)).strip()


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus WER and CER (after normalize_text) plus raw WER (texts as they are)."""
    pairs = [(normalize_text(r), normalize_text(h), r, h) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [p for p in pairs if p[0]]  # jiwer cannot score an empty reference
    if not pairs:
        return {"wer": float("nan"), "cer": float("nan"), "raw_wer": float("nan")}
    refs, hyps, raw_refs, raw_hyps = (list(x) for x in zip(*pairs, strict=True))
    return {
        "wer": jiwer.wer(refs, hyps),
        "cer": jiwer.cer(refs, hyps),
        "raw_wer": jiwer.wer([r.strip() or "-" for r in raw_refs], [h.strip() for h in raw_hyps]),
    }
