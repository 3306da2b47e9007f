"""The plate's grammar at decoding time: a spelled plate with no valid shape is decoded again.

An Argentine plate has one of four shapes (letras.PLATE_SHAPES: AA999AA, AAA999, A999AAA, 999AAA).
The fine-tuned model spells plates one symbol per token ("P P E 2 9 7"), and on voices it never heard
it drops or adds a symbol far more often than it mishears one: "pe pe e dos nueve siete" -> "P P 2 9 7",
"eme cu efe cuatrocientos tres" -> "M Q F 4 3". Such a run of symbols fits no shape, so no plate can
come out of it. `repair_plates` decodes it again from just before the run, with the model's own
probabilities but every step forced to keep to some shape (`PlateGrammar`, a beam search), and puts
in its place the valid plate that makes the rest of the text likeliest: the beam's plates, and any
valid plate already inside the run ("A A E F 8 0 6 L N T": junk before "F 806 LNT"), are ranked by
log p(plate + the text that followed the run) under the model (`PlateRanker`), so a plate that
swallows the next word ("P P 2 9 7 L I, listo") loses to one that leaves it be ("P P E 2 9 7,
listo"). A run with a valid shape is never touched, nor is any other text.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import torch
from whisper.decoding import LogitFilter, SequenceRanker

from texto.extraccion import extract
from texto.hipotesis import Hypothesis
from texto.letras import LETTER_NAMES, PLATE_SHAPES
from texto.normalizar import fold

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

    def pattern(self, tokens: list[int]) -> str:
        """Tokens -> "LLD…": "L" a letter, "D" a digit, "?" anything else."""
        return "".join(self.kind.get(t, "?") for t in tokens)

    def allowed(self, pattern: str) -> list[str]:
        """What may follow `pattern` (e.g. "LLD"): "L", "D", or "eot" when it is a complete shape."""
        if pattern in PLATE_SHAPES:
            return ["eot"]
        return sorted({s[len(pattern)] for s in PLATE_SHAPES if s.startswith(pattern) and len(s) > len(pattern)})

    def apply(self, logits: torch.Tensor, tokens: torch.Tensor) -> None:
        # logits (n_beams, vocab), tokens (n_beams, sample_begin + steps so far); in place, as whisper's filters
        for row in range(tokens.shape[0]):
            pattern = self.pattern(tokens[row, self.sample_begin:].tolist())
            mask = torch.full_like(logits[row], -float("inf"))
            for kind in self.allowed(pattern):
                if kind == "eot":
                    mask[self.eot] = 0
                else:
                    mask[self.ids[kind].to(logits.device)] = 0
            logits[row] += mask

    def complete(self, tokens: list[int]) -> bool:
        return self.pattern(tokens) in PLATE_SHAPES


class PlateRanker(SequenceRanker):
    """Ranks a beam's plates by `score(tokens)`, log p(plate + what followed the run) without the grammar's
    mask (so they compare with plates scored outside the beam). Complete shapes first: a beam cut short
    by the step limit may hold a partial one. Keeps the winners' scores in `best_scores`."""

    def __init__(self, grammar: PlateGrammar, score: Callable[[list[int]], float]):
        self.grammar, self.score = grammar, score
        self.best_scores: list[float] = []

    def rank(self, tokens: list[list[torch.Tensor]], sum_logprobs: list[list[float]]) -> list[int]:
        best, self.best_scores = [], []
        for candidates in tokens:
            keys = [(self.grammar.complete(c.tolist()), self.score(c.tolist())) for c in candidates]
            winner = max(range(len(keys)), key=keys.__getitem__)
            best.append(winner)
            self.best_scores.append(keys[winner][1])
        return best


def plates_inside(run: str) -> list[str]:
    """The valid plates that a run already holds, spelled, each not part of a longer one (the model's log
    p favours one symbol less): "A A E F 8 0 6 L N T" -> ["A E F 8 0 6", "E F 8 0 6 L N", "F 8 0 6 L N T"]."""
    symbols = run.replace(" ", "")
    spans = [(i, i + size) for size in {len(shape) for shape in PLATE_SHAPES}
             for i in range(len(symbols) - size + 1) if _VALID.fullmatch(symbols[i : i + size])]
    longest = [(a, b) for a, b in spans if not any(c <= a and b <= d and (c, d) != (a, b) for c, d in spans)]
    return [" ".join(symbols[a:b]) for a, b in sorted(longest)]


def repair_plates(text: str, decode_plate: Callable[[str, str, list[str]], str]) -> str:
    """`text` (spelled, as decoded) with each plate attempt replaced by `decode_plate(text before it, text
    after it, plates_inside(attempt))`: the likeliest valid plate there, spelled ("P P E 2 9 7"). Left to
    right, so a later attempt is decoded after the earlier ones were mended."""
    position = 0
    while spans := plate_attempts(text, position):
        start, end = spans[0]
        plate = decode_plate(text[:start].strip(), text[end:], plates_inside(text[start:end]))
        text = text[:start] + plate + text[end:]
        position = start + len(plate)
    return text



# How the end of a word the ASR wrote can sound like a letter's name, for `hidden_letter_readings`: each
# single-word name of letras.LETTER_NAMES, the last syllable of the two-syllable ones ("efe" -> "fe"), and
# the sounds Rioplatense speech or the ASR merge (seseo: "se" for "ce"; "de" and "te"; "be" and "ve"; "ca").
_LETTER_SOUNDS: dict[str, set[str]] = {}
for _letter, _names in LETTER_NAMES.items():
    for _name in _names:
        if " " not in _name and len(_name) > 1 or _name in "aeiou":
            _LETTER_SOUNDS.setdefault(_letter, set()).update({_name, _name[-2:]} if len(_name) == 3 else {_name})
for _letter, _sounds in {"C": {"se"}, "D": {"te"}, "T": {"de"}, "B": {"ve"}, "V": {"be"}, "K": {"ca"}, "I": {"y"},
                         "Y": {"i"}}.items():
    _LETTER_SOUNDS[_letter] |= _sounds


# How much likelier (log-prob of the whole text, nats) the model may find a word that swallowed a plate's letter
# than the reading that spells it, and the spelled one still wins: on 240 answers of the evaluation-only Kokoro
# voices (docs/EXPERIMENTOS.md), the right readings lost by up to 5, the first wrong one by 8.8.
HIDDEN_LETTER_PRIOR = 5.0


def hidden_letter_readings(text: str) -> list[str]:
    """Other readings of each spelled plate in `text` (spelled, as decoded) with a letter the word before it
    swallowed, when they fit a plate shape: on voices it never heard, the model writes a plate's first
    letter into the word it follows ("escribí A F 7 2 0" -> "escribía F 7 2 0", "patente T Y 1 2 5" ->
    "patente Y 1 2 5", "a ce 1 3 2" -> "hace 1 3 2") or hears a doubled letter once ("A A 3 4 8" -> "A 3 4 8").
    The model itself then scores each reading against the audio (decodificacion.hidden_letters)."""
    readings = []
    for m in _RUN.finditer(text):
        symbols = m.group().replace(" ", "")
        last = re.search(r"(\w+)([,.]?\s*)$", text[: m.start()])
        if last and any(c.isalpha() for c in symbols) and any(c.isdigit() for c in symbols):
            head, after = text[: last.start()], text[m.end() :]
            readings += [f"{head}{kept}{' ' if kept else ''}{' '.join(letters + symbols)}{after}".strip()
                         for kept, letters in _swallowed(last.group(1), last.group(2).rstrip(), symbols)]
    return list(dict.fromkeys(readings))


def _swallowed(word: str, punctuation: str, symbols: str) -> list[tuple[str, str]]:
    """(what stays of `word`, the letters it swallowed) for each way the word before a spelled plate can hide
    some of the plate's letters that gives the plate a valid shape."""
    sound = fold(word)
    ways = []
    for letter, sounds in _LETTER_SOUNDS.items():
        for end in sounds:
            if sound.endswith(end):
                ways.append((word + punctuation, letter))  # the letter said after the word: "patente, T Y…"
                if len(sound) - len(end) >= 2:
                    ways.append((word[: len(word) - len(end)], letter))  # the word ends in it: "escribí A F…"
        if sound.lstrip("h") in sounds:
            ways.append(("", letter))  # the word is the letter: "de I Q 7 7 8" -> "D I Q 7 7 8"
    for first, firsts in _LETTER_SOUNDS.items():  # two letters in one word: "hace" -> "A C"
        for second, seconds in _LETTER_SOUNDS.items():
            if any(sound.lstrip("h") == a + b for a in firsts for b in seconds):
                ways.append(("", first + second))
    if symbols[0].isalpha():
        ways.append((word + punctuation, symbols[0]))  # "A A 3 4 8" heard "A 3 4 8"
    return [(kept, letters) for kept, letters in ways if _VALID.fullmatch(letters + symbols)]


class PlateFromFirstSymbol(LogitFilter):
    """whisper logit filter for the answer to the plate question: the text is free until its first spelled
    symbol (" P", " 4"); from there the symbols keep to some plate shape, and once one is complete no further
    symbol may follow (the text goes on freely: ", listo"). So every finished beam holds a plate of valid
    shape, or none at all (a text that never spelled one)."""

    def __init__(self, grammar: PlateGrammar):
        self.grammar = grammar
        self.symbols = torch.cat([grammar.ids["L"], grammar.ids["D"]])

    def apply(self, logits: torch.Tensor, tokens: torch.Tensor) -> None:
        # logits (n_beams, vocab), tokens (n_beams, sample_begin + steps so far); in place
        for row in range(tokens.shape[0]):
            generated = tokens[row, self.grammar.sample_begin :].tolist()
            start = next((i for i, t in enumerate(generated) if t in self.grammar.kind), None)
            if start is None:
                continue
            pattern = self.grammar.pattern(generated[start:])
            if "?" in pattern:  # the plate is behind: free text
                continue
            mask = torch.full_like(logits[row], -float("inf"))
            for kind in self.grammar.allowed(pattern):
                if kind == "eot":  # complete: anything but another symbol
                    mask.zero_()
                    mask[self.symbols.to(logits.device)] = -float("inf")
                else:
                    mask[self.grammar.ids[kind].to(logits.device)] = 0
            logits[row] += mask


def distinct_plates(hypotheses: list[Hypothesis], n: int) -> list[Hypothesis]:
    """The answers to the plate question, best score first, that hold a plate (extraccion.extract), one per
    plate: the list the dialogue offers is distinct valid plates."""
    seen, kept = set(), []
    for h in sorted(hypotheses, key=lambda h: -h.score):
        plate = extract(h.text).plate
        if plate and plate not in seen:
            seen.add(plate)
            kept.append(h)
    return kept[:n]


def plates_or_texts(hypotheses: list[Hypothesis], n: int) -> list[Hypothesis]:
    """The plate question's list: distinct_plates, behind the best-scored text when that one holds no plate, or
    only texts when none does. An answer that gives the stay alone ("me quedo dos horas": a plate-held beam
    makes "MEK 444" of "Me quedo") reaches the dialogue as said, the forced plates below it as weaker evidence."""
    ranked = distinct_texts(hypotheses, len(hypotheses))
    plates = distinct_plates(ranked, n)
    if ranked and extract(ranked[0].text).plate is None:  # with no plate at all, that is ranked[:n]
        return [ranked[0], *(plates or ranked[1:])][:n]
    return plates


def distinct_texts(hypotheses: list[Hypothesis], n: int) -> list[Hypothesis]:
    """Best score first, one per text, no empty text."""
    seen, kept = set(), []
    for h in sorted(hypotheses, key=lambda h: -h.score):
        if h.text and h.text not in seen:
            seen.add(h.text)
            kept.append(h)
    return kept[:n]
