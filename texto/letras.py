"""How plates are written and spelled: the four plate shapes, the spoken name of each letter, and the
one-token-per-symbol spelling of training targets. Pure text (no torch).

One table of letter names for the whole project: the synthesizer says them, the kiosk reads plates
back with them, and the slot extractor understands them.
"""

from __future__ import annotations

import re

# Spoken names of each plate letter (Rioplatense Spanish). The first name is the plain one; the
# synthesizer speaks any of them but the homophones below, and the extractor must understand all of
# them. One table for both.
LETTER_NAMES: dict[str, tuple[str, ...]] = {
    "A": ("a",),
    "B": ("be", "be larga", "be grande", "be alta", "be de burro", "b larga"),
    "C": ("ce", "ce de casa"),
    "D": ("de", "de de dedo"),
    "E": ("e",),
    "F": ("efe",),
    "G": ("ge",),
    "H": ("hache",),
    "I": ("i", "i latina"),
    "J": ("jota",),
    "K": ("ka",),
    "L": ("ele",),
    "M": ("eme",),
    "N": ("ene",),
    "O": ("o",),
    "P": ("pe",),
    "Q": ("cu",),
    "R": ("erre", "ere"),
    "S": ("ese",),
    "T": ("te",),
    "U": ("u",),
    "V": ("ve", "ve corta", "uve", "ve chica", "ve de vaca", "v corta"),
    "W": ("doble ve", "doble u", "doble uve", "uve doble", "doble v"),
    "X": ("equis",),
    "Y": ("i griega", "y griega", "ye"),
    "Z": ("zeta", "seta"),
}
# Plain "be" and "ve" sound the same (espeak-ng says b'e for both, as Argentines do), so a plate read
# aloud with them cannot be heard right: whoever spells one says "be larga" or "ve corta". The
# synthesizer and the kiosk's read-back never use them; the extractor still reads them.
HOMOPHONE_NAMES = frozenset({"be", "ve"})


def clear_name(letter: str) -> str:
    """The name to spell `letter` aloud with: the plain one, unless it has a homophone."""
    return next(name for name in LETTER_NAMES[letter] if name not in HOMOPHONE_NAMES)


SHAPES = (  # (letters before the digits, letters after); order = preference on ties (most common first)
    (2, 2),  # AA999AA  Mercosur car
    (3, 0),  # AAA999   car 1995-2016
    (1, 3),  # A999AAA  Mercosur motorcycle
    (0, 3),  # 999AAA   motorcycle 1995-2016
)
PLATE_SHAPES = tuple("L" * before + "DDD" + "L" * after for before, after in SHAPES)  # "LLDDDLL", ...


# Whisper's BPE cuts runs of capitals and digits unpredictably (" DX"+"S", " AB", " 48"+"3", " 6"+"60"),
# so the same spoken letter or digit maps to a different token in each plate. Training targets spell
# them one token per symbol (" D X S 6 6 0"); decoded text joins them back, so users and metrics see
# the usual "DXS 660". Digits are spelled only inside a plate-shaped group: "2 horas" stays as it is.
_CAPITAL_RUN = re.compile(r"\b[A-ZÑ]{2,}\b")
_PLATE_GROUP = re.compile(r"\b(?:[A-Z]{1,3} \d{3}(?: [A-Z]{2,3})?|\d{3} [A-Z]{3})\b")
_SPELLED_RUN = re.compile(r"\b[A-ZÑ](?: [A-ZÑ])+\b")
_SPELLED_DIGITS = re.compile(r"(?<![\d.,:])\b\d(?: \d)+\b(?![.,:]\d)")


def spell_capitals(text: str) -> str:
    """"Patente DXS 660" -> "Patente D X S 6 6 0": one token per plate symbol, for training targets."""
    text = _PLATE_GROUP.sub(lambda m: " ".join(m.group().replace(" ", "")), text)
    return _CAPITAL_RUN.sub(lambda m: " ".join(m.group()), text)


def join_spelled_capitals(text: str) -> str:
    """The inverse, for decoded text: "D X S 6 6 0" -> "DXS 660" (any run of single capitals or digits)."""
    text = _SPELLED_RUN.sub(lambda m: m.group().replace(" ", ""), text)
    return _SPELLED_DIGITS.sub(lambda m: m.group().replace(" ", ""), text)
