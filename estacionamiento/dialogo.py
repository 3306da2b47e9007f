"""The entry dialogue as a state machine driven one answer at a time (text in, next prompt out).

The CLI, the microphone mode and the web kiosk all drive the same `Dialogue`: they only differ in
how the answer becomes text and how the prompt is shown or spoken. No torch here, so the logic is
tested on text in milliseconds.

Flow: greeting -> plate -> "Entendí AB 123 CD, ¿es correcto?" -> (reservation? use it) -> stay ->
covered -> spot assigned in the database -> ticket. Anything the driver says is extracted whole, so an
answer that gives several slots fills them all and skips those questions; each extracted value is
confirmed. A "no", or an answer with nothing usable, counts as a failure of the current question;
after `max_failures` the dialogue hands over to the staff.

What it heard is kept, not thrown away on a "no": every answer may be an n-best list (texto/hipotesis.py),
and the plates and stays in it are evidence weighed by exp(score). A plate is fused per position over
all the answers to the question (`plate_candidates`); on "no" the next candidate is offered once
("¿Entonces es AB 123 CB?"; for covered, the other kind) before asking again, and a rejected value is not
proposed again unless the best readings of INSIST later answers name it (a "sí" misheard as a "no"). After
`SPELL_AFTER` failed rounds the plate is asked in parts, letters then digits. Every value still waits for
the driver's "sí" before the ticket. An unclear confirmation is asked again with "Decí sí o no"; then the
engine also scores a bare "Sí." and "No." (hipotesis.YES_NO), which decide when nothing decoded reads as either.
"""

from __future__ import annotations

import datetime
import heapq
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from estacionamiento import lote
from texto.extraccion import confirm, extract, indifferent, spelled
from texto.hipotesis import CONFIRM, YES_NO, Hypothesis, best_text, decoded
from texto.letras import SHAPES, clear_name

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
FUSED = ("plate", "stay_minutes")  # slots whose misheard values are kept as evidence and offered again
DOUBTED = 0.3  # weight left to readings whose proposal, with other values, got a "no"
# A hypothesis scoring this much below the best (mean log-prob per token) is no evidence of a value: held to
# the plate grammar, openai's beam makes "VEA 434" (-4.2) of a "Buenas tardes" it wrote as "¡WEAS-R-F!" (-1.6),
# and "MEK 444" (-1.9) of "Me quedo…" (-0.8), while two real readings of one plate differ by hundredths.
LOWER_MARGIN = 1.0
# Within one answer, hypotheses weigh as their probabilities: a score is a mean per token, so a difference
# times a typical answer's length (~10 tokens) is their log-ratio. Weighed by exp(score) alone, the beam's near
# misses outvoted its best: "Patente TI 559 UT" on top, "UK", "UG" and "KI…UK" below, proposed TI 559 UK.
ANSWER_TOKENS = 10
# A refused plate or stay that the best reading of this many later answers names again is offered once more:
# a "Correcto" heard "No me gusta" ruled the true plate out, and the driver's next two answers, heard exactly
# ("KQ 975 KC", then "No, lo correcto es KQ 975 KC"), could not bring it back. One answer is not enough: the
# model may hear the same wrong plate twice, and the driver just refused it.
INSIST = 2
SPELL_AFTER = 2  # failed rounds of the plate question before it is asked letters first, then digits
SPELLING = {  # the plate in parts: the prompt, the hint after an answer without them, the lengths a plate has
    "letters": ("Decime solo las letras de la patente, una por una.",
                "Por ejemplo: a, be larga, ce, de.", (3, 4)),
    "digits": ("Ahora decime solo los números de la patente.", "Por ejemplo: uno, dos, tres.", (3,)),
}
SPELLED_WEIGHT = 3.0  # an answer spelled in parts, after two misheard plates, outweighs each whole one
# After "Decí sí o no", when nothing decoded reads as yes or no, the engine's forced "Sí."/"No." decide if one
# scores this much above the other (mean log-prob per token). Measured on 40 simulated drivers in the held-out
# voices (demo's model, CTranslate2): of their 80 slow bare "Sí."/"No.", 10 decoded as neither ("P.", "¿Así?",
# "Ya."); the forced pair had all 80 the right way round, 0.8-5.7 apart. Other phrasings, which the driver was
# not told to use, come as close on the wrong side ("Tal cual" heard "Tau cuau": "No." by 0.5; at most 0.8).
FORCED_MARGIN = 1.0


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
    heard: dict = field(default_factory=dict)  # slot -> [(value, weight)]: every reading, for slots not confirmed
    rejected: dict = field(default_factory=dict)  # slot -> values the driver said "no" to: not proposed again
    rounds: dict = field(default_factory=dict)  # slot -> failed rounds of its question
    offered: bool = False  # the pending value is the round's second candidate: a "no" ends the round
    spelling: str | None = None  # "letters" or "digits" while the plate is asked in parts
    parts: dict = field(default_factory=dict)  # "letters"/"digits" -> [(text, weight)] heard in parts
    doubted: dict = field(default_factory=dict)  # slot -> values refused along with others: proposed last
    latest: dict = field(default_factory=dict)  # slot -> the value the last answer with one said
    bare: bool = False  # the last prompt asked "Decí sí o no": the answer should be just that
    insisted: dict = field(default_factory=dict)  # (slot, refused value) -> later answers whose best reading said it

    @property
    def question(self) -> str | None:
        """What the driver is answering now, for the engine (texto/hipotesis.py's names): a slot, CONFIRM
        while a value waits for "¿es correcto?", or None when no question name fits (the plate's letters or
        digits alone, which a plate-shaped decoding would spoil; or the dialogue is over)."""
        if self.finished is not None or self.spelling is not None:
            return None
        if self.pending is not None or self.asking == "other_kind":
            return YES_NO if self.bare else CONFIRM
        return self.asking

    # --- the interface ---------------------------------------------------------------------------

    def start(self) -> Turn:
        q = QUESTIONS["plate"]
        return Turn(f"¡Hola! Bienvenido al estacionamiento. {q}", f"¡Hola! Bienvenido al estacionamiento. {q}")

    def answer(self, heard: str | list[Hypothesis]) -> Turn:
        """The driver's answer, transcribed (a text, or the engine's n-best list, best first) -> the next
        prompt, or the final turn with the ticket. Yes/no and corrections are read from the best text (a yes/no
        from a lower one when the best says neither); the plate and stay of every hypothesis count as evidence."""
        if self.finished is not None:
            return self.finished
        hypotheses = [Hypothesis(heard or "", 0.0)] if heard is None or isinstance(heard, str) else list(heard)
        forced, hypotheses = [h for h in hypotheses if h.forced], decoded(hypotheses)
        bare, self.bare = self.bare, False
        text = best_text(hypotheses).strip()
        if self.asking == "other_kind":
            return self._answer_other_kind(told_yes_no(text, forced) if bare else text, bare)
        arrival = self.clock().time()
        near = [h for h in hypotheses if h.score >= hypotheses[0].score - LOWER_MARGIN] if hypotheses else []
        top = max((h.score for h in near), default=0.0)
        readings = [(extract(h.text, arrival), math.exp(min(top, 0.0) + ANSWER_TOKENS * (h.score - top)))
                    for h in near] or [(extract(""), 1.0)]
        found = self._new_values(readings[0][0])
        self._said_again(found)
        if self.pending is not None:
            if confirm(text) is None and not found:  # "Sí." heard as "C.": a lower hypothesis may say it plainly.
                # Only a yes: a "no" rules the value out for good, so it must be what was heard best ("Correcto"
                # came out "Tiene que estar", a "No" lower down, and the true plate was never offered again).
                text = next((h.text for h in hypotheses[1:] if confirm(h.text)), text)
                if bare:
                    text = told_yes_no(text, forced)
            return self._answer_confirmation(text, found, readings[0][1], bare)
        if self.spelling is not None:  # the part asked for first: "a be ce de, uno dos tres" is no plate BCD 123
            turn = self._answer_spelling(near, [w for _, w in readings])
            if turn is not None or "plate" not in found:
                return turn or self._fail("No te entendí. {} {}".format(*SPELLING[self.spelling][:2]))
        if self.asking == "covered" and "covered" not in found:
            yes_no = confirm(text)
            if yes_no is not None or indifferent(text):  # an answer too
                self.slots["covered"] = yes_no  # a direct yes/no needs no "¿es correcto?" of its own
                return self._next()
        if self.asking in FUSED and self.asking not in found:  # heard only in a lower hypothesis: still evidence
            lower = [v for r, _ in readings if (v := self._new_values(r).get(self.asking)) is not None]
            if lower:
                found[self.asking] = lower[0]
        if found:
            return self._propose_heard(found, readings)
        return self._round_failed("No te entendí.")

    # --- steps -----------------------------------------------------------------------------------

    def _new_values(self, slots) -> dict:
        """Extracted values for slots not confirmed yet."""
        values = {"plate": slots.plate, "stay_minutes": slots.stay_minutes, "covered": slots.covered}
        return {k: v for k, v in values.items() if v is not None and k not in self.slots}

    def _said_again(self, found: dict) -> None:
        """A refused value named by the best reading of INSIST later answers is no longer ruled out (once)."""
        for slot in FUSED:
            value = found.get(slot)
            if value in self.rejected.get(slot, ()) and self.insisted.get((slot, value), 0) < INSIST:
                self.insisted[(slot, value)] = self.insisted.get((slot, value), 0) + 1
                if self.insisted[(slot, value)] == INSIST:
                    self.rejected[slot].discard(value)

    def _propose_heard(self, found: dict, readings: list) -> Turn:
        """A new answer with values: the fused best of everything heard for the plate and stay, the rest as
        heard; a slot whose every candidate was rejected is left out (asked again, or a failed round)."""
        self.spelling = None
        for slot in FUSED:
            if slot in found:
                self._observe(slot, [(getattr(r, slot), w) for r, w in readings if getattr(r, slot) is not None])
                self.latest[slot] = found[slot]
                fresh = self._candidates(slot)
                if fresh:
                    found[slot] = fresh[0]
                elif slot == self.asking:  # it heard again only what the driver refused
                    return self._round_failed("Perdón, no te entendí bien.")
                else:
                    del found[slot]
        if found.get("covered") in self.rejected.get("covered", ()):  # refused already: never proposed again
            del found["covered"]
            if self.asking == "covered":
                if len(self.rejected["covered"]) == 2:  # both refused: something was misheard, start over
                    del self.rejected["covered"]
                return self._round_failed("Perdón, no te entendí bien.")
        if not found:
            return self._round_failed("No te entendí.")
        self.offered = False
        return self._propose(found)

    def _answer_spelling(self, hypotheses: list[Hypothesis], weights: list[float]) -> Turn | None:
        """One part of the plate (the letters, then the digits); with both, their combinations are evidence.
        None when the answer holds no such part."""
        part = self.spelling
        sizes = SPELLING[part][2]
        got = [(value, w) for h, w in zip(hypotheses, weights, strict=False)  # no hypotheses: one stand-in weight
               if len(value := spelled(h.text)[part == "digits"]) in sizes]
        if not got:
            return None
        self.parts[part] = got
        if part == "letters":
            digits = [(value, w) for h, w in zip(hypotheses, weights, strict=False)
                      if len(value := spelled(h.text)[1]) == 3]
            if not digits:
                self.spelling = "digits"
                return Turn(SPELLING["digits"][0], SPELLING["digits"][0])
            self.parts["digits"] = digits  # the digits came along too: no need to ask for them
        self.spelling = None
        self._observe("plate", combine_parts(self.parts["letters"], self.parts["digits"], self.heard.get("plate", [])))
        fresh = self._candidates("plate")
        if not fresh:
            return self._round_failed("Perdón, no te entendí bien.")
        self.offered = False
        return self._propose({"plate": fresh[0]})

    def _observe(self, slot: str, values: list[tuple]) -> None:
        self.heard.setdefault(slot, []).extend(values)

    def _candidates(self, slot: str) -> list:
        """What was heard for `slot`, best first, without the values the driver rejected. A doubted value
        goes last unless the last answer said it again: the beam's near misses of a fresh answer ("TI 559 UK"
        under "TI 559 UT") plus the doubted reading would otherwise propose the refused plate once more."""
        rejected = self.rejected.get(slot, set())
        if slot == "covered":  # "no" to "lugar techado": then descubierto (which also serves a driver with no preference)
            return [v for v in (True, False) if v not in rejected]
        heard = self.heard.get(slot, [])
        ranked = plate_candidates(heard, rejected) if slot == "plate" else stay_candidates(heard, rejected)
        doubted = self.doubted.get(slot, set()) - {self.latest.get(slot)}
        ranked = [v for v in ranked if v not in rejected]
        return [v for v in ranked if v not in doubted] + [v for v in ranked if v in doubted]

    def _answer_confirmation(self, text: str, found: dict, weight: float, bare: bool = False) -> Turn:
        """The answer to "¿Es correcto?" (`bare`: to "Decí sí o no", the proposal repeated after an unclear one)."""
        yes_no = confirm(text)
        # "Uno lo correcto es BG 693 GH" reads as a yes ("correcto") but names another plate: never a yes then
        conflict = any(k in self.pending and self.pending[k] != v for k, v in found.items())
        if yes_no and not conflict:
            confirmed, self.pending = self.pending, None
            self.slots.update(confirmed)
            for slot in confirmed:
                self.heard.pop(slot, None)
            if "plate" in confirmed:
                stop = self._check_plate()
                if stop is not None:
                    return stop
            extra = {k: v for k, v in found.items() if k not in self.slots and v not in self.rejected.get(k, set())}
            return self._propose(extra) if extra else self._next()
        # "no, es AB 123 CE": the correction wins (unless it is a value already refused), keeping the rest
        corrected = {k: v for k, v in found.items()
                     if self.pending.get(k) != v and v not in self.rejected.get(k, set())}
        if corrected:
            for slot, value in corrected.items():
                if slot in self.pending:
                    self.rejected.setdefault(slot, set()).add(self.pending[slot])
                if slot in FUSED:
                    self._observe(slot, [(value, weight)])
                    self.latest[slot] = value
            values = {**self.pending, **corrected}
            self.offered = False
            return self._fail(*self._proposal(values), then_pending=values)
        if yes_no is None or yes_no:  # unclear, or a yes naming a value already refused: ask again
            text, speech = self._proposal(self.pending)
            return self._say_yes_or_no(text + " Decí sí o no.", speech + " Decí sí o no.", bare)
        refused, self.pending = self.pending, None
        if len(refused) > 1:  # which value was wrong is unknown: nothing is ruled out, only the extras forgotten
            for slot in refused:  # and what was heard for the asked slot is doubted: a fresh answer outweighs it
                if slot != self.asking:
                    self.heard.pop(slot, None)
                elif slot in self.heard:
                    self.heard[slot] = [(value, w * DOUBTED) for value, w in self.heard[slot]]
                    self.doubted.setdefault(slot, set()).add(refused[slot])
            return self._round_failed("Perdón.")
        [(slot, value)] = refused.items()
        self.rejected.setdefault(slot, set()).add(value)
        if (slot in FUSED or slot == "covered") and not self.offered:
            fresh = self._candidates(slot)
            if fresh:  # the next candidate, once per round, before asking again
                self.offered, self.pending = True, {slot: fresh[0]}
                now = self.clock()
                return Turn(f"¿Entonces es {describe(slot, fresh[0], now)}?",
                            f"¿Entonces es {describe(slot, fresh[0], now, spoken=True)}?")
        return self._round_failed("Perdón.")

    def _proposal(self, values: dict) -> tuple[str, str]:
        now = self.clock()
        shown = ", ".join(describe(k, v, now) for k, v in values.items())
        said = ", ".join(describe(k, v, now, spoken=True) for k, v in values.items())
        return f"Entendí {shown}. ¿Es correcto?", f"Entendí {said}. ¿Es correcto?"

    def _propose(self, values: dict) -> Turn:
        self.pending = values
        return Turn(*self._proposal(values))

    def _round_failed(self, reason: str) -> Turn:
        """The question asked got no value the driver accepted: ask it again (the plate in parts after
        SPELL_AFTER such rounds), or hand over after `max_failures`."""
        if self.asking in self.slots:  # the value refused was an extra one, after the asked slot was confirmed
            self.asking = next(slot for slot in SLOTS if slot not in self.slots)
        slot = self.asking
        self.rounds[slot] = self.rounds.get(slot, 0) + 1
        self.offered = False
        if slot == "plate" and self.rounds[slot] >= SPELL_AFTER:
            prompt = SPELLING["letters"][0]
            turn = self._fail(f"{reason} Vamos por partes. {prompt}")
            if not turn.done:
                self.spelling = "letters"
            return turn
        return self._fail(f"{reason} {QUESTIONS[slot]} {HINTS[slot]}")

    def _fail(self, text: str, speech: str | None = None, then_pending: dict | None = None) -> Turn:
        """One more failure of the current question: ask again, or hand over after `max_failures`."""
        self.failures += 1
        self.pending = then_pending
        if self.failures >= self.max_failures:
            self.pending = None
            return self._staff("No te pude entender.")
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
        self.failures, self.offered, self.spelling = 0, False, None
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

    def _answer_other_kind(self, text: str, bare: bool = False) -> Turn:
        yes_no = confirm(text)
        if yes_no:
            wanted = self.slots.get("covered")
            return self._assign(None if wanted is None else not wanted)
        if yes_no is False:
            return self._staff("No hay un lugar como el que buscás.")
        return self._say_yes_or_no("No te entendí. Decí sí o no.", "No te entendí. Decí sí o no.", bare)

    def _say_yes_or_no(self, text: str, speech: str, bare: bool) -> Turn:
        """Ask for just sí or no. The first time is no failure: the proposal may well be right ("Joya" heard "Hola"
        once handed the right plate to the staff); asked already (`bare`), it counts."""
        self.bare = True
        if not bare:
            return Turn(text, speech)
        return self._fail(text, speech, then_pending=self.pending)

    def _staff(self, reason: str) -> Turn:
        text = f"{reason} Ya viene alguien del personal a ayudarte."
        self.finished = Turn(text, text, done=True, ticket={"staff": True, "reason": reason})
        return self.finished


# --- what was heard, fused ------------------------------------------------------------------------


def told_yes_no(text: str, forced: list[Hypothesis]) -> str:
    """An answer to "Decí sí o no": a heard text that reads as neither gives way to the one of the engine's forced
    answers ("Sí."/"No.") that scores FORCED_MARGIN above the other, if any; nothing heard stays nothing."""
    if not text or confirm(text) is not None or len(forced) != 2:
        return text
    best, other = sorted(forced, key=lambda h: -h.score)
    return best.text if best.score - other.score >= FORCED_MARGIN else text


def _blocks(plate: str) -> tuple[str, str, str]:
    m = re.fullmatch(r"([A-Z]*)(\d{3})([A-Z]*)", plate)
    return m[1], m[2], m[3]


def plate_candidates(heard: list[tuple[str, float]], rejected=frozenset(), limit: int = 10) -> list[str]:
    """Plates fused from every reading (plate, weight), best first. Each shape's letters are weighed by
    position over the readings of that shape, the digits over all readings; a candidate's score is its
    shape's share times each position's share. Only characters some reading had at that position are
    used, so every candidate is a valid plate built of what was heard (and none is one in `rejected`)."""
    total = sum(w for _, w in heard)
    if not heard or total <= 0:
        return []
    shapes: dict[tuple[int, int], float] = {}
    whole: dict[str, float] = {}
    letters: dict[tuple, dict[str, float]] = {}
    digits: list[dict[str, float]] = [{}, {}, {}]
    for plate, w in heard:
        before, number, after = _blocks(plate)
        shape = (len(before), len(after))
        shapes[shape] = shapes.get(shape, 0.0) + w
        whole[plate] = whole.get(plate, 0.0) + w
        for i, c in enumerate(plate):
            column = digits[i - len(before)] if c.isdigit() else letters.setdefault((shape, i), {})
            column[c] = column.get(c, 0.0) + w
    ranked = []
    width = limit + len(rejected)
    for shape, weight in shapes.items():
        beam = [(math.log(weight / total), "")]
        for i in range(shape[0] + 3 + shape[1]):
            is_digit = shape[0] <= i < shape[0] + 3
            column, norm = (digits[i - shape[0]], total) if is_digit else (letters[(shape, i)], weight)
            beam = heapq.nlargest(width, ((score + math.log(w / norm), plate + c)
                                          for score, plate in beam for c, w in column.items()))
        ranked += [(-round(score, 9), -whole.get(plate, 0.0), SHAPES.index(shape), plate) for score, plate in beam]
    return [plate for *_, plate in sorted(ranked) if plate not in rejected][:limit]  # ties: a plate heard whole first


def stay_candidates(heard: list[tuple[int, float]], rejected=frozenset()) -> list[int]:
    """Stays by their summed weight, best first (the first heard on ties)."""
    weights: dict[int, float] = {}
    for value, w in heard:
        weights[value] = weights.get(value, 0.0) + w
    return [v for v in sorted(weights, key=lambda v: -weights[v]) if v not in rejected]


def combine_parts(letters: list[tuple[str, float]], digits: list[tuple[str, float]],
                  plates: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Plates from letters and digits heard apart, weighted as one spelled answer (SPELLED_WEIGHT in all).
    Four letters fit AA999AA or A999AAA, three AAA999 or 999AAA: the shapes the whole readings had decide,
    else the most common one."""
    seen: dict[tuple[int, int], float] = {}
    for plate, w in plates:
        before, _, after = _blocks(plate)
        seen[(len(before), len(after))] = seen.get((len(before), len(after)), 0.0) + w
    zl, zd = sum(w for _, w in letters) or 1.0, sum(w for _, w in digits) or 1.0
    out = []
    for text, wl in letters:
        fits = [shape for shape in SHAPES if sum(shape) == len(text)]
        prior = {shape: seen.get(shape, 0.0) + 0.1 * 0.5 ** k for k, shape in enumerate(fits)}
        for number, wd in digits:
            for shape in fits:
                share = prior[shape] / sum(prior.values())
                out.append((text[:shape[0]] + number + text[shape[0]:], SPELLED_WEIGHT * wl / zl * wd / zd * share))
    return out


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
