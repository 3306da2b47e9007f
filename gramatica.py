"""The plate's grammar at decoding time: a spelled plate with no valid shape is decoded again.

An Argentine plate has one of four shapes (extraccion.PLATE_SHAPES: AA999AA, AAA999, A999AAA, 999AAA).
The fine-tuned model spells plates one symbol per token ("P P E 2 9 7"), and on voices it never heard
it drops or adds a symbol far more often than it mishears one: "pe pe e dos nueve siete" -> "P P 2 9 7",
"eme cu efe cuatrocientos tres" -> "M Q F 4 3". Such a run of symbols fits no shape, so no plate can
come out of it. `repair_plates` decodes it again from just before the run, with the model's own
probabilities but every step forced to keep to some shape (`PlateGrammar`, a beam search), and puts
in its place the valid plate that makes the whole text likeliest: the beam's candidates are ranked
by their own log-probability plus that of the text that followed the run (`ContinuationRanker`), so
a plate that swallows the next word ("P P 2 9 7 L I, listo") loses to one that leaves it be
("P P E 2 9 7, listo"). A run with a valid shape is never touched, nor is any other text.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import torch
from whisper.decoding import LogitFilter, SequenceRanker

from extraccion import PLATE_SHAPES

# At least 4 capitals/digits written apart, one or two at a time ("P P 2 9 7", "G 21 3 H K I D"), as the
# model spells plates; words ("COVID 19", "DNI 30 123 456") never form one.
_RUN = re.compile(r"(?<!\w)[A-Z0-9]{1,2}(?: [A-Z0-9]{1,2}){3,}(?!\w)")
_VALID = re.compile("|".join("".join("[A-Z]" if c == "L" else "[0-9]" for c in shape) for shape in PLATE_SHAPES))
MAX_SYMBOLS = max(len(shape) for shape in PLATE_SHAPES)


def plate_attempts(text: str, start: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each run of spelled symbols in `text` that mixes letters and digits (a plate was
    meant) but fits no plate shape (so none can be read from it)."""
    spans = []
    for m in _RUN.finditer(text, start):
        symbols = m.group().replace(" ", "")
        mixed = any(c.isalpha() for c in symbols) and any(c.isdigit() for c in symbols)
        if mixed and not _VALID.fullmatch(symbols):
            spans.append(m.span())
    return spans


class PlateGrammar(LogitFilter):
    """whisper logit filter: from `sample_begin` on, only single-letter or single-digit tokens that keep the
    symbols so far a prefix of some plate shape; once a shape is complete, only end-of-text."""

    def __init__(self, tokenizer, sample_begin: int):
        self.sample_begin = sample_begin
        self.eot = tokenizer.eot
        self.kind: dict[int, str] = {}  # token -> "L" or "D"
        for kind, chars in (("L", string.ascii_uppercase), ("D", string.digits)):
            for c in chars:
                ids = tokenizer.encode(" " + c)
                if len(ids) == 1:
                    self.kind[ids[0]] = kind
        self.ids = {kind: torch.tensor([t for t, k in self.kind.items() if k == kind]) for kind in ("L", "D")}

    def allowed(self, pattern: str) -> list[str]:
        """What may follow `pattern` (e.g. "LLD"): "L", "D", or "eot" when it is a complete shape."""
        if pattern in PLATE_SHAPES:
            return ["eot"]
        return sorted({s[len(pattern)] for s in PLATE_SHAPES if s.startswith(pattern) and len(s) > len(pattern)})

    def apply(self, logits: torch.Tensor, tokens: torch.Tensor) -> None:
        # logits (n_beams, vocab), tokens (n_beams, sample_begin + steps so far); in place, as whisper's filters
        for row in range(tokens.shape[0]):
            pattern = "".join(self.kind.get(t, "?") for t in tokens[row, self.sample_begin:].tolist())
            mask = torch.full_like(logits[row], -float("inf"))
            for kind in self.allowed(pattern):
                if kind == "eot":
                    mask[self.eot] = 0
                else:
                    mask[self.ids[kind].to(logits.device)] = 0
            logits[row] += mask

    def complete(self, tokens: list[int]) -> bool:
        return "".join(self.kind.get(t, "?") for t in tokens) in PLATE_SHAPES


class ContinuationRanker(SequenceRanker):
    """Ranks a beam's plates by log p(plate) + log p(what followed | plate): `continuation(tokens)` gives
    the second term. Complete shapes first (a beam cut short by the step limit may hold a partial one)."""

    def __init__(self, grammar: PlateGrammar, continuation: Callable[[list[int]], float]):
        self.grammar, self.continuation = grammar, continuation

    def rank(self, tokens: list[list[torch.Tensor]], sum_logprobs: list[list[float]]) -> list[int]:
        best = []
        for candidates, logprobs in zip(tokens, sum_logprobs, strict=True):
            scores = []
            for candidate, logprob in zip(candidates, logprobs, strict=True):
                candidate = candidate.tolist()
                scores.append((self.grammar.complete(candidate), logprob + self.continuation(candidate)))
            best.append(max(range(len(scores)), key=scores.__getitem__))
        return best


def repair_plates(text: str, decode_plate: Callable[[str, str], str]) -> str:
    """`text` (spelled, as decoded) with each plate attempt replaced by `decode_plate(text before it, text
    after it)`: the symbols the model picks under PlateGrammar, spelled ("P P E 2 9 7"). Left to right,
    so a later attempt is decoded after the earlier ones were mended."""
    position = 0
    while spans := plate_attempts(text, position):
        start, end = spans[0]
        plate = decode_plate(text[:start].strip(), text[end:])
        text = text[:start] + plate + text[end:]
        position = start + len(plate)
    return text

