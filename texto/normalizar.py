"""The project's one text normaliser: accent folding for matching words, and the form WER compares.

Every module that compares text folds it here: the number parser (word lookup), the slot extractor
(letter names, keeping ñ), the split (one sentence read twice), and the metrics (`comparable`).
"""

from __future__ import annotations

import re
import unicodedata

# Non-ASCII letters that NFKD does not split into a base letter and an accent (whisper's table).
_LETTERS = {"œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS", "đ": "d",
            "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L"}
_BRACKETS = re.compile(r"[<\[][^>\]]*[>\]]")
_PARENTHESES = re.compile(r"\(([^)]+?)\)")
_SPACES = re.compile(r"\s+")


def _fold_piece(text: str, symbols: bool) -> str:
    chars = []
    for c in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(c)
        if c in _LETTERS:
            chars.append(_LETTERS[c])
        elif category == "Mn":
            continue  # the accent NFKD split off
        elif not symbols and category[0] in "MSP":
            chars.append(" ")
        else:
            chars.append(c)
    return "".join(chars)


def fold(text: str, keep: str = "", lower: bool = True, symbols: bool = True) -> str:
    """Text without accents ("Dieciséis" -> "dieciseis"), compatibility forms spelled out ("²" -> "2").

    keep: characters left as they are (the slot extractor keeps "ñ": Ñ is no plate letter, and "año" is
    not "ano"). lower: lower case too. symbols=False: punctuation and symbols become spaces.
    """
    if lower:
        text = text.lower()
    if keep:
        pieces = re.split(f"([{re.escape(keep)}])", unicodedata.normalize("NFC", text))
        text = "".join(p if len(p) == 1 and p in keep else _fold_piece(p, symbols) for p in pieces)
    else:
        text = _fold_piece(text, symbols)
    return text.lower() if lower else text  # a few NFKD forms are capitals ("ℌ" -> "H")


def comparable(text: str) -> str:
    """Text as WER compares it: lower case, no accents, punctuation or [bracketed]/(parenthesised) asides.

    The same steps as openai-whisper's BasicTextNormalizer(remove_diacritics=True), written here so that
    text code needs no torch (whisper's package imports it); a test holds the two equal.
    """
    text = _PARENTHESES.sub("", _BRACKETS.sub("", text.lower()))
    return _SPACES.sub(" ", fold(text, symbols=False))
