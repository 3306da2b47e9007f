"""The entry dialogue as a state machine driven one answer at a time (text in, next prompt out).

The CLI, the microphone mode and the web kiosk all drive the same `Dialogue`: they only differ in
how the answer becomes text and how the prompt is shown or spoken. No torch here, so the logic is
tested on text in milliseconds.

Flow: greeting -> plate -> "Entendí AB 123 CD, ¿es correcto?" -> (reservation? use it) -> stay ->
covered -> spot assigned in the database -> ticket. Anything the driver says is extracted whole, so an
answer that gives several slots fills them all and skips those questions; each extracted value is
confirmed. A "no", or an answer with nothing usable, counts as a failure of the current question;
after `max_failures` the dialogue hands over to the staff.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from estacionamiento import lote
from texto.extraccion import confirm, extract, indifferent
from texto.letras import clear_name

SLOTS = ("plate", "stay_minutes", "covered")
QUESTIONS = {
    "plate": "¿Cuál es la patente del auto?",
    "stay_minutes": "¿Cuánto tiempo te vas a quedar?",
    "covered": "¿Preferís un lugar techado?",
}
HINTS = {
    "plate": "Decímela letra por letra y número por número, por ejemplo: a, be larga, uno dos tres, ce, de.",
    "stay_minutes": "Por ejemplo: dos horas, media hora o hasta las seis de la tarde.",
    "covered": "Decí sí o no. Si te da igual, decí: me da igual.",
}


@dataclass
class Turn:
    """What the front end shows (`text`) and speaks (`speech`: plates spelled out); when `done`,
    `ticket` is the ticket (`plate`, `stay_minutes`, `covered`, `spot`, ...) or `{"staff": True, ...}`."""

    text: str
    speech: str
    done: bool = False
    ticket: dict | None = None


@dataclass
class Dialogue:
    parking: lote.Parking
    max_failures: int = 3
    clock: Callable[[], datetime.datetime] = datetime.datetime.now  # the kiosk's wall clock; tests fix it
    slots: dict = field(default_factory=dict)  # confirmed values; "covered" may be None (no preference)
    pending: dict | None = None  # extracted values waiting for "¿es correcto?"
    asking: str = "plate"  # plate, stay_minutes, covered, other_kind
    failures: int = 0
    finished: Turn | None = None

    # --- the interface ---------------------------------------------------------------------------

    def start(self) -> Turn:
        q = QUESTIONS["plate"]
        return Turn(f"¡Hola! Bienvenido al estacionamiento. {q}", f"¡Hola! Bienvenido al estacionamiento. {q}")

    def answer(self, text: str) -> Turn:
        """The driver's answer (transcribed) -> the next prompt, or the final turn with the ticket."""
        if self.finished is not None:
            return self.finished
        text = (text or "").strip()
        if self.asking == "other_kind":
            return self._answer_other_kind(text)
        found = self._new_values(extract(text, self.clock().time()))
        if self.pending is not None:
            return self._answer_confirmation(text, found)
        if self.asking == "covered" and "covered" not in found:
            yes_no = confirm(text)
            if yes_no is not None or indifferent(text):  # an answer too
                self.slots["covered"] = yes_no  # a direct yes/no needs no "¿es correcto?" of its own
                return self._next()
        if found:
            return self._propose(found)
        return self._fail(f"No te entendí. {QUESTIONS[self.asking]} {HINTS[self.asking]}")

    # --- steps -----------------------------------------------------------------------------------

    def _new_values(self, slots) -> dict:
        """Extracted values for slots not confirmed yet."""
        values = {"plate": slots.plate, "stay_minutes": slots.stay_minutes, "covered": slots.covered}
        return {k: v for k, v in values.items() if v is not None and k not in self.slots}

    def _answer_confirmation(self, text: str, found: dict) -> Turn:
        yes_no = confirm(text)
        if yes_no:
            confirmed, self.pending = self.pending, None
            self.slots.update(confirmed)
            if "plate" in confirmed:
                stop = self._check_plate()
                if stop is not None:
                    return stop
            extra = {k: v for k, v in found.items() if k not in self.slots}
            return self._propose(extra) if extra else self._next()
        corrected = {k: v for k, v in found.items() if self.pending.get(k) != v}
        if corrected:  # "no, es AB 123 CE": propose the correction, keeping what it did not change
            values = {**self.pending, **corrected}
            return self._fail(*self._proposal(values), then_pending=values)
        if yes_no is None:  # keep the proposal and ask again
            text, speech = self._proposal(self.pending)
            return self._fail(text + " Decí sí o no.", speech + " Decí sí o no.", then_pending=self.pending)
        self.pending = None
        return self._fail(f"Perdón. {QUESTIONS[self.asking]} {HINTS[self.asking]}")

    def _proposal(self, values: dict) -> tuple[str, str]:
        now = self.clock()
        shown = ", ".join(describe(k, v, now) for k, v in values.items())
        said = ", ".join(describe(k, v, now, spoken=True) for k, v in values.items())
        return f"Entendí {shown}. ¿Es correcto?", f"Entendí {said}. ¿Es correcto?"

    def _propose(self, values: dict) -> Turn:
        self.pending = values
        return Turn(*self._proposal(values))

    def _fail(self, text: str, speech: str | None = None, then_pending: dict | None = None) -> Turn:
        """One more failure of the current question: ask again, or hand over after `max_failures`."""
        self.failures += 1
        if self.failures >= self.max_failures:
            return self._staff("No te pude entender.")
        self.pending = then_pending
        return Turn(text, speech or text)

    def _check_plate(self) -> Turn | None:
        """Right after the plate is confirmed: refuse a car already inside, and use a reservation."""
        plate = self.slots["plate"]
        if self.parking.inside(plate) is not None:
            return self._staff(f"La patente {format_plate(plate)} ya figura adentro del estacionamiento.")
        res = self.parking.reservation(plate, self.clock())
        if res is not None:
            self.slots.setdefault("stay_minutes", None)  # the reservation's end time decides
            self.slots.setdefault("covered", res.covered)
        return None

    def _next(self) -> Turn:
        self.failures = 0
        for slot in SLOTS:
            if slot not in self.slots:
                self.asking = slot
                return Turn(QUESTIONS[slot], QUESTIONS[slot])
        return self._assign(self.slots.get("covered"))

    def _assign(self, covered: bool | None) -> Turn:
        now = self.clock()
        try:
            entry = self.parking.assign_spot(self.slots["plate"], self.slots.get("stay_minutes"), covered, now)
        except lote.NoSpot as e:
            if e.other_kind_free:
                self.asking, self.failures = "other_kind", 0
                other = "descubierto" if covered else "techado"
                q = f"No quedan lugares {'techados' if covered else 'descubiertos'}. ¿Te sirve uno {other}?"
                return Turn(q, q)
            return self._staff("El estacionamiento está completo.")
        except lote.ParkingError as e:  # the plate came in through another kiosk meanwhile
            return self._staff(str(e)[0].upper() + str(e)[1:])
        ticket = {"plate": entry.plate, "stay_minutes": entry.stay_minutes, "covered": entry.covered,
                  "spot": entry.spot, "arrival": entry.arrival.isoformat(),
                  "expected_exit": entry.expected_exit.isoformat(), "entry_id": entry.id}
        kind = "techado" if entry.covered else "descubierto"
        done = "Listo, usamos tu reserva." if entry.reservation_id else "Listo."
        exit_at = format_exit(entry.arrival, entry.expected_exit)
        text = (f"{done} Patente {format_plate(entry.plate)}: tu lugar es el {entry.spot} ({kind}). "
                f"Salida estimada: {exit_at}. ¡Gracias!")
        speech = f"{done} Tu lugar es el {spell_spot(entry.spot)}, {kind}. Salida estimada: {exit_at}. ¡Gracias!"
        self.finished = Turn(text, speech, done=True, ticket=ticket)
        return self.finished

    def _answer_other_kind(self, text: str) -> Turn:
        yes_no = confirm(text)
        if yes_no:
            wanted = self.slots.get("covered")
            return self._assign(None if wanted is None else not wanted)
        if yes_no is False:
            return self._staff("No hay un lugar como el que buscás.")
        return self._fail("No te entendí. Decí sí o no.")

    def _staff(self, reason: str) -> Turn:
        text = f"{reason} Ya viene alguien del personal a ayudarte."
        self.finished = Turn(text, text, done=True, ticket={"staff": True, "reason": reason})
        return self.finished


# --- how values are shown and spoken ---------------------------------------------------------------


def format_plate(plate: str) -> str:
    """AB123CD -> "AB 123 CD": letter and digit blocks apart, as printed on the plate."""
    return " ".join(m.group(0) for m in re.finditer(r"[A-Z]+|\d+", plate))


def spell_plate(plate: str) -> str:
    """AB123CD -> "a be larga, uno dos tres, ce de": what the synthesizer says (it reads "AB" as a word)."""
    digits = "cero uno dos tres cuatro cinco seis siete ocho nueve".split()
    blocks = re.finditer(r"[A-Z]+|\d+", plate)
    return ", ".join(" ".join(clear_name(c) if c.isalpha() else digits[int(c)] for c in b.group(0))
                     for b in blocks)


def spell_spot(spot: str) -> str:
    return spell_plate(spot[0]) + " " + str(int(spot[1:]))


def format_stay(minutes: int) -> str:
    if minutes % 1440 == 0:
        n = minutes // 1440
        return "1 día" if n == 1 else f"{n} días"
    h, m = divmod(minutes, 60)
    if not h:
        return f"{m} minutos"
    hours = "1 hora" if h == 1 else f"{h} horas"
    return hours + {0: "", 15: " y cuarto", 30: " y media"}.get(m, f" y {m} minutos")


def format_exit(arrival: datetime.datetime, exit_at: datetime.datetime) -> str:
    return f"{exit_at:%H:%M}" if exit_at.date() == arrival.date() else f"el {exit_at:%d/%m} a las {exit_at:%H:%M}"


def describe(slot: str, value, now: datetime.datetime, spoken: bool = False) -> str:
    if slot == "plate":
        return spell_plate(value) if spoken else format_plate(value)
    if slot == "stay_minutes":
        if spoken or value >= 1440:
            return format_stay(value)
        return f"{format_stay(value)} (hasta las {now + datetime.timedelta(minutes=value):%H:%M})"
    return "lugar techado" if value else "lugar descubierto"
