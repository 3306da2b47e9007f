"""Text -> parking slots (plate, stay, covered preference).

Pure text on purpose: no torch or whisper import, so the assistant and the tests load it instantly.
The rules are the ones in CONVENCIONES_SLOTS.md; comments say why a rule is hand-written. Spoken numbers
are read by texto.numeros, the one parser that transcripts and WER use too.
"""

from __future__ import annotations

import datetime
import difflib
import re
from dataclasses import dataclass

from texto.letras import LETTER_NAMES, SHAPES
from texto.normalizar import fold
from texto.numeros import NUMBER_WORDS, number_at, numeric_words, written_tens_and_unit


@dataclass(frozen=True)
class Slots:
    plate: str | None = None
    stay_minutes: int | None = None
    covered: bool | None = None


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case without accents, but keep ñ: Ñ is not a plate letter and must stay visible."""
    return fold(text, keep="ñ")


_TOKEN_RE = re.compile(
    # "4,5,6" is a list of digits (a plate read one by one), not the decimal 4,5 followed by 6.
    r"\d{1,2}:\d{2}|\d{1,3}(?:\.\d{3})+(?!\d)|(?<!\d,)\d+,\d+(?!,\d)|\d+\.\d{1,2}(?!\d)|[a-zñ]+|\d+|[^\sa-zñ0-9]", re.I
)


def _tokenize(text: str) -> list[str]:
    """Folded tokens: words, digit runs, times (18:30), thousands (1.500), decimals (1,5), punctuation."""
    return _cased_tokens(text)[0]


# ---------------------------------------------------------------------------------------------
# Plate
# ---------------------------------------------------------------------------------------------

# Extra spellings the ASR writes for spoken letter names (seseo: "se" for "ce"; silent h: "ache"; "y latina": the
# sound of "i latina"). "Larga" and "corta" only ever qualify B and V, so they decide when the first word came out
# wrong: the simulated drivers' "be larga" was written "de larga", "ve corta" "me corta" (issue 25).
_ASR_LETTER_SPELLINGS = {"y": "I", "y latina": "I", "se": "C", "ache": "H", "ceta": "Z", "ah": "A", "b": "B", "v": "V",
                         "uve": "V",
                         **{f"{w} larga": "B" for w in ("de", "ve", "v", "me", "pe")},
                         **{f"{w} corta": "V" for w in ("de", "be", "b", "me", "pe")}}
# Letter names that are also everyday words: usable inside a spelled run, never evidence of a plate.
_WEAK_LETTER_WORDS = {"a", "e", "o", "u", "y", "de", "te", "se", "ese", "ah"}

_LETTER_PHRASES: dict[tuple[str, ...], str] = {}
for _letter, _names in LETTER_NAMES.items():
    for _name in _names:
        _LETTER_PHRASES[tuple(_fold(_name).split())] = _letter
for _name, _letter in _ASR_LETTER_SPELLINGS.items():
    _LETTER_PHRASES.setdefault(tuple(_name.split()), _letter)
for _c in "abcdefghijklmnopqrstuvwxyz":
    _LETTER_PHRASES.setdefault((_c,), _c.upper())
_MAX_LETTER_PHRASE = max(len(k) for k in _LETTER_PHRASES)

_FILLERS = {"eh", "em", "emm", "mm", "mmm", "este", "bueno", "ehh", "eeh", "eee", "ahh", "am", "aja", "tipo", "viste"}
_CORRECTION_WORDS = {
    "no",
    "perdon",
    "digo",
    "mejor",
    "corrijo",
    "disculpa",
    "disculpe",
    "error",
    "mentira",
    "bah",
    "perdona",
    "perdone",
    "nono",
}
_CORRECTION_PHRASES = (("o", "sea"), ("quiero", "decir"), ("me", "equivoque"), ("me", "confundi"))
_PLATE_KEYWORDS = {"patente", "dominio", "chapa", "matricula"}
# Words after a number that make it a quantity, not plate digits ("ABC 123 4 horas" is ABC123 + 4 h).
_UNIT_WORDS = {
    "hora",
    "horas",
    "hs",
    "h",
    "hr",
    "hrs",
    "horita",
    "horitas",
    "minuto",
    "minutos",
    "min",
    "mins",
    "minutito",
    "minutitos",
    "dia",
    "dias",
    "semana",
    "semanas",
    "pesos",
    "peso",
    "mangos",
    "lucas",
    "luca",
    "dolares",
    "dolar",
    "euros",
    "usd",
    "ars",
    "$",
    "%",
    "km",
    "kilometros",
    "metros",
    "cuadras",
    "anos",
    "años",
    "mes",
    "meses",
    "veces",
    "personas",
    "cuartos",
    "cuarto",
    "y",
    "o",
    "a",
}
_QUANTITY_AFTER = {"y": ("media", "cuarto"), "o": (), "a": ()}
_CAR_BRANDS = {
    "peugeot",
    "fiat",
    "ford",
    "renault",
    "chevrolet",
    "chevy",
    "toyota",
    "volkswagen",
    "vw",
    "audi",
    "bmw",
    "mercedes",
    "citroen",
    "honda",
    "nissan",
    "kia",
    "hyundai",
    "jeep",
    "dodge",
    "ram",
    "suzuki",
    "mitsubishi",
    "chery",
    "byd",
    "mini",
    "volvo",
    "seat",
    "subaru",
    "mazda",
    "porsche",
    "iveco",
    "gol",
    "modelo",
}
# Short everyday words that must not be read as a block of plate letters.
_STOPWORDS = set(
    """la el lo le tal los las les un una uno con por sin del al es en mi tu su me nos vos sos ya si sí que mas más hay voy
    soy son van fue era dos tres ok eso esa esto esta estas estos ver fin pie hoy muy yo he ha has han hs min hr hrs
    dia dias mes año ano sr sra don doña ni tan para pero como cual cuál ahi ahí aca acá alla allá asi así bien mal
    auto moto coche gol ka kia bmw vw up fox ds mg gm cx qq sw tt rs gt gti suv pm am dale che bah uh oh ay ey ni
    vez veo ves van dan den sea ser iba fui mia mío mia mis tus sus nada todo toda odo sol mar luz sal gas cap nro
    num mil seg hola chau gracias vale tenes tengo las por que qué este osea chapa ese esa ten sal
    pon dar doy da das va vas vea visto dame deme aqui aquí ahora porfa favor the and kg km cm mm gr lt ml kw cv hp""".split()
)


@dataclass
class _Item:
    kind: str  # "L" letter, "D" digit group, "S" correction marker, "X" anything that ends a plate run
    value: str
    strong: bool  # evidence of spelling (a weak letter is also an everyday word: "a", "de", "y")
    pos: int  # token index, for ordering against stay and disowning phrases
    single: bool = False  # a one-character token
    word: str = ""  # the token, when a letter name could also be letters written together ("de" = D or DE)
    written: bool = False  # a letter the ASR wrote as a capital ("AF" in "AF 650 NT"), not a spoken name


def _cased_tokens(text: str) -> tuple[list[str], list[str]]:
    """Folded tokens plus a flag for letters that were *written* as a block ("DE" in "AB 123 DE", "ab123de"):
    those are letters, never the spoken letter name "de"."""
    words: list[str] = []
    written: list[bool] = []
    matches = list(_TOKEN_RE.finditer(fold(text, keep="ñÑ", lower=False)))
    for k, m in enumerate(matches):
        tok = m.group()
        words.append(tok.lower())
        written.append(tok.isalpha() and (_glued(matches, k) or (len(tok) > 1 and tok.isupper())))
    shouted = sum(written) > 0.5 * sum(w.isalpha() and len(w) > 1 for w in words)
    flags = ["W" if f else ("s" if m.group() == "Y" else "") for f, m in zip(written, matches, strict=True)]
    if shouted:  # an all-caps answer: "LA" or "ES" may be words, so they are only weak letters
        flags = [
            f if f != "W" else ("w" if w in _STOPWORDS and not _glued(matches, k) else "W")
            for k, (f, w) in enumerate(zip(flags, words, strict=True))
        ]
    for k, m in enumerate(matches):
        tok = m.group()
        if flags[k] == "W" and tok.isupper() and len(tok) > 1 and not shouted:
            flags[k] = "U"  # written in capitals: "HS" in "AB 123 HS" is letters, not "horas"
        elif tok.isdigit() and k > 0 and matches[k - 1].end() == m.start() and matches[k - 1].group().isalpha():
            flags[k] = "g"  # digits glued after letters ("ab123hs"): a plate, whatever follows
    return words, flags


def _glued(matches: list[re.Match], k: int) -> bool:
    m = matches[k]
    return (k > 0 and matches[k - 1].end() == m.start() and matches[k - 1].group()[-1].isdigit()) or (
        k + 1 < len(matches) and matches[k + 1].start() == m.end() and matches[k + 1].group()[0].isdigit()
    )


_ABBREVIATED_UNITS = {"h", "hs", "hr", "hrs", "min", "mins", "m"}


def _is_quantity(words: list[str], flags: list[str], start: int, end: int) -> bool:
    """A number that belongs to another word: units, money, clock times ("a las 5")."""
    nxt = words[end] if end < len(words) else ""
    prev_is_letters = start > 0 and words[start - 1].isalpha() and len(words[start - 1]) <= 3
    plate_digits = len(words[start]) == 3 and words[start].isdigit() and prev_is_letters
    # Letters written right after the digits: in capitals, or glued on both sides of them ("AA000KM").
    written_after = end < len(words) and (flags[end] == "U" or (flags[start], flags[end]) == ("g", "W"))
    if (nxt in _ABBREVIATED_UNITS and (flags[end] == "U" or flags[start] == "g" or plate_digits)) or (
        plate_digits and written_after and 2 <= len(nxt) <= 3
    ):
        nxt = ""  # "AB 123 HS", "ab123hs", "AC 517 KM", "AA000KM": plate letters that look like a unit
    prev = words[start - 1] if start > 0 else ""
    letters_follow = end < len(words) and flags[end] in ("U", "W") and 2 <= len(words[end]) <= 3
    if prev in {"las", "$", "nro", "numero", "altura"} or (prev in _CAR_BRANDS and not (plate_digits and letters_follow)):
        return True  # "un Peugeot 208"; but "VW 327 DJ" has a plate's whole shape
    after = next((w for w in words[end:] if w[0].isalnum()), "")
    if prev == "la" and words[start] in {"1", "una", "uno"} and not (after.isdigit() or after in NUMBER_WORDS):
        return True  # "hasta la una", but not "es la 1 00 AAA"
    if nxt in _UNIT_WORDS and nxt not in _QUANTITY_AFTER:
        return True
    if nxt in {"y", "o", "a"} and end + 1 < len(words):
        after = words[end + 1]
        if after in _QUANTITY_AFTER[nxt] and end + 2 < len(words) and words[end + 2] in _UNIT_WORDS:
            return True
    return end + 1 < len(words) and nxt in {"de", "del"} and words[end + 1] in {"la", "mediodia", "manana", "tarde"}


def _letter_at(words: list[str], i: int) -> tuple[str, int] | None:
    for n in range(min(_MAX_LETTER_PHRASE, len(words) - i), 0, -1):
        letter = _LETTER_PHRASES.get(tuple(words[i : i + n]))
        if letter:
            # "eme de mamá": a letter name, "de" and a word that starts with that letter is one letter.
            k = i + n
            # The ASR writes that "de" as the letter it sounds like, too: "W C D casa".
            mnemonic = words[k + 1] if k + 1 < len(words) and words[k] in ("de", "d") else ""
            if _is_mnemonic(mnemonic, letter):
                return letter, n + 2
            return letter, n
    return None


_NOT_MNEMONIC = (
    NUMBER_WORDS | {n for k in _LETTER_PHRASES for n in k} | {"duplicado", "triplicado", "cuadruplicado"}
)


# (letter, word) of the names said with a mnemonic: ("C", "casa") for "ce de casa".
_NAMED_MNEMONICS = {(letter, name.split()[-1]) for letter, names in LETTER_NAMES.items() for name in names
                    if len(name.split()) == 3 and name.split()[1] == "de"}


def _is_mnemonic(word: str, letter: str) -> bool:
    """ "casa" for C in "ce de casa", "mamá" in "eme de mamá": a word that starts with the letter and is no
    number or other letter name."""
    return (letter, word) in _NAMED_MNEMONICS or (word[:1] == letter.lower() and len(word) > 2
                                                   and word not in _NOT_MNEMONIC)


def _plate_items(words: list[str], upper: list[str]) -> list[_Item]:
    items: list[_Item] = []
    i = 0
    n = len(words)
    while i < n:
        w = words[i]
        if upper[i] in ("W", "w", "U") and len(w) <= 4:
            mnemonic = words[i + 1] if i + 1 < n else ""
            # "doble ve, ce de casa" written "WCD casa": that D is the "de" of C's mnemonic, not a letter.
            # Only the mnemonics of LETTER_NAMES: after capitals, "AB 123 CD con techo" is letters and a word.
            said_as = len(w) > 1 and w[-1] == "d" and (w[-2].upper(), mnemonic) in _NAMED_MNEMONICS
            letters = w[:-1] if said_as else w
            items.extend(_Item("L", c.upper(), upper[i] != "w", i, written=upper[i] == "U") for c in letters)
            i += 2 if said_as else 1
            continue
        if not w[0].isalnum() or w in _FILLERS:
            i += 1
            continue
        if w in _CORRECTION_WORDS:
            items.append(_Item("S", w, False, i))
            i += 1
            continue
        phrase = next((p for p in _CORRECTION_PHRASES if tuple(words[i : i + len(p)]) == p), None)
        if phrase:
            items.append(_Item("S", " ".join(phrase), False, i))
            i += len(phrase)
            continue
        if w in {"doble", "triple"} and i + 1 < n:
            times = 2 if w == "doble" else 3
            got = number_at(words, i + 1)
            if got is not None and len(got[0]) == 1:
                items.append(_Item("D", got[0] * times, True, i))
                i += 1 + got[1]
                continue
        if w.isdigit() or w in NUMBER_WORDS and w not in {"un", "una"}:
            got = number_at(words, i)
            joined = written_tens_and_unit(words, i)
            if joined and not _is_quantity(words, upper, i, i + joined[1]):
                got = joined  # "AG 250 y 1 GI": "doscientos cincuenta y uno" written half in digits
            if got is not None:
                kind = "X" if _is_quantity(words, upper, i, i + got[1]) else "D"
                items.append(_Item(kind, got[0], True, i))
                i += got[1]
                continue
        letter = _letter_at(words, i)
        # A capital "Y" on its own was written as the letter Y, not the word "y"; "Y griega" is read as a name below.
        if upper[i] == "s" and not (letter and letter[1] > 1):
            items.append(_Item("L", "Y", False, i, single=True))
            i += 1
            continue
        if letter is not None and (letter[1] > 1 or w not in _STOPWORDS or w in LETTER_NAMES_FOLDED):
            weak = letter[1] == 1 and w in _WEAK_LETTER_WORDS
            items.append(_Item("L", letter[0], not weak, i, single=len(w) == 1, word=w if letter[1] == 1 else ""))
            i += letter[1]
            continue
        if w.isalpha() and 2 <= len(w) <= 3 and w not in _STOPWORDS:
            for c in w:
                items.append(_Item("L", c.upper(), True, i, word="#block"))
            i += 1
            continue
        items.append(_Item("X", w, False, i))
        i += 1
    return _resolve_o_and_y(items, words)


LETTER_NAMES_FOLDED = {_fold(name) for names in LETTER_NAMES.values() for name in names if " " not in name}


def _resolve_o_and_y(items: list[_Item], words: list[str]) -> list[_Item]:
    """ "o" between digits is 0 ("uno o dos"); "y" is the letter I only inside a spelled run ("y o u")."""
    out: list[_Item] = []
    for k, it in enumerate(items):
        prev = items[k - 1] if k > 0 else None
        nxt = items[k + 1] if k + 1 < len(items) else None
        w = words[it.pos]
        if it.kind == "L" and w == "o" and prev and nxt and prev.kind == "D" and nxt.kind == "D":
            it = _Item("D", "0", True, it.pos)
        elif (
            it.kind == "L" and w == "y" and it.value == "I" and it.word
            and not (nxt and nxt.kind == "L" and nxt.pos == it.pos + 1)
        ):  # (it.word is empty for a two-word name: "y latina" is I anywhere)
            it = _Item("X", "y", False, it.pos)
        out.append(it)
    return out


def _blocks(run: list[_Item]) -> list[tuple[str, list[_Item]]]:
    blocks: list[tuple[str, list[_Item]]] = []
    for it in run:
        if blocks and blocks[-1][0] == it.kind:
            blocks[-1][1].append(it)
        else:
            blocks.append((it.kind, [it]))
    return blocks


@dataclass
class _Candidate:
    plate: str
    items: list[_Item]
    score: tuple[int, int]


def _candidates(run: list[_Item], loose: bool = False) -> list[_Candidate]:
    """Every plate shape that fits around each 3-digit block of a run of letters and digits."""
    blocks = _blocks(run)
    found: list[_Candidate] = []
    for b, (kind, digits) in enumerate(blocks):
        number = "".join(it.value for it in digits)
        if kind != "D" or len(number) != 3:
            continue
        before = blocks[b - 1][1] if b > 0 else []
        after = blocks[b + 1][1] if b + 1 < len(blocks) else []
        best: _Candidate | None = None
        for pref, (nb, na) in enumerate(SHAPES):
            if len(before) < nb or len(after) < na:
                continue
            head, tail = before[len(before) - nb :], after[:na]
            rest = before[: len(before) - nb] + after[na:]
            if not loose and any(it.strong for it in rest):
                continue  # a spelled letter left over: the plate would be longer than the shape
            taken = head + tail
            if any(it.value == "Ñ" for it in taken):
                continue
            strong = sum(it.strong for it in taken)
            if not loose and strong == 0 and len(head + tail) < 3:
                continue
            plate = "".join(it.value for it in head) + number + "".join(it.value for it in tail)
            cand = _Candidate(plate, head + digits + tail, (strong, -pref))
            if best is None or cand.score > best.score:
                best = cand
            if loose:
                found.append(cand)
        if best is not None and not loose:
            found.append(best)
    return found


def _plate_in_run(run: list[_Item], duplicate_letter: str | None) -> _Candidate | None:
    core = run
    while core and core[-1].kind == "L" and not core[-1].strong:
        core = core[:-1]  # "ZW 400 WL... ZW 400 WL, ah": a weak letter word after the repetition
    half = len(core) // 2
    if half and [(i.kind, i.value) for i in core[:half]] == [(i.kind, i.value) for i in core[half:]]:
        run = core[:half]  # "P 093 QLD... P 093 QLD": said twice to be sure, one plate
    cands: list[_Candidate] = []
    if duplicate_letter:
        # "A B C D 1 2 3, la D es la de duplicado": the small D/T/C is not part of the plate.
        for k in range(len(run) - 1, -1, -1):
            if run[k].kind == "L" and run[k].value == duplicate_letter:
                cands = _candidates(run[:k] + run[k + 1 :])
                if cands:
                    run = run[:k] + run[k + 1 :]
                    break
    cands = cands or _candidates(run)
    if not cands and any(it.word == "#block" for it in run) and any(len(it.word) in (2, 3) for it in run):
        # "ab 123 de" written in lower case: the short letter names there are letters written together too.
        run = [x for it in run for x in _as_written(it)]
        cands = _candidates(run)
    if not cands and any(it.written for it in run):
        # "y a no ta, AF 650 NT": the ASR wrote the plate in capitals, and heard a stray syllable next to it.
        # The written capitals, single letters and digits decide; spoken letter names around them are left out.
        run = [it for it in run if it.kind == "D" or it.written or it.single]
        cands = _candidates(run)
    if not cands:
        return None
    chosen = cands[-1]
    if len(cands) > 1 and len({c.plate for c in cands}) == 1:
        return chosen  # "ZW 400 WL... ZW 400 WL, ah": said twice, one plate (a stray syllable after it)
    loose = _candidates(run, loose=True)
    ids = {id(it) for it in chosen.items}
    for other in loose:
        if (
            other.plate != chosen.plate
            and ids & {id(it) for it in other.items}
            and not ({id(it) for it in other.items} <= ids)
        ):
            if other.score[0] >= 1 and _digit_block_differs(chosen, other):
                return None  # "123 ABC 123": two readings share letters
    return chosen


def _as_written(it: _Item) -> list[_Item]:
    if len(it.word) in (2, 3) and it.word.isalpha():
        return [_Item("L", c.upper(), True, it.pos) for c in it.word]
    return [it]


def _digit_block_differs(a: _Candidate, b: _Candidate) -> bool:
    da = [id(it) for it in a.items if it.kind == "D"]
    db = [id(it) for it in b.items if it.kind == "D"]
    return da != db


def _segments(run: list[_Item]) -> list[list[_Item]]:
    """A run cut at its correction markers ("no", "o sea")."""
    segments: list[list[_Item]] = [[]]
    for it in run:
        if it.kind == "S":
            segments.append([])
        else:
            segments[-1].append(it)
    return segments


def _apply_corrections(run: list[_Item], duplicate_letter: str | None) -> tuple[list[_Item], list[_Candidate]]:
    """Last version wins; a partial correction replaces only the block it repeats. Also returns every
    segment that was a whole plate by itself (the versions the speaker corrected included)."""
    state: list[_Item] = []
    versions: list[_Candidate] = []
    for seg in _segments(run):
        if not seg:
            continue
        version = _plate_in_run(seg, duplicate_letter)
        if version is not None:
            versions.append(version)
        if not state or version is not None:
            state = seg
            continue
        old, new = _blocks(state), _blocks(seg)
        idx = next((k for k in range(len(old) - 1, -1, -1) if old[k][0] == new[0][0]), None)
        if idx is None:
            state = state + seg
            continue
        merged = old[:idx] + new + old[idx + len(new) :]
        state = [it for _, its in merged for it in its]
    return state, versions


_DISOWN = re.compile(
    r"\b(del otro (auto|coche|vehiculo)|de otro (auto|coche)|esa no es|no es esa|esa no|la vieja|la anterior|"
    r"era la de antes|no es la mia|esa es la de mi)\b"
)
_DUPLICATE = {"duplicado": "D", "triplicado": "T", "cuadruplicado": "C"}


def _extract_plate(words: list[str], upper: list[str]) -> tuple[str | None, set[int]]:
    """The plate and the tokens of every plate said, the chosen one, corrected and disowned ones alike
    (hidden from the stay parser: "NZ 721 HR, o sea, NZ 721 HR" is no stay of 721 hours)."""
    items = _plate_items(words, upper)
    duplicate_letter = next((_DUPLICATE[w] for w in words if w in _DUPLICATE), None)
    runs: list[list[_Item]] = [[]]
    for it in items:
        if it.kind == "X":
            runs.append([])
        else:
            runs[-1].append(it)
    found: list[_Candidate] = []
    hidden: set[int] = set()  # tokens of every plate said, corrected versions included
    for run in runs:
        if any(it.kind != "S" for it in run):
            state, versions = _apply_corrections(run, duplicate_letter)
            cand = _plate_in_run(state, duplicate_letter)
            if cand is not None:
                found.append(cand)
                for version in versions:
                    hidden.update(range(version.items[0].pos, version.items[-1].pos + 1))
    if not found:
        return None, set()
    joined = " ".join(words)
    starts = [0]
    for w in words:
        starts.append(starts[-1] + len(w) + 1)
    disowned_at = [sum(1 for s in starts if s <= m.start()) - 1 for m in _DISOWN.finditer(joined)]
    plate = None
    for k, cand in enumerate(found):
        end = cand.items[-1].pos
        last = next((it.pos for it in items if it.pos > end), len(words))
        hidden.update(range(cand.items[0].pos, last))
        nxt = found[k + 1].items[0].pos if k + 1 < len(found) else len(words)
        if not any(end < d < nxt for d in disowned_at):
            plate = cand.plate
    return plate, hidden


# ---------------------------------------------------------------------------------------------
# Stay
# ---------------------------------------------------------------------------------------------

_NUM = r"\d+(?:\.\d+)?"
_H = r"(?:horas?|horitas?|hs|hrs?|h)\b\.?"
_M = r"(?:minutos?|minutitos?|mins?|m)\b\.?"
_PAIR = r"1 par de|par de"
_DURATION = re.compile(
    rf"(?P<colh>\d{{1,2}}):(?P<colm>\d{{2}})\s*{_H}"
    rf"|(?P<hn>{_NUM}|{_PAIR})\s*{_H}(?:\s*(?:y\s+)?(?P<hm>\d{{1,2}})(?:\s*{_M})?(?!\s*(?:{_H}|\d|:|§)))?"
    rf"(?:\s*y\s+(?P<hfrac>media|cuarto))?"
    r"|\bhora y (?P<bare_frac>media|cuarto)\b"
    r"|\bmedias? (?:horas?|horitas?)\b(?P<half>)"
    rf"|(?:(?P<qn>{_NUM})\s+)?\bcuartos? de horas?\b(?P<quarter>)"
    rf"|(?P<mn>{_NUM}|{_PAIR})\s*{_M}"
    rf"|(?P<dn>{_NUM}|{_PAIR})\s*(?:dias?|diitas?)\b"
    rf"|(?P<wn>{_NUM}|{_PAIR})\s*semanas?\b"
    r"|\b(?P<fixed>medio dia|todo el dia|toda la noche|el dia entero)\b"
    r"|\b(?P<vague>(?:1|un) rat(?:o|ito)(?: largo)?|rat(?:o|ito)|(?:unas|algunas|varias|unas pocas|pocas|muchas) horas"
    r"|(?:unas|algunas|varias) horitas|(?:unos|algunos|varios|pocos) (?:dias|minutos|minutitos)|fin de semana"
    r"|toda la (?:tarde|manana)|hasta la (?:tarde|noche|manana)|hasta que cierr\w+|hasta el cierre"
    r"|hasta manana(?!\s*(?:a\s+)?(?:§|la\s|las\s))|no se cuanto|no se todavia|depende|1 tiempito)\b"
)
_UNIT_OF = {"colh": 60, "hn": 60, "bare_frac": 60, "half": 60, "qn": 15, "mn": 1, "dn": 1440, "wn": 10080}
_FIXED = {"medio dia": 360, "todo el dia": 720, "toda la noche": 720, "el dia entero": 720}
_FRAC = {"media": 30, "cuarto": 15, None: 0}
# A number after a stay, with a range or a correction word before it: "hora y media o dos", "dos horas, no, tres".
_TRAILING = re.compile(
    # A correction may come after a full stop the ASR put in: "3 horas. Eh, no, 5".
    rf"^\s*(?:,?\s*(?P<range>o|a|-|hasta)|[,.]?\s*(?P<fix>(?:(?:no|mejor|digo|perdon|bah|capaz|ponele|o sea|eh|em|mmm|,)\s*)+))\s*"
    rf"(?P<n>{_NUM})(?:\s+y\s+(?P<frac>media|cuarto))?(?!\s*(?:[:.]?\d|§|{_H}|{_M}|dias?|semanas?|pesos|de la|cuartos?))"
)
_LEADING_RANGE = re.compile(rf"(?P<n>{_NUM})\s*(?:o|a|-|y)\s*$")
_CLOCK = re.compile(
    r"\b(?P<pre>las|la)\s+(?P<h>\d{1,2})(?!\d)(?:[:.](?P<mm>\d{2}))?(?P<hs1>\s*(?:hs|h|horas?)\b)?"
    r"(?:\s+y\s+(?P<frac>media|cuarto|\d{1,2})(?:\s+minutos)?|\s+menos\s+(?P<minus>cuarto|\d{1,2})|\s+(?P<mm2>\d{2})\b)?"
    r"(?:\s*(?:hs|h|horas?)\b)?"
    r"(?:\s+(?:de|en|por)\s+la\s+(?P<part>manana|tarde|noche|madrugada)|\s+del?\s+(?P<noon>mediodia)"
    r"|\s*(?P<ampm>pm|am|p\s?m|a\s?m)\b)?"
    r"|\b(?P<hhmm>\d{1,2}):(?P<mm3>\d{2})(?!\s*(?:hs|h|horas?)\b)"
    r"|\b(?P<fixword>el mediodia|al mediodia|el medio dia|al medio dia|la medianoche|a medianoche|medianoche|mediodia)\b"
)
_CLOCK_TRIGGER = re.compile(
    r"\b(hasta|vuelvo|vuelva|volver|vengo a|venir a buscar\w*|paso|pasar|pasare|salgo|me voy|retiro|retirar\w*|busco|buscar\w*|"
    r"regreso|regresar|saco|sacar\w*|recojo|levanto|necesito|termino|me lo llevo|lo llevo|estoy de vuelta|vuelta)\b"
)
_CLOCK_AFTER_TRIGGER = re.compile(
    r"^\s*,?\s*(?:lo |la |te |me )?(vuelvo|vengo|paso|busco|retiro|saco|regreso|me voy|salgo)\b"
)
_CLOCK_BLOCKER = re.compile(
    r"\b(llegue|llego|llegamos|son|eran|es la|entro|turno|cita|reunion|empieza|abre|abren|desde)\b"
)
_HABIT = re.compile(r"\b(siempre|los (?:lunes|martes|miercoles|jueves|viernes|sabados|domingos)|todos los dias)\b")
_IGNORE_BEFORE = re.compile(
    r"(\b(cuanto|precio|tarifa|pesos|sale|cuesta|cobr\w*|valor|hace(?! falta)|aguanta\w*|espera\w*|banca\w*|dame|deme|"
    r"segundo)\b[^.?!;]{0,25}|\$[^.?!;]{0,25})$"
)


def _stay_text(words: list[str]) -> str:
    """Numbers as digits, decimals with a dot, approximators and "y pico" removed."""
    toks = []
    for w in numeric_words(words):
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", w):
            w = w.replace(".", "")
        elif re.fullmatch(r"\d+,\d+", w):
            w = w.replace(",", ".")
        toks.append(w)
    s = " ".join(toks).replace("ñ", "n")
    s = re.sub(r"\b(mas o menos|masomenos|y pico|aproximadamente|aprox)\b", " ", s)
    return re.sub(r"\s+", " ", s)


def _clock_minutes(m: re.Match, s: str, arrival: datetime.time | None) -> int | None:
    if arrival is None:
        return None
    g = m.groupdict()
    if g["fixword"]:
        h, mm, fixed = (0 if "medianoche" in g["fixword"] else 12), 0, True
    elif g["hhmm"]:
        h, mm, fixed = int(g["hhmm"]), int(g["mm3"]), int(g["hhmm"]) >= 13 or g["hhmm"].startswith("0")
    else:
        h = int(g["h"])
        mm = int(g["mm"] or g["mm2"] or 0)
        if g["frac"]:
            mm = _FRAC.get(g["frac"]) if g["frac"] in _FRAC else int(g["frac"])
        part = g["part"] or ("tarde" if g["noon"] else None)
        ampm = (g["ampm"] or "").replace(" ", "")
        # From the hour as said: "la 1 menos cuarto" is 0:45 or 12:45, not a 24-hour 0:45.
        fixed = bool(part or ampm) or h >= 13 or h == 0 or (g["mm"] is not None and g["h"].startswith("0"))
        if g["minus"]:
            h, mm = h - 1, 60 - (15 if g["minus"] == "cuarto" else int(g["minus"]))
        if part in ("tarde",) or ampm == "pm" or (g["noon"] and h < 6):
            h = h + 12 if h < 12 else h
        elif part == "noche":
            h = 0 if h == 12 else (h + 12 if h >= 6 and h < 12 else h)
        elif ampm == "am" or part in ("manana", "madrugada"):
            h = 0 if h == 12 else h
    if h > 24 or mm > 59 or h < 0:  # noqa: PLR2004
        return None
    arr = arrival.hour * 60 + arrival.minute
    clause = re.split(r"[.?!;]", s[: m.start()])[-1]
    if re.search(r"(?<!la )\bmanana\b", clause[-25:]):
        return 1440 - arr + (h % 24) * 60 + mm  # "hasta mañana a las 9": tomorrow, first occurrence
    options = [h % 24] if fixed else [h % 24, (h + 12) % 24]
    return min(((o * 60 + mm - arr - 1) % 1440) + 1 for o in options)


def _is_stay_clock(m: re.Match, s: str) -> bool:
    before = re.split(r"[.?!;]", s[: m.start()])[-1][-45:]
    after = re.split(r"[.?!;]", s[m.end() :])[0][:30]
    if _HABIT.search(before):
        return False  # "los sábados vengo a las 9": a habit, not today's stay
    trig = [t.end() for t in _CLOCK_TRIGGER.finditer(before)]
    block = [b.end() for b in _CLOCK_BLOCKER.finditer(before)]
    if trig and (not block or trig[-1] > block[-1]):
        return True
    return bool(_CLOCK_AFTER_TRIGGER.search(after)) and not block


def _duration_value(m: re.Match) -> tuple[int | None, int]:
    """(minutes, unit of a bare number that follows it)."""
    g = m.groupdict()
    kind = "qn"
    for name in ("colh", "hn", "bare_frac", "half", "quarter", "mn", "dn", "wn", "fixed", "vague"):
        if g.get(name) is not None:
            kind = "qn" if name == "quarter" else name
            break
    if kind == "vague":
        return None, 60
    if kind == "fixed":
        return _FIXED[g["fixed"]], 60
    if kind == "colh":
        return int(g["colh"]) * 60 + int(g["colm"]), 60
    if kind == "bare_frac":
        return 60 + _FRAC[g["bare_frac"]], 60
    if kind == "half":
        return 30, 60
    if kind == "qn":
        return round(float(g["qn"] or 1) * 15), 60
    unit = _UNIT_OF[kind]
    raw = g[kind]
    n = 2.0 if "par" in raw else float(raw)
    value = n * unit
    if kind == "hn":
        value += int(g["hm"] or 0) + _FRAC[g["hfrac"]]
    return round(value), unit


def _stay_events(s: str, arrival: datetime.time | None) -> list[tuple[int, int, int | None, int]]:
    """(start, end, minutes or None for vague, unit) for every stay mention, in order."""
    events = []
    masked = s
    for m in _CLOCK.finditer(s):
        if m.group("hs1") and not re.search(r"\b(a|hasta|para)\s*$", s[: m.start()]):
            continue  # "las 2 horas" is a length, not a clock time
        if _is_stay_clock(m, s):
            events.append((m.start(), m.end(), _clock_minutes(m, s, arrival), 60))
        masked = masked[: m.start()] + "§" * (m.end() - m.start()) + masked[m.end() :]
    for m in _DURATION.finditer(masked):
        if _IGNORE_BEFORE.search(masked[max(0, m.start() - 40) : m.start()]):
            continue
        value, unit = _duration_value(m)
        lead = _LEADING_RANGE.search(masked[max(0, m.start() - 12) : m.start()])
        if value is not None and lead and unit == 60 and m.group("hn") and "par" not in m.group("hn"):
            value = max(value, round(float(lead.group("n")) * unit))
        events.append((m.start(), m.end(), value, unit))
        trail = _TRAILING.match(masked[m.end() :])
        if trail and value is not None:
            extra = round(float(trail.group("n")) * unit) + (_FRAC[trail.group("frac")] if unit == 60 else 0)
            end = m.end() + trail.end()
            if trail.group("range"):
                events[-1] = (m.start(), end, max(value, extra), unit)
            else:
                events.append((m.end(), end, extra, unit))
    events.sort()
    return events


def _extract_stay(words: list[str], arrival: datetime.time | None) -> int | None:
    s = _stay_text(words)
    events = _stay_events(s, arrival)
    if not events:
        return None
    value = events[0][2]
    for prev, cur in zip(events, events[1:], strict=False):
        gap = s[prev[1] : cur[0]]
        opener = s[max(0, prev[0] - 8) : prev[0]]
        is_range = re.fullmatch(r"\s*(o|a|-|hasta)\s*", gap) or (
            re.fullmatch(r"\s*y\s*", gap) and re.search(r"\bentre\s*$", opener)
        )
        if is_range and value is not None and cur[2] is not None:
            value = max(value, cur[2])
        else:
            value = cur[2]
    return value


# ---------------------------------------------------------------------------------------------
# Covered preference
# ---------------------------------------------------------------------------------------------

_COVERED_TERMS = re.compile(
    r"\b(?P<true>techad[oa]s?|techito|bajo techo|con techo|techo|cubiert[oa]s?|adentro|subsuelo|bajo tierra)\b"
    r"|\b(?P<false>al aire libre|aire libre|descubiert[oa]s?|al descubierto|afuera|sin techo|a la intemperie|intemperie)\b"
)
# The same words in another sense: keys inside the car, insurance cover, someone waiting outside.
_OTHER_SENSE_BEFORE = re.compile(
    r"\b(llaves?|espera\w*|espero|esperando|estoy|estamos|esta|quedo|queda|queda\w*|dejo las|seguro|"
    r"celular|campera|perro|nene|chicos?)\b[^,.;?!]{0,20}$"
)
_OTHER_SENSE_AFTER = re.compile(r"^\s*(del?|por el|por la|por mi|por)\b")
_INDIFFERENT = re.compile(
    r"\b(me da igual|da igual|me da lo mismo|da lo mismo|lo que sea|donde sea|cualquiera|cualquier lugar|"
    r"donde haya lugar|donde haya|indistinto|no tengo preferencia|sin preferencia|no me importa|no importa|"
    r"me es indistinto|como sea|lo mismo|ni idea|no se)\b"
)
_NEG_BEFORE = re.compile(r"\b(no|nada de|ni|tampoco|sin necesidad de)\b(?:\s+(?!y\b|pero\b)\w+){0,4}\s*$")
_NEG_AFTER = re.compile(r"^\s*[:,]?\s*no\b(?!\s+(?:me|se|hay|tengo|importa|sé|se|pasa))")
# "afuera, no hace falta techo": after an uncovered place, that "no" is of what follows, not a change of mind.
_NOT_NEEDED_NEXT = re.compile(r"^\s*[:,]?\s*no hace falta\s+\w")
_COND_NEG = re.compile(r"\b(si no hay|si no|sino)\s*,?\s*$")  # the fallback, not the wish


def _clauses(s: str) -> list[tuple[int, str]]:
    """Split on sentence ends and on words that restart a thought ("bueno", "pero")."""
    out = []
    start = 0
    for m in re.finditer(r"[.;!?¿…]|\b(bueno|pero|aunque|mejor dicho)\b", s):
        out.append((start, s[start : m.start()]))
        start = m.start() if m.group(1) else m.end()
    out.append((start, s[start:]))
    return out


def _extract_covered(words: list[str]) -> bool | None:
    s = " ".join(words)
    value: bool | None = None
    for _, clause in _clauses(s):
        events: list[tuple[int, bool | None]] = []
        for m in _INDIFFERENT.finditer(clause):
            events.append((m.start(), None))
        for m in _COVERED_TERMS.finditer(clause):
            before, after = clause[: m.start()], clause[m.end() :]
            if m.group("true") in ("adentro",) or m.group("false") == "afuera":
                if _OTHER_SENSE_BEFORE.search(before) or _OTHER_SENSE_AFTER.search(after):
                    continue
            elif (m.group("true") or "").startswith("cubiert") and re.match(
                r"\s*por (el|la|mi|su)\b", after
            ):
                continue  # "cubierto por el seguro"; but "bajo techo por la lluvia" is a wish
            val = m.group("true") is not None
            if m.group("false") == "sin techo":
                val = False
            if re.match(r"^\s*o\s+(no|descubiert|techad|afuera|adentro|al aire|bajo techo|cubiert)", after):
                events.append((m.start(), None))  # "techado o no": either is fine
                continue
            if _COND_NEG.search(before):
                continue  # "si no hay techado, ...": the fallback, not the wish
            neg_before = _NEG_BEFORE.search(before[-40:])
            if neg_before and "," not in neg_before.group(0):
                val = not val
            elif _NEG_AFTER.match(after) and not (m.group("false") and _NOT_NEEDED_NEXT.match(after)):
                val = not val
            events.append((m.start(), val))
        if not events:
            continue
        if _is_question(clause):
            continue
        events.sort()
        value = events[-1][1]
        if any(v is None for _, v in events) and events[-1][1] is not None:
            # indifference about the same mention ("no me importa si es techado") stays indifferent
            ind = [p for p, v in events if v is None]
            if ind and ind[-1] < events[-1][0] and re.search(r"\bsi (es|esta)\b", clause[ind[-1] : events[-1][0]]):
                value = None
    return value


def _is_question(clause: str) -> bool:
    return bool(re.search(r"^\s*(cuanto|cuánto|que precio|cuesta|sale|tienen|hay lugar)\b", clause)) or bool(
        re.search(r"\b(cuanto|precio|sale|cuesta|cobran)\b", clause)
    )


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

_YES = re.compile(
    r"\b(si|sip|sii+|dale|joya|correcto|correcta|exacto|exacta|perfecto|ok|okey|okay|de una|obvio|claro|"
    r"afirmativo|asi es|eso es|esta bien|todo bien|bien|genial|listo|barbaro|buenisimo|confirmo|confirmado|"
    r"ajam?|es esa|esa es|tal cual|por supuesto|seguro|va|vamos)\b"
)
_NO = re.compile(
    r"\b(no|nah|nop|nope|negativo|para nada|nada que ver|incorrect[oa]|equivocad[oa]|mal|esta mal|error|cambiala|cambialo|"
    r"tampoco|ni ahi|de ninguna manera)\b"
)
_NO_STRONG = re.compile(r"\b(esta mal|incorrect[oa]|equivocad[oa]|no es (esa|asi|correct)|no,? no|cambia\w*|error)\b")


def indifferent(text: str) -> bool:
    """"Me da igual", "donde sea"…: no preference. extract() gives covered=None for it and for silence alike."""
    return bool(_INDIFFERENT.search(" ".join(_tokenize(text))))


# A short answer the ASR misspelt ("Correto", "Conecto", "Talicuel", "Negatibo") is the nearest of these, if
# near enough and clearly nearer than any word of the other answer ("incorrecto" is a no: it is on that list).
_YES_WORDS = ("correcto", "exacto", "perfecto", "afirmativo", "talcual", "asies", "esoes", "estabien", "todobien",
              "clarosi", "deuna", "confirmo", "obvio")
_NO_WORDS = ("negativo", "incorrecto", "equivocado", "estamal", "paranada", "nadaquever", "estatodomal")


def _near_yes_no(s: str) -> bool | None:
    joined = s.replace(" ", "")
    if len(joined) < 5 or len(s.split()) > 3:  # short words are too easily near anything
        return None
    # difflib: the standard library's ratio is enough for a handful of short words; no dependency for this.
    yes = max(difflib.SequenceMatcher(None, joined, w).ratio() for w in _YES_WORDS)
    no = max(difflib.SequenceMatcher(None, joined, w).ratio() for w in _NO_WORDS)
    if max(yes, no) >= 0.8 and abs(yes - no) >= 0.1:
        return yes > no
    return None


def confirm(text: str) -> bool | None:
    """Yes/no answer to "¿es correcto?": True, False, or None when it is neither."""
    s = " ".join(t for t in _tokenize(text) if t[0].isalnum())
    if not s:
        return None
    if _NO_STRONG.search(s):
        return False
    if re.search(r"\bno (se|sabria|entiendo|escuche)\b", s):
        return None
    yes, no = _YES.search(s), _NO.search(s)
    if yes and no:
        return yes.start() > no.start() and bool(re.search(r"\b(esta bien|todo bien|dale|joya|si)\b", s[no.end() :]))
    if yes:
        return True
    if no:
        return False
    return _near_yes_no(s)


def extract(text: str, arrival: datetime.time | None = None) -> Slots:
    """Plate, stay in minutes and covered preference from one transcribed answer (see the README)."""
    words, upper = _cased_tokens(text or "")
    plate, span = _extract_plate(words, upper)
    rest = [";" if k in span else w for k, w in enumerate(words)]
    return Slots(plate=plate, stay_minutes=_extract_stay(rest, arrival), covered=_extract_covered(rest))


def spelled(text: str) -> tuple[str, str]:
    """The letters and the digits spelled in an answer, each in order and whatever their count ("las letras
    son a, be larga, ce" -> ("ABC", "")), after the last correction ("a be ce, no, a be de" -> "ABD"). The
    dialogue asks for them apart when whole plates keep being misheard."""
    words, upper = _cased_tokens(text or "")
    items = _plate_items(words, upper)
    last = max((k for k, it in enumerate(items) if it.kind == "S"), default=-1)
    items = items[last + 1 :]

    def letter(k: int) -> bool:
        return 0 <= k < len(items) and items[k].kind == "L"

    letters = [k for k in range(len(items)) if letter(k)]
    if len(letters) > 4:  # more than a plate holds: drop lone everyday words ("las letras DE la patente son ...")
        letters = [k for k in letters if items[k].strong or letter(k - 1) or letter(k + 1)]
    return "".join(items[k].value for k in letters), "".join(it.value for it in items if it.kind == "D")
