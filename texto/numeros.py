"""Spanish number words -> digits, for training targets and for WER (applied to both sides), and the
number parser the slot extractor reads plates and stays with: one grammar for the whole project.

Pure text on purpose (no torch/whisper import). `to_digits` never raises: evaluation runs it on
whatever a model writes.

Policy (one canonical written form, so "seis y media", "6 y media" and "6:30" compare equal):
- Cardinals become digits: "doce" -> "12", "veintiún años" -> "21 años", "dos mil dieciséis" -> "2016",
  "mil quinientas" -> "1500", "3 mil" -> "3000", "1.500" -> "1500", "cero" -> "0".
- Decimals with a comma: "tres coma cinco" -> "3,5".
- Times with minutes become H:MM: "las seis y media" -> "las 6:30", "las doce y diez" -> "las 12:10",
  "las nueve menos cuarto" -> "las 8:45"; a bare hour stays an hour: "la una de la tarde" -> "la 1 de la tarde".
- "N por ciento" -> "N%".
- Ordinals stay words ("primera clase", "el tercero"); "medio/media" outside times stay words.
- "un/uno/una" stays a word unless it is a quantity: "una hora" -> "1 hora", "uno o dos" -> "1 o 2",
  "fórmula uno" -> "fórmula 1", "la una y media" -> "la 1:30"; but "uno de los", "enseñan a uno",
  "cada uno", "tengo un nuevo champú", "un diecisiete por ciento" keep the word.

text2num decides what one number is and writes its digits (`number_at`); the rules here only add what it
lacks in running text: old and misspelled spellings, "y" only between tens and units (it reads "dos mil y
tres mil" as 2003), years said without "cientos", "los noventas", and "ciento"/"millones" alone as words.
"""

from __future__ import annotations

import re

from text_to_num import text2num

from texto.normalizar import fold

# What a speaker says for 0..29, the tens and the hundreds: the synthesizer's words and text2num's spellings.
_SAID_UNITS = "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis " \
         "diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro veinticinco " \
         "veintiséis veintisiete veintiocho veintinueve".split()
_SAID_TENS = {3: "treinta", 4: "cuarenta", 5: "cincuenta", 6: "sesenta", 7: "setenta", 8: "ochenta", 9: "noventa"}
_SAID_HUNDREDS = {1: "ciento", 2: "doscientos", 3: "trescientos", 4: "cuatrocientos", 5: "quinientos",
             6: "seiscientos", 7: "setecientos", 8: "ochocientos", 9: "novecientos"}

# Folded number word -> the spelling text2num reads (it rejects "veintitres"); misspellings the ASR or people
# write ("diesiseis" is in Duckling's corpus) map to the standard word.
_SPELLING = {fold(w): w for w in (*_SAID_UNITS[1:], *_SAID_TENS.values(), *_SAID_HUNDREDS.values())}
_SPELLING.update({fold(w)[:-2] + "as": w[:-2] + "as" for w in _SAID_HUNDREDS.values() if w.endswith("os")})
_SPELLING.update({w: w for w in ("un", "una", "veintiuna", "cien", "mil", "millones")})
_SPELLING.update({"millon": "millón", "veintiun": "veintiuno", "diesiseis": "dieciséis", "diesisiete": "diecisiete",
                  "diesiocho": "dieciocho", "diesinueve": "diecinueve", "beinte": "veinte"})
ZERO_WORDS = frozenset({"cero", "zero"})
# Every folded word a number is made of (the extractor tells number words from letter names with it).
NUMBER_WORDS = frozenset(_SPELLING) | ZERO_WORDS
ONE_WORDS = {"un", "uno", "una"}

_UNITS = {w: n for n, w in enumerate(_SAID_UNITS[:10]) if n} | {"un": 1, "una": 1}
_TENS = {fold(w) for w in _SAID_TENS.values()}
# Old spellings text2num rejects: "diez y seis" = dieciséis, "veinte y tres" = veintitrés.
_OLD_TENS = {"diez": "dieci", "veinte": "veinti"}
# "los sesentas" = the sixties, written "los 60".
_DECADES = {w + "s": 10 * n for n, w in _SAID_TENS.items()}
# Alone, these are words: "diez por ciento", "millones de personas".
_NOT_ALONE = {"ciento", "millon", "millones"}


def _unit(word: str) -> str:
    """The unit said (or written as one digit) in word, "" if none: "tres" -> "tres", "3" -> "tres"."""
    if len(word) == 1 and word in "123456789":
        return _SAID_UNITS[int(word)]
    return word if word in _UNITS else ""


def _said_at(words: list[str], j: int, continues: bool) -> tuple[str, int] | None:
    """The number word at j in text2num's spelling, and how many words say it.

    Forms text2num rejects become the one word they stand for: "dos cientos" -> doscientos, "diez y seis"
    -> dieciséis. "y" only joins tens and units: text2num would read "dos mil y tres mil" as 2003.
    """
    w = words[j]
    nxt = words[j + 1] if j + 1 < len(words) else ""
    if w == "y":
        unit = _unit(nxt)  # "treinta y 3" too
        return ("y " + unit, 2) if continues and unit and words[j - 1] in _TENS else None
    if _UNITS.get(w, 0) > 1 and nxt in ("cientos", "cientas"):
        return _SAID_HUNDREDS[_UNITS[w]], 2
    if w in _OLD_TENS and nxt == "y" and (j == 0 or words[j - 1] not in ("la", "las")):  # "las diez y siete": 10:07
        joined = _OLD_TENS[w] + _unit(words[j + 2] if j + 2 < len(words) else "")
        if joined in _SPELLING:
            return _SPELLING[joined], 3
    return (_SPELLING[w], 1) if w in _SPELLING else None


def number_at(words: list[str], i: int) -> tuple[str, int] | None:
    """The number that starts at folded word i, as (digits, words used); None if none starts there.

    text2num decides how far one number goes: the longest run of number words it reads as one
    ("cuatro cincuenta" is two, "treinta cinco" one). A zero is a number by itself, because text2num
    drops leading zeros ("cero cinco" -> 5) that plates and phone-like readings keep.
    """
    first = words[i]
    if first.isdigit():
        return first, 1
    if first in ZERO_WORDS:
        return "0", 1
    if first in _DECADES:
        return (str(_DECADES[first]), 1) if i > 0 and words[i - 1] in ("los", "anos") else None
    said: list[str] = []
    best = None
    j = i
    while j < len(words) and (item := _said_at(words, j, bool(said))):
        said.append(item[0])
        j += item[1]
        try:
            best = str(text2num(" ".join(said), "es")), j - i
        except ValueError:
            break
    if best is None or (best[1] == 1 and first in _NOT_ALONE):
        return None
    if first == "mil" and best[1] == 2 and _UNITS.get(words[i + 1], 0) > 1 and i + 2 < len(words):
        tail = number_at(words, i + 2) if words[i + 2] in _SPELLING else None
        if tail and 10 <= int(tail[0]) <= 99:  # "mil nueve treinta y ocho" is 1938, said without "cientos"
            return str(1000 + 100 * _UNITS[words[i + 1]] + int(tail[0])), 2 + tail[1]
    return best


def written_tens_and_unit(words: list[str], i: int) -> tuple[str, int] | None:
    """ "30 y 4" -> ("34", 3): tens the ASR wrote in digits, then "y" and the unit, as they were said
    ("treinta y cuatro"; "doscientos cincuenta y uno" -> "250 y 1"). For a block of digits said as one
    number, a plate's; a clock's "20 y 5" is 20:05, so number_at leaves this to its callers."""
    first = words[i]
    if not (first.isdigit() and len(first) in (2, 3) and first[-1] == "0" and first[-2] != "0"):
        return None
    unit = _unit(words[i + 2]) if i + 2 < len(words) and words[i + 1] == "y" else ""
    if not unit or unit in ("un", "una"):
        return None
    return str(int(first) + _UNITS[unit]), 3


def numeric_words(words: list[str]) -> list[str]:
    """Folded words with every number as digits ("dos horas" -> "2 horas"), "un"/"una" included.

    Zeros lead the number after them, as text2num writes them: "cero dos" -> "02".
    """
    out: list[str] = []
    i = 0
    while i < len(words):
        digits, n = number_at(words, i) or (words[i], 1)
        if words[i] in ZERO_WORDS and i + 1 < len(words) and words[i + 1] not in ZERO_WORDS:
            after = number_at(words, i + 1)
            if after is not None:
                digits, n = "0" + after[0], 1 + after[1]
        out.append(digits)
        i += n
    return out


_TOKEN = re.compile(r"[^\W\d_]+|\d+|\s+|.", re.DOTALL)


class _Words:
    """Tokens (spaces kept, to write the text back) and the folded words among them.

    Punctuation marks are words too, so a number never runs across one.
    """

    def __init__(self, text: str):
        self.tokens = _TOKEN.findall(text)
        self.words = [i for i, t in enumerate(self.tokens) if not t.isspace()]
        self.norm = [fold(self.tokens[i]) for i in self.words]

    def get(self, k: int) -> str:
        return self.norm[k] if 0 <= k < len(self.norm) else ""


_WRITTEN = re.compile(r"\d{1,3}(?:\.\d{3})+|\d+(?:,\d+)?")  # Argentine notation: "1.200.000", "1,5"
_SIGN = re.compile(r"(?:-|menos\b|negativo\b)\s*")


def parse_number(text: str) -> float | None:
    """A whole phrase as one number ("menos mil doscientos", "cero uno", "1.200.000", "1,5"), else None."""
    text = fold(text).strip()
    sign = _SIGN.match(text)
    if sign:
        text = text[sign.end() :]
    factor = -1.0 if sign else 1.0
    if _WRITTEN.fullmatch(text):
        return factor * float(text.replace(".", "").replace(",", "."))
    words = _Words(text).norm
    digits = ""
    i = 0
    while i < len(words):
        got = number_at(words, i)
        if got is None or digits.strip("0"):
            return None  # not a number, or a second one after a number ("cinco cero")
        digits += got[0]
        i += got[1]
    return factor * float(digits) if digits else None


# After un/una these nouns make it a count ("una hora" = 1 hora), unless a copula precedes ("es un año raro").
MEASURE_NOUNS = {
    "hora", "minuto", "segundo", "semana", "mes", "ano", "kilo", "kilometro", "metro", "centimetro",
    "milimetro", "litro", "mililitro", "gramo", "peso", "dolar", "euro", "grado", "cuadra", "cucharada",
    "taza", "hijo", "hija", "cebolla", "boleto", "entrada", "pasaje", "noche", "porcion", "unidad",
}
# "un día" is mostly "some day" / "a day"; a count only after these ("en un día", "por un día").
DURATION_WORDS = {"en", "por", "durante", "hace", "solo", "solamente", "apenas", "falta", "faltan", "dura",
                  "tarda", "tardo", "cada", "menos", "mas", "que"}
COPULAS = {"es", "era", "fue", "sea", "sera", "seria", "ser", "son", "parece"}
# Nouns that name things by number: "fórmula uno", "terminal uno", "minuto uno".
LABEL_NOUNS = {
    "formula", "terminal", "minuto", "numero", "pagina", "capitulo", "linea", "canal", "puerta", "piso",
    "anden", "plataforma", "sala", "nivel", "paso", "version", "temporada", "episodio", "ruta", "carril",
    "etapa", "fase", "modelo", "opcion", "talle", "hoyo", "pista", "parte", "punto", "tomo", "volumen",
    "grupo", "categoria", "division", "ano", "dia", "articulo", "habitacion", "asiento", "vagon", "top",
}
# Connectors between two counts: "uno o dos", "dos a uno", "una cebolla y dos dientes".
CONNECTORS = {"o", "u", "y", "a", "al", "entre", "por", "mas", "menos"}
DAYPARTS = {"manana", "tarde", "noche", "madrugada", "mediodia"}

def _said_number_at(w: _Words, k: int) -> tuple[str, int] | None:
    """A number said in words at word k; digits a model wrote are left as they are."""
    return None if not w.get(k) or w.get(k).isdigit() else number_at(w.norm, k)


def _is_number_at(w: _Words, k: int) -> bool:
    return w.get(k).isdigit() or (w.get(k) not in ONE_WORDS and _said_number_at(w, k) is not None)


def _one_is_quantity(w: _Words, k: int) -> bool:
    """Whether a lone un/uno/una at word k is the number 1 (see the module docstring)."""
    word, prev, nxt, prev2 = w.get(k), w.get(k - 1), w.get(k + 1), w.get(k - 2)
    if len(w.words) == 1:
        return True  # "uno" said alone is a count
    if word == "una" and prev == "la":  # "la una" as a time
        if nxt in ("y", "menos") and (w.get(k + 2) in ("media", "cuarto") or _is_number_at(w, k + 2)):
            return True
        if (nxt == "de" and w.get(k + 2) == "la" and w.get(k + 3) in DAYPARTS) or (nxt == "en" and w.get(k + 2) == "punto"):
            return True
        return prev2 in ("a", "hasta", "desde", "entre") or (nxt == "y" and w.get(k + 2) == "las")
    if nxt and _is_number_at(w, k + 1):
        return word == "uno"  # counting "uno dos tres"; "un diecisiete por ciento" is an article
    if prev in CONNECTORS and prev2 and (prev2.isdigit() or _is_number_at(w, k - 2)) and word == "uno":
        return True  # "dos a uno", "dos o uno"
    if word == "uno":
        if prev in LABEL_NOUNS or (prev == "el" and prev2 in LABEL_NOUNS):
            return True
        if nxt in ("o", "u", "y", "a") and _is_number_at(w, k + 2):
            return True  # "uno o dos"
        return False
    # un / una + noun
    noun = nxt.rstrip("s") if nxt.endswith("es") and nxt[:-2] in MEASURE_NOUNS else nxt
    if nxt in ("o", "u") and _is_number_at(w, k + 2):
        return True  # "una o dos veces"
    if noun in MEASURE_NOUNS or noun == "dia":
        if noun == "peso" and w.get(k + 2) == "de" and w.get(k + 3) == "encima":
            return False  # "me sacaste un peso de encima" is an idiom, not money
        if prev in COPULAS:
            return False
        return noun != "dia" or prev in DURATION_WORDS
    # "una cebolla y dos dientes": a count listed next to another count
    return bool(nxt) and w.get(k + 2) in ("y", "o", ",") and _is_number_at(w, k + 3)


def _decimals(w: _Words, j: int) -> tuple[str, int]:
    """The digits said after "coma" at word j ("cero cinco" -> "05", "" if none) and the word after them."""
    m = j + 1
    frac = ""
    while w.get(m) in ZERO_WORDS:
        frac, m = frac + "0", m + 1
    after = _said_number_at(w, m)
    if after and not (m == j + 1 and after[1] == 1 and w.get(m) in ("un", "una")):
        frac, m = frac + after[0], m + after[1]
    return frac, m


def _words_to_digits(text: str) -> str:
    w = _Words(text)
    out = list(w.tokens)
    k = 0
    while k < len(w.words):
        found = _said_number_at(w, k)
        if not found:
            k += 1
            continue
        digits, j = found[0], k + found[1]
        if w.get(k) == "mil" and w.get(k - 1).isdigit():
            k -= 1  # "3 mil quinientos" (digits then words, as models write): one number
            digits = str(int(w.get(k)) * 1000 + int(digits) - 1000)
        elif j == k + 1 and w.get(k) in ONE_WORDS and not _one_is_quantity(w, k):
            k += 1
            continue
        elif w.get(j) == "coma":  # decimals: "tres coma cinco" -> "3,5", "dos coma cero cinco" -> "2,05"
            frac, m = _decimals(w, j)
            if frac:
                digits, j = f"{digits},{frac}", m
        out[w.words[k]] = digits
        for t in range(w.words[k] + 1, w.words[j - 1] + 1):
            out[t] = ""
        k = j
    return "".join(out)


_SEP = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+(?![\d]|[.,]\d)")
_DIGITS_MULT = re.compile(r"\b(\d+)\s+(millones|millón|millon)\b(?!\s+(?:mil|millones)\b)", re.IGNORECASE)
_PERCENT = re.compile(r"\b(\d+(?:,\d+)?)\s*(?:por\s+ciento\b|%)", re.IGNORECASE)
_NOT_MINUTES_AFTER = r"(?!\s+(?!(?:las|los|nos|les|es|más|mas|tras|pues|después|antes|entonces|mientras|hs)\b)[^\W\d_]*s\b)"
_TIME = re.compile(
    r"\b(las?)(\s+)(\d{1,2})\s+(y|menos)\s+(media|cuarto|\d{1,2})\b" + _NOT_MINUTES_AFTER, re.IGNORECASE)
_TIME_DOT = re.compile(r"\b(las?\s+)(\d{1,2})[.h](\d{2})\b", re.IGNORECASE)


def _time(m: re.Match) -> str:
    article, space, hour, sign, minutes = m.groups()
    hour = int(hour)
    mins = {"media": 30, "cuarto": 15}.get(minutes.lower()) or int(minutes)
    if hour > 24 or not 0 < mins < 60:
        return m.group(0)
    if sign.lower() == "menos":
        hour, mins = (hour - 1) or 12, 60 - mins
    art = "la" if hour == 1 else "las"
    art = art.capitalize() if article[0].isupper() else art
    return f"{art}{space}{hour}:{mins:02d}"


def _digit_rules(text: str) -> str:
    text = _SEP.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _DIGITS_MULT.sub(lambda m: str(int(m.group(1)) * 1_000_000), text)
    text = _PERCENT.sub(lambda m: m.group(1) + "%", text)
    text = _TIME_DOT.sub(lambda m: f"{m.group(1)}{int(m.group(2))}:{m.group(3)}" if int(m.group(3)) < 60 else m.group(0), text)
    return _TIME.sub(_time, text)


def to_digits(text: str) -> str:
    """Spanish number words -> digits (policy in the module docstring). Never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    try:
        return _digit_rules(_words_to_digits(text))
    except Exception:  # noqa: BLE001 - evaluation must never crash on odd model output
        return text


def number_words(n: int, feminine: bool = False) -> str:
    """0..999 in words, for the synthesizer; `feminine` for "una hora", "veintiuna"."""
    if not 0 <= n <= 999:
        raise ValueError(n)
    if n == 100:
        return "cien"
    if n >= 100:
        rest = n % 100
        head = _SAID_HUNDREDS[n // 100]
        return head if rest == 0 else f"{head} {number_words(rest, feminine)}"
    if n < 30:
        word = _SAID_UNITS[n]
    else:
        word = _SAID_TENS[n // 10] + ("" if n % 10 == 0 else f" y {_SAID_UNITS[n % 10]}")
    if feminine and word.endswith("uno"):
        word = word[:-3] + "una"
    return word
