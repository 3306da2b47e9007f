"""Synthetic parking answers spoken by espeak-ng, written as a data dir (see datos.py).

Each utterance is built twice in step: what espeak says ("a be uno dos tres ce de") and what Whisper
should write ("AB 123 CD"), plus the slot labels that CONVENCIONES_SLOTS.md gives that answer.
Everything random comes from one `random.Random(seed)`, and audio is written as 16 kHz PCM_16, so
the same command gives byte-identical files.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from corpus import acustica, kokoro
from corpus.datos import AUDIO_DIR, SLOTS, SPLIT, TRANSCRIPTS, SlotLabels, audio_path, write_slots, write_transcripts
from texto.letras import HOMOPHONE_NAMES, LETTER_NAMES
from texto.numeros import number_words

ESPEAK = "espeak-ng"
INSTALL_HINT = "sudo apt-get install espeak-ng"
SAMPLE_RATE = 16000
BASE_VOICES = ("es", "es-419")
# Variants are split by name, not just by base: "es+f3" and "es-419+f3" share a timbre, so a
# held-out voice must use a variant that training never heard.
# Many voices, each with few clips: what carries over to an unheard voice is variety, not hours of one voice.
# Every espeak-ng variant but the held-out ones (15 female, 80 male), alternating the Spain and Latin
# American bases; plan() deals the two genders evenly, so the few female variants are not drowned out.
TRAIN_VOICES = (
    "es+f1", "es-419+f2", "es+f4", "es-419+Andrea", "es+Annie", "es-419+aunty", "es+belinda", "es-419+linda",
    "es+steph", "es-419+steph2", "es+anika", "es-419+grandma", "es+steph3", "es-419+anikaRobot", "es+whisperf",
    "es", "es-419", "es+m2", "es-419+m3", "es+m4", "es-419+m5", "es+m7", "es-419+m8", "es+klatt", "es-419+klatt2",
    "es+klatt4", "es-419+Alex", "es+adam", "es-419+antonio", "es+david", "es-419+Diogo", "es+Hugo", "es-419+Marco",
    "es+miguel", "es-419+pablo", "es+pedro", "es-419+sandro", "es+victor", "es-419+michel",
    "es+Andy", "es-419+benjamin", "es+boris", "es-419+caleb", "es+Demonic", "es-419+Denis", "es+ed", "es-419+edward",
    "es+edward2", "es-419+Gene", "es+Gene2", "es-419+gustave", "es+announcer", "es-419+Henrique", "es+iven",
    "es-419+iven2", "es+iven3", "es-419+iven4", "es+Jacky", "es-419+john", "es+kaukovalta", "es-419+Lee",
    "es+marcelo", "es-419+Mario", "es+max", "es-419+Michael", "es+Mike", "es-419+Nguyen", "es+paul", "es-419+quincy",
    "es+RicishayMax", "es-419+RicishayMax2", "es+RicishayMax3", "es-419+rob", "es+robert", "es-419+robosoft",
    "es+robosoft2", "es-419+robosoft3", "es+robosoft4", "es-419+robosoft5", "es+robosoft6", "es-419+robosoft7",
    "es+robosoft8", "es-419+Tweaky", "es+UniRobot", "es-419+zac", "es+AnxiousAndy", "es-419+fast", "es+grandpa",
    "es-419+klatt5", "es+klatt6", "es-419+norbert", "es+shelby", "es-419+travis", "es+whisper", "es-419+croak",
)
HELDOUT_VOICES = ("es-419+f3", "es+f5", "es-419+m6", "es+m1", "es-419+Alicia", "es+klatt3")
DEFAULT_VOICES = TRAIN_VOICES + HELDOUT_VOICES
ACOUSTICS = ("variada", "limpia")  # rooms, timbres and entrance noises (corpus/acustica.py), or none
ENGINES = ("espeak", "kokoro", "ambos")  # which engine speaks the voice groups below (a named voice says its own)


def voice_groups(engine: str = "espeak") -> dict[str, tuple[str, ...]]:
    """--voices aliases for an engine: training voices, held-out voices, all."""
    train = {"espeak": TRAIN_VOICES, "kokoro": kokoro.TRAIN_VOICES}
    heldout = {"espeak": HELDOUT_VOICES, "kokoro": kokoro.HELDOUT_VOICES}
    chosen = ("espeak", "kokoro") if engine == "ambos" else (engine,)
    groups = {"entrenamiento": sum((train[e] for e in chosen), ()), "evaluacion": sum((heldout[e] for e in chosen), ())}
    return {**groups, "todas": groups["entrenamiento"] + groups["evaluacion"]}


VOICE_ALIASES = voice_groups("espeak")
PHRASINGS = ("todo", "entrenamiento", "evaluacion")
# General sentences (no parking data), so the model keeps writing ordinary Spanish: hand-written
# Rioplatense ones and the real OpenSLR 61 transcripts (see each file's header).
GENERAL_FILES = tuple(Path(__file__).with_name(name) for name in ("frases_generales.txt", "frases_slr61.txt"))


class UsageError(Exception):
    """A user mistake in what was asked for: printed in Spanish, exit code 2, no traceback."""


class SynthesisError(Exception):
    """The corpus could not be made here (no espeak-ng, a missing phrase file, an unwritable folder)."""


# ---------------------------------------------------------------------------------------------
# Text pieces: what espeak says and what Whisper should write, kept in step
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Piece:
    said: str
    written: str


def same(text: str) -> Piece:
    return Piece(text, text)


def fill(frame: str, piece: Piece) -> Piece:
    return Piece(frame.format(piece.said), frame.format(piece.written))


@dataclass
class Utterance:
    said: str
    written: str
    labels: SlotLabels
    slow: bool = False  # asked again (the plate's hint, "Decí sí o no"): said slower, with longer pauses


# Answers to "¿es correcto?": without them in the corpus a model fine-tuned on slot answers hears "Sí." as the
# letter "C." (issue 25's simulated sessions). The simulator's drivers say these too; Maker.frame keeps every
# fourth for evaluation, so a held-out test hears wordings training never saw.
YES = ["sí", "sí, correcto", "sí, está bien", "correcto", "sí, es esa", "exacto", "sí, sí", "eso es",
       "sí, perfecto", "dale, sí", "sí, es correcto", "así es", "sí, ésa es", "perfecto", "sí, todo bien",
       "tal cual", "sí, señor", "está bien", "sí, exacto", "claro", "sí, eso", "afirmativo", "sí, dale", "joya",
       "sí, así es", "bien", "sí, está perfecto", "de una", "sí, es esa la patente", "sí, todo correcto",
       "ajá, sí", "claro que sí", "sí, esa es", "okey", "listo", "es correcto"]
NO = ["no", "no, está mal", "no, no es así", "no, incorrecto", "no, esa no es", "no, te equivocaste",
      "no, para nada", "no, está equivocado", "no, no", "nada que ver", "no, mal", "negativo", "no, eso no",
      "no, no es esa", "no es correcto", "no, está todo mal", "incorrecto", "no, le erraste", "no, así no",
      "no, no es correcto"]
CORRECTION = ["no, es {}", "no, {}", "no, te dije {}", "no, está mal, es {}", "no, no, es {}", "no, era {}",
              "no, perdón, {}", "no, lo correcto es {}", "no, es {}, te dije", "no, mal, es {}",
              "nada que ver, es {}", "no, sería {}"]
CONFIRM_FRACTION = 0.15  # share of a corpus's answers that are a yes, a no or a "no, es …" correction
# Of those, the bare "Sí."/"No." the kiosk asks for after an unclear one ("… ¿Es correcto? Decí sí o no."),
# said slowly. Drawn from the lists above they were 4 in 1,600, and the simulated drivers' slow "Sí." came out
# "P.", "¿Aseguí?" (the fine-tuned model's staff calls).
BARE_FRACTION = 0.3
# The plate asked again after the kiosk's hint ("Decímela letra por letra…"): the plate alone, symbol by symbol,
# slowly. The hint promises this format works, yet the simulated drivers' answers in it came out right 2 times
# in 3 (issue 25): they were slower than any training clip, and rare in it. The simulator's drivers use these
# frames too (Maker.frame keeps every fourth for evaluation).
HINT_FRACTION = 0.08
PLATE_AGAIN = ["la patente es {}", "{}", "es {}", "patente {}", "te la deletreo: {}", "otra vez, {}",
               "despacio: {}", "te repito, {}"]
PLAIN_COVERED = {True: ["techado", "bajo techo", "cubierto", "adentro", "lugar techado", "cochera cubierta",
                        "techado, por favor", "bajo techo, por favor"],
                 False: ["al aire libre", "descubierto", "afuera", "sin techo", "lugar descubierto",
                         "afuera está bien", "al aire libre nomás", "descubierto está bien"]}


def phrasings(options: list, split: str) -> list:
    """The options of one phrasing split: every fourth is kept for evaluation ("evaluacion"), so a test corpus
    can use wordings training never saw (the issue measured how much held-out phrasings hurt); lists shorter
    than four are shared."""
    if split == "todo" or len(options) < 4:
        return list(options)
    return [o for i, o in enumerate(options) if (i % 4 == 3) == (split == "evaluacion")]


class Maker:
    """Random choices for one corpus; `frame()` honours the phrasing split, `pick()` does not."""

    def __init__(self, rng: random.Random, phrasing: str = "todo"):
        self.rng = rng
        self.phrasing = phrasing

    def pick(self, options):
        return self.rng.choice(options)

    def frame(self, options):
        return self.rng.choice(phrasings(options, self.phrasing))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- plates --------------------------------------------------------------------------------

    def letter(self, ch: str) -> str:
        names = LETTER_NAMES[ch]
        if names[0] in HOMOPHONE_NAMES:  # B and V: only the names that tell them apart
            return self.pick([name for name in names if name not in HOMOPHONE_NAMES])
        return names[0] if self.chance(0.6) else self.pick(names)

    def letters(self, group: str) -> str:
        sep = ", " if self.chance(0.12) else " "
        spoken = []
        for ch, after in zip(group, group[1:] + " ", strict=True):
            name = self.letter(ch)
            while name == "uve" and after == "W":  # "uve doble ve" reads as W then V
                name = self.letter(ch)
            spoken.append(name)
        return sep.join(spoken)

    def digits(self, group: str) -> str:
        """Three digits spoken the ways people do: one by one, grouped, as one number, with "doble"."""
        d = group
        ways = ["single", "single"]
        if d[0] != "0":
            ways.append("whole")
        if d[0] != "0" and d[1] != "0":  # "ochenta nueve" would be 89, not 809
            ways.append("two_one")
        if d[1] != "0":
            ways += ["one_two", "one_two"]
        if d[0] == d[1]:
            ways.append("double_first")
        if d[1] == d[2]:
            ways.append("double_last")
        way = self.pick(ways)
        w = number_words
        if way == "whole":
            return w(int(d))
        if way == "two_one":
            return f"{w(int(d[:2]))} {w(int(d[2]))}"
        if way == "one_two":
            return f"{w(int(d[0]))} {w(int(d[1:]))}"
        if way == "double_first":
            return f"doble {w(int(d[0]))} {w(int(d[2]))}"
        if way == "double_last":
            return f"{w(int(d[0]))} doble {w(int(d[1]))}"
        spoken = [w(int(c)) for c in d]
        if d[1] == "0" and self.chance(0.15):  # "uno o dos" = 102, as people read plates
            spoken[1] = "o"
        return " ".join(spoken)

    def plate_groups(self, shape: str | None = None) -> list[str]:
        """A random plate of any valid shape (or the given one), as its letter and digit blocks."""
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        rng = self.rng

        def run(k: int) -> str:
            return "".join(rng.choice(letters) for _ in range(k))

        num = f"{rng.randrange(1000):03d}"
        shape = shape or self.pick(["AA999AA"] * 4 + ["AAA999"] * 3 + ["999AAA", "A999AAA", "A999AAA"])
        if shape == "AA999AA":
            head = (rng.choice("AAAB") + rng.choice("ABCDEFGH")) if self.chance(0.5) else run(2)
            groups = [head, num, run(2)]
        elif shape == "AAA999":
            groups = [run(3), num]
        elif shape == "999AAA":
            groups = [num, run(3)]
        else:
            groups = [run(1), num, run(3)]
        return groups

    def spell(self, groups: list[str]) -> Piece:
        if self.chance(0.15):
            return self.symbol_by_symbol(groups)
        sep = self.pick([" ", " ", " ", ", "])
        said = sep.join(self.digits(g) if g.isdigit() else self.letters(g) for g in groups)
        return Piece(said, " ".join(groups))

    # -- stays ---------------------------------------------------------------------------------

    def hours_piece(self, n: int, diminutive: bool = False) -> Piece:
        unit = "horita" if diminutive else "hora"
        if n == 1:
            return Piece(f"una {unit}", f"una {unit}")
        return Piece(f"{number_words(n, feminine=True)} {unit}s", f"{n} {unit}s")

    def minutes_piece(self, n: int) -> Piece:
        unit = "minutitos" if self.chance(0.1) else "minutos"
        return Piece(f"{number_words(n)} {unit}", f"{n} {unit}")

    def duration(self) -> tuple[Piece, int, str]:
        """(phrase, minutes, kind); kind "plain" fits after "en" ("vuelvo en dos horas")."""
        rng, w = self.rng, number_words
        kind = self.pick(["minutes", "hours", "hours", "hours", "half", "mixed", "mixed", "pair", "days",
                          "fixed", "range", "range", "limit", "limit", "pico"])
        if kind == "minutes":
            n = self.pick([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 90])
            return self.minutes_piece(n), n, "plain"
        if kind == "hours":
            n = self.pick([1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 8, 10, 12])
            return self.hours_piece(n, diminutive=self.chance(0.12)), 60 * n, "plain"
        if kind == "half":
            options = [
                (same("media hora"), 30), (same("media horita"), 30), (same("un cuarto de hora"), 15),
                (same("tres cuartos de hora"), 45), (same("hora y media"), 90), (same("una hora y media"), 90),
                (same("una hora y cuarto"), 75), (same("un ratito, media hora"), 30),
            ]
            n = rng.randint(2, 5)
            options.append((Piece(f"{w(n, True)} horas y media", f"{n} horas y media"), 60 * n + 30))
            options.append((Piece(f"{w(n, True)} horas y cuarto", f"{n} horas y cuarto"), 60 * n + 15))
            piece, minutes = self.pick(options)
            return piece, minutes, "plain"
        if kind == "mixed":  # bare minutes after hours: "una hora cuarenta" = 100
            h = rng.randint(1, 3)
            m = self.pick([10, 15, 20, 30, 40, 45, 50])
            hp = self.hours_piece(h)
            joiner = self.pick([" ", " y "])
            unit = self.pick(["", "", " minutos"])
            return Piece(f"{hp.said}{joiner}{w(m)}{unit}", f"{hp.written}{joiner}{m}{unit}"), 60 * h + m, "plain"
        if kind == "pair":
            piece, minutes = self.pick([(same("un par de horas"), 120), (same("un par de horitas"), 120),
                                        (same("un par de días"), 2880)])
            return piece, minutes, "plain"
        if kind == "days":
            n = rng.randint(1, 5)
            options = [(same("una semana"), 10080), (Piece("veinticuatro horas", "24 horas"), 1440)]
            day = same("un día") if n == 1 else Piece(f"{w(n)} días", f"{n} días")
            options.append((day, 1440 * n))
            piece, minutes = self.pick(options)
            return piece, minutes, "plain"
        if kind == "fixed":
            piece, minutes = self.pick([(same("todo el día"), 720), (same("toda la noche"), 720),
                                        (same("medio día"), 360)])
            return piece, minutes, "fixed"
        if kind == "pico":  # "y pico" is ignored
            n = rng.randint(1, 4)
            hp = self.hours_piece(n)
            return fill("{} y pico", hp), 60 * n, "fixed"
        if kind == "range":
            a = rng.randint(1, 4)
            b = a + self.pick([1, 1, 2])
            options = [
                (Piece(f"entre {w(a, True)} y {w(b, True)} horas", f"entre {a} y {b} horas"), 60 * b),
                (Piece(f"{w(a, True)} o {w(b, True)} horas", f"{a} o {b} horas"), 60 * b),
                (Piece(f"de {w(a, True)} a {w(b, True)} horas", f"de {a} a {b} horas"), 60 * b),
                (same("entre media hora y una hora"), 60),
                (Piece("una hora y media o dos", "una hora y media o 2"), 120),
                (Piece("entre cuarenta minutos y una hora", "entre 40 minutos y una hora"), 60),
                (Piece("entre veinte y treinta minutos", "entre 20 y 30 minutos"), 30),
                (Piece("media hora o cuarenta y cinco minutos", "media hora o 45 minutos"), 45),
            ]
            piece, minutes = self.pick(options)
            return piece, minutes, "range"
        # limits take the number
        n = rng.randint(2, 4)
        m = self.pick([20, 30, 40, 45])
        options = [
            (same("menos de una hora"), 60),
            (Piece(f"menos de {w(n, True)} horas", f"menos de {n} horas"), 60 * n),
            (Piece(f"no más de {w(m)} minutos", f"no más de {m} minutos"), m),
            (Piece(f"{w(n, True)} horas máximo", f"{n} horas máximo"), 60 * n),
            (same("hora y media como mucho"), 90),
            (Piece(f"como mucho {w(n, True)} horas", f"como mucho {n} horas"), 60 * n),
            (Piece(f"máximo {w(m)} minutos", f"máximo {m} minutos"), m),
            (Piece(f"a lo sumo {w(n, True)} horas", f"a lo sumo {n} horas"), 60 * n),
        ]
        piece, minutes = self.pick(options)
        return piece, minutes, "range"

    def clock(self, arrival: int) -> tuple[Piece, int]:
        """A clock time with its article ("las seis", "la una") and the stay it gives from `arrival`."""
        rng, w = self.rng, number_words
        kind = self.pick(["ambiguous", "ambiguous", "ambiguous", "h24", "h24", "part", "noon"])
        if kind == "noon":
            piece, target = self.pick([(same("el mediodía"), 12 * 60), (same("la medianoche"), 0)])
            return piece, _until(arrival, [target])
        if kind == "h24":
            h = rng.randint(13, 23)
            m = self.pick([0, 0, 0, 15, 30, 30, 45])
            if m == 0:
                return Piece(f"las {w(h)}", f"las {h}"), _until(arrival, [h * 60])
            return Piece(f"las {w(h)} {w(m)}", f"las {h}:{m:02d}"), _until(arrival, [h * 60 + m])
        if kind == "part":
            part, h = self.pick([("de la mañana", rng.randint(6, 11)), ("de la tarde", rng.randint(1, 8)),
                                 ("de la noche", rng.randint(8, 12))])
            h24 = h if part == "de la mañana" else (h + 12) % 24
            art = "la" if h == 1 else "las"
            return Piece(f"{art} {w(h, True)} {part}", f"{art} {h} {part}"), _until(arrival, [h24 * 60])
        h = rng.randint(1, 12)
        art = "la" if h == 1 else "las"
        hw = "una" if h == 1 else w(h)
        tail, delta = self.pick([("", 0), ("", 0), (" y media", 30), (" y cuarto", 15), (" menos cuarto", -15),
                                 (" y diez", 10), (" y veinte", 20)])
        written_tail = tail if tail in ("", " y media", " y cuarto", " menos cuarto") else f" y {delta}"
        t = h * 60 + delta
        return Piece(f"{art} {hw}{tail}", f"{art} {h}{written_tail}"), _until(arrival, [t % 1440, (t + 720) % 1440])

    def stay(self) -> tuple[Piece, int | None, str | None]:
        """(clause, minutes or None, arrival "HH:MM" or None)."""
        r = self.rng.random()
        if r < 0.08:
            vague = self.pick(["un rato", "un ratito", "un rato largo", "unas horas", "unos días", "el fin de semana",
                               "toda la tarde", "hasta la tarde", "hasta que cierren", "hasta mañana"])
            frame = self.frame(["me quedo {}", "lo dejo {}", "voy a estar {}", "{}", "y, {}", "calculo que {}"])
            return same(frame.format(vague)), None, None
        if r < 0.14:  # a correction: the last value wins
            a = self.rng.randint(1, 4)
            b = a + self.pick([-1, 1, 1, 2]) if a > 1 else a + 1
            first = self.hours_piece(a)
            said_b, written_b = number_words(b, feminine=True), str(b)
            if b == 1:
                said_b = written_b = "una"
            frame = self.frame(["{}, no, mejor {}", "{}, no, {} horas", "{}... no, mejor {} horas", "{}, eh, no, {}",
                                "{}, no, pensándolo bien, {} horas"])
            piece = Piece(frame.format(first.said, said_b), frame.format(first.written, written_b))
            if b == 1:
                piece = Piece(piece.said.replace("una horas", "una hora"), piece.written.replace("una horas", "una hora"))
            lead = self.frame(["lo dejo {}", "me quedo {}", "{}", "voy a estar {}"])
            return fill(lead, piece), 60 * b, None
        if r < 0.34:
            arrival = self.rng.randrange(7 * 12, 22 * 12) * 5
            for _ in range(20):
                piece, minutes = self.clock(arrival)
                if 15 <= minutes <= 14 * 60:
                    break
            if self.chance(0.08):  # "hasta mañana a las nueve": an evening arrival, a morning pick-up
                arrival = self.rng.randrange(18 * 12, 23 * 12) * 5
                h = self.rng.randint(7, 10)
                piece = Piece(f"mañana a las {number_words(h)}", f"mañana a las {h}")
                minutes = 1440 - arrival + h * 60
                frame = self.frame(["hasta {}", "lo dejo hasta {}", "lo retiro {}", "lo vengo a buscar {}",
                                    "paso {}", "vuelvo {}"])
            else:
                until = piece.said.startswith(("el ", "la medianoche"))
                frame = self.frame(
                    ["hasta {}", "lo dejo hasta {}", "me quedo hasta {}", "hasta {} más o menos", "calculo que hasta {}",
                     "lo necesito hasta {}", "voy a estar hasta {}", "hasta {}, más o menos"]
                    if until else
                    ["hasta {}", "vuelvo a {}", "paso a buscarlo a {}", "lo dejo hasta {}", "salgo a {}",
                     "me voy a {}", "lo retiro a {}", "hasta {} nomás", "lo vengo a buscar a {}", "me quedo hasta {}",
                     "a {} lo paso a buscar", "calculo que hasta {}", "lo saco a {}", "vengo a {}",
                     "hasta {} más o menos", "a eso de {} vuelvo", "tipo {} lo vengo a buscar"]
                )
            return fill(frame, piece), minutes, f"{arrival // 60:02d}:{arrival % 60:02d}"
        piece, minutes, kind = self.duration()
        frames = ["lo dejo {}", "me quedo {}", "voy a estar {}", "{}", "por {}", "son {}", "lo necesito por {}",
                  "va a ser {}", "calculo que {}", "creo que {}", "tengo para {}", "lo dejo por {}",
                  "lo voy a dejar {}", "serían {}", "estimo {}", "vengo por {}", "y, {}", "voy a tardar {}",
                  "la idea es dejarlo {}", "pienso quedarme {}", "me voy a quedar {}", "necesito {}",
                  "dejo el auto {}", "lo voy a necesitar {}", "estaciono {}", "quiero dejarlo {}",
                  "lo tengo que dejar {}", "me voy a demorar {}", "será {}", "tengo un trámite de {}"]
        if kind != "range":  # "aproximadamente a lo sumo dos horas" is not said
            frames += ["{} más o menos", "más o menos {}", "{} nomás", "lo dejo {}, más o menos",
                       "aproximadamente {}", "ponele {}", "{}, calculo", "{}, no creo que más"]
        if kind == "plain":
            frames += ["vuelvo en {}", "en {} lo retiro", "en {} vuelvo", "en {} paso a buscarlo",
                       "lo retiro en {}", "lo vengo a buscar en {}", "en {} estoy de vuelta", "vuelvo en {} más o menos"]
        return fill(self.frame(frames), piece), minutes, None

    # -- covered -------------------------------------------------------------------------------

    def covered(self) -> tuple[Piece, bool | None]:
        value = self.pick([True, True, False, False, None])
        if value is True:
            options = ["techado", "lo quiero techado", "prefiero techado", "bajo techo", "bajo techo, por favor",
                       "si hay techado, mejor", "techado si se puede", "techado si hay", "techado si tenés",
                       "prefiero techado si hay lugar", "cubierto", "en cochera cubierta", "adentro",
                       "adentro, por favor", "en el subsuelo", "no quiero dejarlo afuera", "nada de aire libre",
                       "al aire libre no, adentro", "que sea techado", "lo quiero bajo techo por la lluvia",
                       "mejor cubierto, que está por llover", "lo necesito bajo techo", "techado, si puede ser",
                       "en lo posible techado", "quiero cochera cubierta", "lo dejo en el subsuelo",
                       "bajo techo, que el sol lo mata", "prefiero que esté adentro", "preferentemente techado",
                       "si tenés lugar techado, mejor", "techado, que anuncian granizo", "abajo, en el subsuelo",
                       "lo más cubierto posible", "lo quiero adentro", "cubierta, si hay", "techado, obvio",
                       "bajo techo si tenés", "adentro, que se llena de hojas"]
        elif value is False:
            options = ["al aire libre", "al aire libre está bien", "afuera", "afuera está bien", "descubierto",
                       "sin techo", "no hace falta techado", "no necesito techo", "techado no",
                       "bajo techo no, al descubierto", "puede ser al aire libre", "no, techado no hace falta",
                       "lo dejo afuera nomás", "no necesito que sea cubierto", "descubierto está bien",
                       "afuera, no hace falta techo", "al aire libre, es más barato, ¿no?", "sin techo, no pasa nada",
                       "no hace falta que sea techado", "en el descubierto", "afuera mismo",
                       "techado no, al aire libre", "al aire libre, sin problema", "afuera, total no llueve",
                       "no, techado no", "descubierto nomás", "no hace falta que esté adentro",
                       "lo puedo dejar afuera", "sin techo está perfecto", "al aire libre, no me hago problema"]
        else:
            options = ["me da igual", "me da lo mismo", "lo que sea", "donde sea", "cualquiera",
                       "donde haya lugar", "no tengo preferencia", "no me importa si es techado o no", "indistinto",
                       "techado o no, me da igual", "donde me digas", "techado o al aire libre, lo mismo",
                       "cualquier lugar está bien", "donde haya lugar nomás", "me es indistinto",
                       "no tengo drama, donde sea", "da igual dónde", "donde vos quieras", "lo que tengas",
                       "no, ninguna preferencia"]
        if self.chance(0.1):  # a correction: the last preference wins
            pairs = [("me da igual, bueno, techado si hay", True), ("me da lo mismo, no, mejor techado", True),
                     ("techado, no, mejor afuera, es más barato", False),
                     ("al aire libre, no, pensándolo bien, bajo techo", True),
                     ("afuera, bueno, no, mejor adentro", True), ("techado, no, dejá, afuera está bien", False),
                     ("lo que sea, bueno, si hay cubierto, mejor", True), ("bajo techo, no, afuera nomás", False)]
            text, value = self.frame(pairs)
            return same(text), value
        return same(self.frame(options)), value

    # -- whole answers -------------------------------------------------------------------------

    def plate_clause(self) -> tuple[Piece, str]:
        groups = self.plate_groups()
        shape = "".join("9" * len(g) if g.isdigit() else "A" * len(g) for g in groups)
        piece = self.spell(groups)
        r = self.rng.random()
        if r < 0.07:  # a correction: the last plate said wins, so it is the label
            wrong = list(groups)
            block = self.rng.randrange(len(groups))
            while wrong == groups:
                wrong[block] = self.plate_groups(shape)[block]
            frame = self.frame(["{}, no, perdón, {}", "{}, no, me equivoqué, es {}", "{}, no, pará, {}",
                                "{}, no, esa es la del otro auto, la mía es {}", "{}, eh, no, {}",
                                "{}, perdón, me confundí, {}"])
            first = self.spell(wrong)
            piece = Piece(frame.format(first.said, piece.said), frame.format(first.written, piece.written))
        elif r < 0.13:  # read back twice, maybe with other letter names
            frame = self.frame(["{}, repito, {}", "{}, o sea, {}", "{}, te repito, {}", "{}... {}"])
            again = self.spell(groups)
            piece = Piece(frame.format(piece.said, again.said), frame.format(piece.written, again.written))
        label = "".join(groups)
        frames = ["la patente es {}", "es {}", "{}", "patente {}", "mi patente es {}", "la patente del auto es {}",
                  "te paso la patente, {}", "anotá, {}", "la chapa es {}", "tengo la {}", "es la {}",
                  "el dominio es {}", "{}, esa es la patente", "la patente, {}", "sí, es {}", "dale, es {}",
                  "sería {}", "te la deletreo, {}", "a ver, {}", "escribí {}", "la tengo acá, {}", "fijate, {}",
                  "{}, esa es", "la patente sería {}", "patente, {}", "es {}, la patente", "el auto es {}",
                  "anotá la patente, {}", "la patente es la {}", "es la patente {}", "te digo la patente, {}",
                  "ahí va, {}", "mi auto es el {}", "la matrícula es {}", "te la dicto, {}", "es la {}, la del auto gris",
                  "tomá nota, {}", "es {}, ¿querés que te la repita?", "patente del vehículo, {}"]
        if shape in ("999AAA", "A999AAA"):
            frames += ["es una moto, patente {}", "la moto es {}", "la patente de la moto es {}",
                       "es una moto, {}"]
        else:
            frames += ["es un auto, patente {}", "la del auto es {}"]
        return fill(self.frame(frames), piece), label

    def extra(self) -> tuple[Piece, bool]:
        """A clause with no slot in it (car, questions, "aguantame 2 minutos"); True when it is a question."""
        statements = [same("es un Gol blanco"), same("es una camioneta gris"), same("es un Corsa rojo"),
                      same("es un auto chico"), same("vengo por trabajo"), same("es la primera vez que vengo"),
                      Piece("aguantame dos minutos que la busco", "aguantame 2 minutos que la busco"),
                      same("tengo el ticket de descuento"), same("ando un poco apurado"),
                      same("vengo al médico acá a la vuelta"), same("es un Fiat Cronos"), same("es un Clio negro")]
        questions = [same("¿cuánto sale la hora?"), same("¿aceptan tarjeta?"), same("¿me das el ticket?"),
                     same("¿dónde dejo las llaves?"), same("¿hasta qué hora están abiertos?"),
                     same("¿tengo que dejar la llave?"), same("¿se puede pagar con transferencia?")]
        if self.chance(0.5):
            return self.frame(questions), True
        return self.frame(statements), False

    def confirmation(self) -> Utterance:
        """An answer to "¿es correcto?": a yes, a no, or a no with the right value ("no, es AB 123 CD"),
        labelled with that value."""
        if self.chance(BARE_FRACTION):  # after "Decí sí o no": the bare word, slowly
            return replace(self._plain(self.pick(["sí", "no"])), slow=True)
        r = self.rng.random()
        if r < 0.45:
            return self._plain(self.frame(YES))
        if r < 0.7:
            return self._plain(self.frame(NO))
        plate = minutes = covered = None
        kind = self.pick(["plate", "plate", "plate", "stay", "stay", "covered"])
        if kind == "plate":
            groups = self.plate_groups()
            piece, plate = self.spell(groups), "".join(groups)
        elif kind == "stay":
            piece, minutes, _ = self.duration()
        else:
            covered = self.pick([True, False])
            piece = same(self.frame(PLAIN_COVERED[covered]))
        piece = fill(self.frame(CORRECTION), piece)
        return Utterance(_sentence(piece.said), _sentence(piece.written), SlotLabels(plate, minutes, covered, None))

    def symbol_by_symbol(self, groups: list[str]) -> Piece:
        """The kiosk's hint format: "a, be larga, uno, dos, tres, ce, de"."""
        said = ", ".join(number_words(int(c)) if c.isdigit() else self.letter(c) for c in "".join(groups))
        return Piece(said, " ".join(groups))

    def hint_answer(self) -> Utterance:
        """The plate alone, symbol by symbol, as answered after the hint (slow)."""
        groups = self.plate_groups()
        piece = fill(self.frame(PLATE_AGAIN), self.symbol_by_symbol(groups))
        return Utterance(_sentence(piece.said), _sentence(piece.written), SlotLabels("".join(groups), None, None, None),
                         slow=True)

    def _plain(self, text: str) -> Utterance:
        return Utterance(_sentence(text), _sentence(text), SlotLabels(None, None, None, None))

    def answer(self) -> Utterance:
        slots = self.pick([("plate",), ("stay",), ("covered",), ("plate", "stay"), ("plate", "covered"),
                           ("stay", "covered"), ("plate", "stay", "covered"), ("plate", "stay", "covered")])
        slots = list(slots)
        if self.chance(0.6):
            self.rng.shuffle(slots)
        plate = minutes = covered = arrival = None
        clauses: list[Piece] = []
        for slot in slots:
            if slot == "plate":
                piece, plate = self.plate_clause()
            elif slot == "stay":
                piece, minutes, arrival = self.stay()
            else:
                piece, covered = self.covered()
            clauses.append(piece)
        question = False
        if self.chance(0.12):
            piece, question = self.extra()
            if question:
                clauses.append(piece)
            else:
                clauses.insert(self.rng.randrange(len(clauses) + 1), piece)
        opener = self.frame(["", "", "", "", "eh, ", "este, ", "bueno, ", "mirá, ", "a ver, ", "hola, ", "buenas, ",
                             "buen día, ", "sí, ", "dale, ", "eh, bueno, ", "hola, qué tal, ", "buenas tardes, ",
                             "ok, ", "bueno, eh, ", "sí, claro, ", "hola, sí, ", "buenas noches, ", "perdón, ",
                             "a ver, dejame ver, ", "eh, sí, ", "hola, cómo va, ", "bueno, a ver, ", "mmm, "])
        said, written = opener, opener
        for i, clause in enumerate(clauses):
            if i > 0 and (clause.said.startswith("¿") or said.endswith("?")):
                joiner = ". " if said[-1] not in ".?" else " "
                said += joiner
                written += joiner
            elif i > 0:
                joiner = self.frame([", ", ", ", " y ", ", y ", ". ", ", eh, ", ", este, ", " y después ",
                                     ", y eh, ", ", ah, y ", ". Ah, ", ", además ", ", y bueno, ", ". Y ",
                                     ", ah, me olvidaba, ", ". Después, ", ", y otra cosa, ", ", ", " y "])
                if joiner == ". Y " and clause.written[:1].isdigit():  # "Y 847 BKX" would read as plate Y847BKX
                    joiner = ". "
                said += joiner
                written += joiner
            said += clause.said
            written += clause.written
        closers = ["", "", "", "", "", ", gracias", ", nada más", ", dale", ", por favor", ". Gracias",
                    ", eso", ", listo", ", nada más, gracias", ", ¿puede ser?"]
        closer = "" if question or said.endswith("?") else self.frame(closers)
        if closer and said.endswith(closer.lstrip(",. ")):  # no "por favor, por favor"
            closer = ""
        said += closer
        written += closer
        return Utterance(_sentence(said), _sentence(written), SlotLabels(plate, minutes, covered, arrival))


def _until(arrival: int, targets: list[int]) -> int:
    """Minutes from arrival to the next occurrence of any target; a time at or before arrival is tomorrow."""
    return min((t - arrival) % 1440 or 1440 for t in targets)


def _sentence(text: str) -> str:
    """Capitalise sentence starts and end with a period, as Whisper writes."""
    text = text.strip()
    out, start = [], True
    for ch in text:
        if start and ch.isalpha():
            ch, start = ch.upper(), False
        elif ch.isalnum():
            start = False
        if ch in ".?!":
            start = not (out and out[-1] == ".")  # "dos horas... no, tres" goes on in lower case
        out.append(ch)
    text = "".join(out)
    return text if text[-1] in ".?!" else text + "."


def load_general_sentences(paths: tuple[Path, ...] = GENERAL_FILES) -> list[str]:
    """One sentence per line, `#` comments; capitalised and ending in a stop, as Whisper writes."""
    lines = [line for path in paths for line in path.read_text(encoding="utf-8").splitlines()]
    return [_sentence(s) for s in lines if s.strip() and not s.lstrip().startswith("#")]


def make_utterances(n: int, seed: int, general_fraction: float = 0.2, phrasing: str = "todo",
                    general: list[str] | None = None, confirm_fraction: float = CONFIRM_FRACTION,
                    hint_fraction: float = HINT_FRACTION) -> list[Utterance]:
    """The texts and labels of a corpus; they depend on seed only, never on the voices chosen."""
    rng = random.Random(seed)
    maker = Maker(rng, phrasing)
    general = load_general_sentences() if general is None else general
    out = []
    for _ in range(n):
        if general and rng.random() < general_fraction:
            text = maker.frame(general)
            out.append(Utterance(text, text, SlotLabels(None, None, None, None)))
        elif rng.random() < confirm_fraction:
            out.append(maker.confirmation())
        elif rng.random() < hint_fraction:
            out.append(maker.hint_answer())
        else:
            out.append(maker.answer())
    return out


# ---------------------------------------------------------------------------------------------
# Voices and audio
# ---------------------------------------------------------------------------------------------

def espeak_variants() -> dict[str, str]:
    """Variant name -> 'F'/'M', as this espeak-ng install lists them."""
    out = subprocess.run([ESPEAK, "--voices=variant"], capture_output=True, text=True, check=True).stdout
    variants = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5 and fields[-1].startswith("!v/"):
            variants[fields[-1][3:]] = "F" if fields[2].endswith("/F") else "M"
    return variants


def voice_tag(voice: str) -> str:
    """`es-419+f3` -> `es419-f3`, `kk-alpha.nezumi` as it is: no underscores, since ids split on them."""
    if kokoro.is_kokoro(voice):
        return voice
    base, _, variant = voice.partition("+")
    tag = base.replace("-", "")
    return f"{tag}-{variant.lower()}" if variant else tag


def parse_voices(spec: str | None, variants: dict[str, str], engine: str = "espeak") -> list[tuple[str, str]]:
    """Comma-separated voices or aliases -> [(voice, gender)], in order, without repeats."""
    aliases = voice_groups(engine)
    names: list[str] = []
    for item in (spec or "todas").split(","):
        item = item.strip()
        if item:
            names.extend(aliases.get(item.lower(), (item,)))
    if not names:
        raise UsageError("--voices está vacío. Ejemplo: --voices es-419+f3,es+m2")
    voices, bad = [], []
    for name in dict.fromkeys(names):
        if kokoro.is_kokoro(name):
            try:
                voices.append((name, kokoro.parse_voice(name).gender))
            except ValueError as e:
                raise UsageError(str(e)) from None
            continue
        base, _, variant = name.partition("+")
        if base not in BASE_VOICES or (variant and variant not in variants):
            bad.append(name)
            continue
        voices.append((name, variants.get(variant, "M")))  # the plain es/es-419 voices are male
    if bad:
        raise UsageError(
            f"voz desconocida: {', '.join(bad)}. Una voz es {' o '.join(BASE_VOICES)}, con una variante "
            f"opcional de espeak-ng (por ejemplo es-419+f3, es+m2; ver `espeak-ng --voices=variant`), "
            f"una de Kokoro ({', '.join(kokoro.TRAIN_VOICES[:2])}…), o uno de los grupos {', '.join(aliases)}."
        )
    return voices


def utterance_id(gender: str, voice: str, index: int, width: int) -> str:
    return f"sn{gender.lower()}_{voice_tag(voice)}_{index:0{width}d}"


def synthesize(text: str, voice: str, speed: int, pitch: int, gap: int, gain: float):
    """espeak-ng -> 16 kHz mono float32, peak-normalised to `gain`."""
    cmd = [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch), "-g", str(gap), "--stdout"]
    proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, check=False)
    if proc.returncode != 0 or len(proc.stdout) <= 44:
        raise RuntimeError(f"espeak-ng falló con la voz {voice}: {proc.stderr.decode(errors='replace').strip()}")
    audio, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    audio = soxr.resample(audio, rate, SAMPLE_RATE)
    peak = float(np.max(np.abs(audio))) or 1.0
    return (audio * (gain / peak)).astype(np.float32)


@dataclass(frozen=True)
class Job:
    utt_id: str
    text: str
    voice: str
    speed: int
    pitch: int
    gap: int
    gain: float
    lead_s: float  # silence before the speech: real recordings do not start on the first word
    noise_db: float | None  # SNR of added white noise, so the model does not learn espeak's digital silence
    noise_seed: int
    acoustics: acustica.Acoustics = acustica.Acoustics()  # timbre, room and entrance noise (corpus/acustica.py)


def synthesize_kokoro(model: kokoro.Kokoro, job: Job) -> np.ndarray:
    """Kokoro with the job's prosody: espeak's speed (120-185 words a minute) as a pace around 1, its pitch
    (25-75) as a factor of 0.95-1.05 on the voice's own."""
    voice = kokoro.parse_voice(job.voice)
    factor = voice.factor * (1 + (job.pitch - 50) / 500) * job.acoustics.factor
    voice = kokoro.Voice(voice.styles, round(factor, 4))
    audio = model.speak(kokoro.phonemes(job.text, ESPEAK), voice, job.speed / 160, SAMPLE_RATE)
    peak = float(np.max(np.abs(audio))) or 1.0
    return (audio * (job.gain / peak)).astype(np.float32)


def render_audio(job: Job, model: kokoro.Kokoro | None = None, tail_s: float = 0.0) -> np.ndarray:
    """One job's clip (16 kHz float32): the engine, its acoustics, the leading silence (and `tail_s` after), noise."""
    sound = job.acoustics
    if kokoro.is_kokoro(job.voice):
        audio = synthesize_kokoro(model, job)  # the timbre factor is folded into the voice's own
    else:  # slower by the factor, then played faster by it: the same length, another vocal tract
        audio = synthesize(job.text, job.voice, round(job.speed / sound.factor), job.pitch, job.gap, job.gain)
        audio = acustica.resample_factor(audio, sound.factor, SAMPLE_RATE)
    if sound.room is not None:
        audio = acustica.reverberate(audio, sound.room, SAMPLE_RATE)
    speech_rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    audio = np.concatenate([np.zeros(int(job.lead_s * SAMPLE_RATE), np.float32), audio,
                            np.zeros(int(tail_s * SAMPLE_RATE), np.float32)])
    if sound.noise is not None:
        audio = acustica.add_entrance_noise(audio, speech_rms, sound.noise, sound.snr_db, sound.seed, SAMPLE_RATE)
    if job.noise_db is not None:
        noise = np.random.default_rng(job.noise_seed).standard_normal(len(audio)).astype(np.float32)
        audio = audio + noise * speech_rms * 10 ** (-job.noise_db / 20)
    return np.clip(audio, -1.0, 1.0)


def render(job: Job, out_dir: Path, model: kokoro.Kokoro | None = None) -> None:
    sf.write(audio_path(out_dir, job.utt_id), render_audio(job, model), SAMPLE_RATE, subtype="PCM_16", format="WAV")


def plan(utterances: list[Utterance], voices: list[tuple[str, str]], seed: int, variety: bool = True,
         kokoro_share: float = 0.5) -> list[Job]:
    """Voice, prosody and acoustics per utterance, from a stream separate from the texts: the genders take
    turns (espeak-ng has far fewer female variants), and each gender's voices are dealt evenly. With both
    engines, `kokoro_share` of the clips, spread evenly, are Kokoro's."""
    rng = random.Random(f"voces-{seed}")
    width = max(5, len(str(len(utterances) - 1)))
    engines = [e for e in (False, True) if any(kokoro.is_kokoro(v) == e for v, _ in voices)]
    said = dict.fromkeys(engines, 0)  # clips per engine so far: within an engine the genders take turns
    by_gender = {(e, g): [v for v in voices if v[1] == g and kokoro.is_kokoro(v[0]) == e] for e in engines for g in "FM"}
    genders = {e: [g for g in "FM" if by_gender[e, g]] for e in engines}
    order: dict[tuple[bool, str], list[tuple[str, str]]] = {key: [] for key in by_gender}
    jobs = []
    for i, utt in enumerate(utterances):
        if len(engines) == 1:
            engine = engines[0]
        else:  # Bresenham: clip i is Kokoro's when the running share crosses an integer
            engine = int((i + 1) * kokoro_share) > int(i * kokoro_share)
        turn, said[engine] = said[engine], said[engine] + 1
        key = (engine, genders[engine][turn % len(genders[engine])])
        if not order[key]:
            order[key] = list(by_gender[key])
            rng.shuffle(order[key])
        voice, gender = order[key].pop()
        long = len(utt.said) > 150  # slow speech and long pauses would push the longest answers past 30 s
        speeds, gaps = ((95, 145), (2, 3, 4, 5)) if utt.slow else ((150 if long else 120, 185),
                                                                   (0, 0, 1) if long else (0, 0, 0, 1, 2, 3))
        jobs.append(Job(utterance_id(gender, voice, i, width), utt.said, voice,
                        speed=rng.randint(*speeds), pitch=rng.randint(25, 75), gap=rng.choice(gaps),
                        gain=round(rng.uniform(0.35, 0.9), 3), lead_s=round(rng.uniform(0.0, 0.4), 2),
                        noise_db=round(rng.uniform(20, 45), 1) if rng.random() < 0.5 else None,
                        noise_seed=rng.randrange(2**32), acoustics=acustica.draw(rng, variety)))
    return jobs


_OUR_ID = re.compile(r"^sn[fm]_[^_\s]+_\d+$")


def foreign_data(out_dir: Path) -> str | None:
    """A sign that `out_dir` holds data this program did not make (which clean_out_dir would delete), or None."""
    for wav in sorted((out_dir / AUDIO_DIR).glob("*.wav")) if (out_dir / AUDIO_DIR).is_dir() else ():
        if not _OUR_ID.match(wav.stem):
            return f"el audio {wav.relative_to(out_dir)}"
    transcripts = out_dir / TRANSCRIPTS
    if transcripts.is_file():
        for number, line in enumerate(transcripts.read_bytes().decode("utf-8", "replace").splitlines(), 1):
            utt_id = line.split("\t", 1)[0].strip()
            if utt_id and not _OUR_ID.match(utt_id):
                return f"la frase {utt_id!r} ({TRANSCRIPTS}, línea {number})"
    return None


def clean_out_dir(out_dir: Path) -> None:
    """Remove what an earlier run wrote here (and a stale split), nothing else."""
    audios = out_dir / AUDIO_DIR
    if audios.is_dir():
        for wav in audios.glob("*.wav"):
            wav.unlink()
    for name in (TRANSCRIPTS, SLOTS, SPLIT):
        (out_dir / name).unlink(missing_ok=True)


def generate(out_dir: Path, n: int, seed: int, voices: list[tuple[str, str]], general_fraction: float = 0.2,
             phrasing: str = "todo", workers: int | None = None, progress: bool = True, variety: bool = True,
             kokoro_share: float = 0.5) -> list[Job]:
    utterances = make_utterances(n, seed, general_fraction, phrasing)
    jobs = plan(utterances, voices, seed, variety, kokoro_share)
    model = kokoro.Kokoro() if any(kokoro.is_kokoro(job.voice) for job in jobs) else None
    clean_out_dir(out_dir)
    (out_dir / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    workers = workers or max(2, os.cpu_count() or 2)
    # Threads suffice: the work happens in espeak-ng processes, onnxruntime and soxr/libsndfile, which release the GIL.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda job: render(job, out_dir, model), jobs)
        for _ in tqdm(results, total=len(jobs), desc="sintetizando", unit="audio", disable=not progress):
            pass
    write_transcripts(out_dir, [(job.utt_id, utt.written) for job, utt in zip(jobs, utterances, strict=True)])
    write_slots(out_dir, {job.utt_id: utt.labels for job, utt in zip(jobs, utterances, strict=True)})
    return jobs


def make_corpus(out_dir: Path, n: int, seed: int, voices: str = "todas", general_fraction: float = 0.2,
                phrasing: str = "todo", workers: int | None = None, progress: bool = True,
                engine: str = "espeak", acoustics: str = "variada", kokoro_share: float = 0.5) -> list[Job]:
    """A synthetic data dir in `out_dir` (replacing what an earlier run wrote there): `n` answers spoken by
    `voices` (names or groups, comma-separated), in varied rooms and noises (`acoustics` "variada") or clean
    ("limpia"); with `engine` "ambos", `kokoro_share` of them by Kokoro. Raises UsageError for bad values, SynthesisError when this
    machine cannot make it."""
    if n < 1:
        raise UsageError("--n debe ser al menos 1")
    if not 0.0 <= general_fraction <= 1.0:
        raise UsageError("--general-fraction debe estar entre 0 y 1")
    if phrasing not in PHRASINGS:
        raise UsageError(f"--fraseo {phrasing}: usá uno de {', '.join(PHRASINGS)}")
    if Path(out_dir).is_dir() and (sign := foreign_data(Path(out_dir))):
        raise UsageError(f"--out {out_dir}: esa carpeta tiene datos que no hizo sintetico.py ({sign}), y sintetico.py "
                         f"borra lo que había. Elegí otra carpeta (por ejemplo {Path(out_dir) / 'sintetico'}).")
    if shutil.which(ESPEAK) is None:
        raise SynthesisError(f"no encuentro espeak-ng, que hace falta para sintetizar las voces.\n"
                             f"Instalalo con:\n  {INSTALL_HINT}")
    if engine not in ENGINES:
        raise UsageError(f"--motor {engine}: usá uno de {', '.join(ENGINES)}")
    if acoustics not in ACOUSTICS:
        raise UsageError(f"--acustica {acoustics}: usá una de {', '.join(ACOUSTICS)}")
    if engine == "ambos" and not 0.0 < kokoro_share < 1.0:
        raise UsageError(f"--parte-kokoro {kokoro_share:g}: tiene que estar entre 0 y 1 (sin incluirlos; para una sola "
                         "voz usá --motor espeak o --motor kokoro)")
    chosen = parse_voices(voices, espeak_variants(), engine)
    missing = [path.name for path in GENERAL_FILES if not path.exists()]
    if missing and general_fraction > 0:
        raise SynthesisError(f"falta {', '.join(missing)} en {GENERAL_FILES[0].parent} (o usá --general-fraction 0)")
    try:
        return generate(Path(out_dir), n, seed, chosen, general_fraction, phrasing, workers=workers, progress=progress,
                        variety=acoustics == "variada", kokoro_share=kokoro_share)
    except (RuntimeError, kokoro.KokoroError) as e:  # KokoroError is a RuntimeError: said for the reader
        raise SynthesisError(str(e)) from None
    except OSError as e:  # an out_dir that is a file, a read-only disk, ...
        raise SynthesisError(f"no pude escribir en {out_dir} ({e.strerror or e}). ¿Es una carpeta en la que podés "
                             "escribir?") from None
