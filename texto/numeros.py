"""Spanish number words -> digits, for training targets and for WER (applied to both sides).

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

The grammar below decides *which words* form one number (text2num would glue "dos mil uno una" into
"2001 1" and turn "cuarto" into "4º"); text2num's `alpha2digit` converts each such phrase.
"""

from __future__ import annotations

import re

from texto.normalizar import fold

try:  # text2num is a runtime dependency; the grammar's own value is the fallback if it is missing.
    from text_to_num import alpha2digit
except ImportError:  # pragma: no cover
    alpha2digit = None

UNITS = {"uno": 1, "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
         "ocho": 8, "nueve": 9}
TEENS = {"diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15, "dieciseis": 16,
         "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiuno": 21, "veintiun": 21,
         "veintiuna": 21, "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
         "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29}
TENS = {"treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80,
        "noventa": 90}
HUNDREDS = {"cien": 100, "ciento": 100, "doscientos": 200, "trescientos": 300, "cuatrocientos": 400,
            "quinientos": 500, "seiscientos": 600, "setecientos": 700, "ochocientos": 800, "novecientos": 900}
HUNDREDS.update({k[:-2] + "as": v for k, v in HUNDREDS.items() if k.endswith("os")})
MILLION = {"millon", "millones"}
# "los sesentas" = the sixties, written "los 60".
DECADES = {k + "s": v for k, v in TENS.items()}
ONE_WORDS = {"un", "uno", "una"}

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

_TOKEN = re.compile(r"[^\W\d_]+|\d+|\s+|.", re.DOTALL)


def _norm(word: str) -> str:
    return fold(word)


class _Words:
    """Tokens with each word's normalized form; numbers may only span words joined by plain spaces."""

    def __init__(self, text: str):
        self.tokens = _TOKEN.findall(text)
        self.words = [i for i, t in enumerate(self.tokens) if not t.isspace()]
        self.norm = [_norm(self.tokens[i]) for i in self.words]

    def joined(self, k: int) -> bool:
        """Whether word k follows word k-1 with only spaces between."""
        if k <= 0 or k >= len(self.words):
            return False
        a, b = self.words[k - 1], self.words[k]
        return all(self.tokens[i].isspace() for i in range(a + 1, b))

    def get(self, k: int) -> str:
        return self.norm[k] if 0 <= k < len(self.norm) else ""


def _below_100(w: _Words, k: int) -> tuple[int, int] | None:
    word = w.get(k)
    if word in UNITS or word in TEENS:
        return UNITS.get(word) or TEENS[word], k + 1
    if word in TENS:
        if w.get(k + 1) == "y" and w.get(k + 2) in UNITS and w.joined(k + 1) and w.joined(k + 2):
            return TENS[word] + UNITS[w.get(k + 2)], k + 3
        return TENS[word], k + 1
    return None


def _below_1000(w: _Words, k: int) -> tuple[int, int] | None:
    word = w.get(k)
    if word in HUNDREDS:
        if word == "cien":
            return 100, k + 1
        rest = _below_100(w, k + 1) if w.joined(k + 1) else None
        if rest:
            return HUNDREDS[word] + rest[0], rest[1]
        return (None if word == "ciento" else (HUNDREDS[word], k + 1))
    return _below_100(w, k)


def _number(w: _Words, k: int) -> tuple[int, int] | None:
    """Longest well-formed cardinal starting at word k: (value, next word index)."""
    if w.get(k) == "cero":
        return 0, k + 1
    if w.get(k) in DECADES and w.get(k - 1) in ("los", "anos") and w.joined(k):
        return DECADES[w.get(k)], k + 1
    total, j = 0, k
    part = _below_1000(w, j)
    if part and w.get(part[1]) in MILLION and w.joined(part[1]):
        total, j = part[0] * 1_000_000, part[1] + 1
        part = _below_1000(w, j) if w.joined(j) else None
    if w.get(j) == "mil" and (j == k or w.joined(j)) and part is None:
        total, j = total + 1000, j + 1
        part = _below_1000(w, j) if w.joined(j) else None
        if part and part[1] == j + 1 and 2 <= part[0] <= 9 and w.joined(j + 1):
            tail = _below_100(w, j + 1)
            if tail and tail[0] >= 10:  # "mil nueve treinta y ocho" is 1938, said without "cientos"
                return total + part[0] * 100 + tail[0], tail[1]
    elif part and w.get(part[1]) == "mil" and w.joined(part[1]) and w.get(part[1] - 1) != "uno":
        total, j = total + part[0] * 1000, part[1] + 1
        part = _below_1000(w, j) if w.joined(j) else None
    if part:
        total, j = total + part[0], part[1]
    return (total, j) if j > k else None


def _text2num(words: list[str], value: int) -> str:
    """text2num's digits for a phrase our grammar delimited; our own value where it disagrees."""
    phrase = " ".join({"un": "uno", "una": "uno", "veintiun": "veintiuno", "veintiuna": "veintiuno"}.get(x, x)
                      for x in words)
    if alpha2digit is not None:
        try:
            out = alpha2digit(phrase, "es", threshold=0)
            if out.isdigit() and int(out) == value:
                return out
        except Exception:  # noqa: BLE001 - a library quirk must not break evaluation
            pass
    return str(value)


def _is_number_at(w: _Words, k: int) -> bool:
    word = w.get(k)
    return word.isdigit() or (word not in ONE_WORDS and _number(w, k) is not None)


def _one_is_quantity(w: _Words, k: int) -> bool:
    """Whether a lone un/uno/una at word k is the number 1 (see the module docstring)."""
    word, prev, nxt = w.get(k), w.get(k - 1) if w.joined(k) else "", w.get(k + 1) if w.joined(k + 1) else ""
    prev2 = w.get(k - 2) if w.joined(k) and w.joined(k - 1) else ""
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
    if nxt and w.get(k + 2) in ("y", "o", ",") and _is_number_at(w, k + 3) and w.joined(k + 2) and w.joined(k + 3):
        return True
    return False


def _words_to_digits(text: str) -> str:
    w = _Words(text)
    out = list(w.tokens)
    k = 0
    while k < len(w.words):
        found = _number(w, k)
        if not found:
            k += 1
            continue
        value, j = found
        if w.get(k) == "mil" and k > 0 and w.get(k - 1).isdigit() and w.joined(k):
            # "3 mil quinientos" (digits then words, as models write): one number
            k -= 1
            value = int(w.get(k)) * 1000 + value - 1000
            out[w.words[k]] = str(value)
            for t in range(w.words[k] + 1, w.words[j - 1] + 1):
                out[t] = ""
            k = j
            continue
        if j == k + 1 and w.get(k) in ONE_WORDS and not _one_is_quantity(w, k):
            k += 1
            continue
        digits = _text2num(w.norm[k:j], value)
        # decimals: "tres coma cinco" -> "3,5", "dos coma cero cinco" -> "2,05"
        if w.get(j) == "coma" and w.joined(j) and w.joined(j + 1):
            frac, m = "", j + 1
            while w.get(m) == "cero" and w.joined(m):
                frac, m = frac + "0", m + 1
            after = _number(w, m) if w.joined(m) else None
            if after and not (m == j + 1 and after[1] == m + 1 and w.get(m) in ("un", "una")):
                frac += str(after[0])
                m = after[1]
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


# The other way, for the synthesizer: what a speaker says for a number.
_SAID_UNITS = "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis " \
         "diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro veinticinco " \
         "veintiséis veintisiete veintiocho veintinueve".split()
_SAID_TENS = {3: "treinta", 4: "cuarenta", 5: "cincuenta", 6: "sesenta", 7: "setenta", 8: "ochenta", 9: "noventa"}
_SAID_HUNDREDS = {1: "ciento", 2: "doscientos", 3: "trescientos", 4: "cuatrocientos", 5: "quinientos",
             6: "seiscientos", 7: "setecientos", 8: "ochocientos", 9: "novecientos"}


def number_words(n: int, feminine: bool = False) -> str:
    """0..999 in words; `feminine` for "una hora", "veintiuna"."""
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
