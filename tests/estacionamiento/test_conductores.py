"""The simulated drivers on text: how they read the kiosk's prompts, that they answer truthfully, and that
a driver heard perfectly gets its exact ticket from the real dialogue and a real SQLite lot."""

import io
import random

import pytest
import soundfile as sf

from estacionamiento import dialogo, lote
from estacionamiento import simulacion as sim


@pytest.mark.parametrize("text, kind, proposal", [
    ("¡Hola! Bienvenido al estacionamiento. ¿Cuál es la patente del auto?", "plate", {}),
    ("No te entendí. ¿Cuál es la patente del auto? Decímela letra por letra y número por número, por ejemplo: "
     "a, be larga, uno dos tres, ce, de.", "plate", {}),
    ("Perdón. ¿Cuánto tiempo te vas a quedar? Por ejemplo: dos horas, media hora o hasta las seis de la tarde.",
     "stay_minutes", {}),
    ("¿Preferís un lugar techado?", "covered", {}),
    ("Entendí AB 123 CD, 2 horas (hasta las 15:30), lugar techado. ¿Es correcto?", "confirm",
     {"plate": "AB123CD", "stay_minutes": 120, "covered": True}),
    ("Entendí 1 hora y 45 minutos (hasta las 14:51). ¿Es correcto? Decí sí o no.", "confirm", {"stay_minutes": 105}),
    ("Entendí lugar descubierto. ¿Es correcto?", "confirm", {"covered": False}),
    # what the dialogue is about to ask: a next candidate, the letters or the numbers alone
    ("¿Entonces es AB 123 CE?", "confirm", {"plate": "AB123CE"}),
    ("No, perdón. ¿Entonces es la AC 165 JI?", "confirm", {"plate": "AC165JI"}),
    ("Decime solo las letras de la patente, despacio.", "letters", {}),
    ("Ahora decime solo los números.", "digits", {}),
    ("¿Las letras son A C?", "confirm", {"letters": "AC"}),
    ("¿Los números son 1 6 5?", "confirm", {"digits": "165"}),
    ("No quedan lugares techados. ¿Te sirve uno descubierto?", "other_kind", {}),
    ("Mirá vos.", "unknown", {}),
])
def test_the_driver_reads_what_the_kiosk_asks(text, kind, proposal):
    assert sim.read_prompt(text) == sim.Prompt(kind, proposal)


def converse(driver, dialogue, hear=lambda text, n: text, max_turns=sim.MAX_TURNS):
    turn, turns = dialogue.start(), []
    while not turn.done and len(turns) < max_turns:
        reply = driver.reply(turn.text)
        turns.append((turn.text, reply))
        turn = dialogue.answer(hear(reply.written, len(turns)))
    return turn, turns


@pytest.fixture
def parking(tmp_path):
    p = lote.Parking(tmp_path / "lote.db")
    p.create_spots(120, covered=60)
    return p


def test_drivers_heard_perfectly_get_their_exact_ticket(parking):
    """Every held-out phrasing the drivers use is one the dialogue understands on text: what the simulator
    measures is the speech model, not the driver."""
    drivers = sim.make_drivers(40, seed=7, voices=["es-419+f3"])
    assert len({d.truth.plate for d in drivers}) == 40
    turns_per_session = []
    for driver in drivers:
        turn, turns = converse(driver, dialogo.Dialogue(parking))
        assert sim.judge(driver.truth, {"listo": turn.done, "ticket": turn.ticket}) == "exacto", turns
        assert all(r.intent != "no" for _, r in turns), turns  # nothing was proposed wrong, so nothing denied
        assert driver.plate_proposals[0] == (driver.truth.plate, True)
        turns_per_session.append(len(turns))
    assert max(turns_per_session) <= 6
    rows = {e.plate: (e.stay_minutes, e.covered) for e in parking.entries()}
    assert {d.truth.plate for d in drivers} == set(rows)


def test_drivers_told_to_follow_the_hint_spell_the_plate_alone_slowly_from_the_first_answer(parking):
    drivers = sim.make_drivers(20, seed=7, voices=["es-419+f3"], hint_first=True)
    assert [d.truth for d in drivers] == [d.truth for d in sim.make_drivers(20, seed=7, voices=["es-419+f3"])]
    for driver in drivers:
        turn, turns = converse(driver, dialogo.Dialogue(parking))
        first = turns[0][1]
        assert (first.intent, first.slow) == ("plate", True), first
        assert first.said.count(",") >= len(driver.truth.plate) - 1, first.said  # symbol by symbol
        assert sim.judge(driver.truth, {"listo": turn.done, "ticket": turn.ticket}) == "exacto", turns


def test_a_wrong_proposal_gets_a_no_and_the_driver_still_gets_its_ticket(parking):
    """The first answer reaches the dialogue with the plate's first letter changed: the driver denies it
    (with or without the correction), and says the plate again until it is right."""
    for index, driver in enumerate(sim.make_drivers(12, seed=3, voices=["es+m1"])):
        plate = dialogo.format_plate(driver.truth.plate)
        k = next(i for i, c in enumerate(plate) if c.isalpha())
        wrong = plate[:k] + ("Q" if plate[k] != "Q" else "W") + plate[k + 1:]

        def hear(text, n, plate=plate, wrong=wrong):
            return text.replace(plate, wrong) if n == 1 else text

        turn, turns = converse(driver, dialogo.Dialogue(parking), hear)
        assert turn.ticket.get("plate") == driver.truth.plate, (index, turns)
        said_to_wrong = [r for text, r in turns if wrong in text and "correcto" in text]
        assert said_to_wrong and all(r.intent in ("no", "correction") for r in said_to_wrong), turns
        assert driver.plate_proposals[0] == (wrong.replace(" ", ""), False)
        assert any(right for _, right in driver.plate_proposals[:2])


def test_confirmations_are_truthful_and_corrections_carry_the_truth():
    driver = sim.Driver(0, seed=11, voice="es-419+f3")
    plate = dialogo.format_plate(driver.truth.plate)
    assert driver.reply(f"Entendí {plate}. ¿Es correcto?").intent == "yes"
    assert driver.reply(f"Entendí {plate}. ¿Es correcto? Decí sí o no.") == sim.Reply("Sí.", "Sí.", "yes", slow=True)
    assert driver.plate_proposals == [(driver.truth.plate, True)]  # asked again, not proposed again
    wrong_stay = driver.truth.stay_minutes + 15
    replies = [driver.reply(f"Entendí {plate}, {dialogo.format_stay(wrong_stay)}. ¿Es correcto?") for _ in range(20)]
    assert {r.intent for r in replies} == {"no", "correction"}
    for r in replies:
        if r.intent == "correction":
            assert r.written.startswith("No") and dialogo.extract(r.written).stay_minutes == driver.truth.stay_minutes
    letters = "".join(b for b in sim.plate_blocks(driver.truth.plate) if b.isalpha())
    assert driver.reply("Decime solo las letras.").written.rstrip(".").replace(" ", "") == letters
    assert driver.reply(f"¿Las letras son {' '.join(letters)}?").intent == "yes"


def test_the_same_seed_gives_the_same_drivers_and_another_seed_others():
    a = sim.make_drivers(5, seed=1, voices=sim.default_voices())
    b = sim.make_drivers(5, seed=1, voices=sim.default_voices())
    c = sim.make_drivers(5, seed=2, voices=sim.default_voices())
    assert [(d.truth, d.voice) for d in a] == [(d.truth, d.voice) for d in b]
    assert [d.truth for d in a] != [d.truth for d in c]


@pytest.mark.voz
def test_a_reply_is_the_same_wav_every_time_and_slower_when_asked_again():
    driver = sim.Driver(0, seed=5, voice="es-419+m6")
    speak = sim.Speaker()
    first = driver.reply("¿Cuál es la patente del auto?")
    again = driver.reply("No te entendí. ¿Cuál es la patente del auto?")
    wav = speak(first, driver, 0)
    assert wav == speak(first, driver, 0)
    audio, rate = sf.read(io.BytesIO(wav))
    assert rate == 16000 and audio.ndim == 1 and len(audio) > rate
    assert again.slow and not first.slow
    seconds_per_char = [len(sf.read(io.BytesIO(speak(r, driver, 1)))[0]) / len(r.said) for r in (first, again)]
    assert seconds_per_char[1] > seconds_per_char[0]


def test_summary_counts_every_session_once():
    rng = random.Random(0)
    sessions = []
    for i, outcome in enumerate(["exacto", "personal", "equivocado", "exacto", "inconcluso"]):
        turns = [{"espera_s": rng.uniform(0.1, 2.0)} for _ in range(i + 2)]
        sessions.append(sim.Session(i, "es", {}, outcome, None, turns, [("AB123CD", i % 2 == 0)]))
    s = sim.summarize(sessions)
    assert (s["exacto"], s["personal"], s["equivocado"], s["inconcluso"]) == (2, 1, 1, 1)
    assert s["patente_primera"] == 3 and s["turnos_mediana"] == 4 and s["turnos"] == 20
    assert 0.1 <= s["espera_p50_s"] <= s["espera_p95_s"] <= 2.0
    table = sim.format_table([{"modelo": "base", "motor": "openai", "resumen": s}])
    assert "2/5 (40%)" in table and "ticket exacto" in table


def test_the_answers_to_the_hint_are_judged_by_the_next_proposal():
    hint = "Perdón. ¿Cuál es la patente del auto? " + dialogo.HINTS["plate"]
    turns = [{"pregunta": "¡Hola! ¿Cuál es la patente del auto?", "intencion": "plate", "despacio": False},
             {"pregunta": "Entendí AB 123 CE. ¿Es correcto?", "intencion": "no"},
             {"pregunta": hint, "intencion": "plate", "despacio": True},
             {"pregunta": "Entendí AB 123 CD. ¿Es correcto?", "intencion": "yes"},
             {"pregunta": "¿Cuánto tiempo te vas a quedar?", "intencion": "stay_minutes"},
             {"pregunta": "No te entendí. ¿Cuánto tiempo te vas a quedar? " + dialogo.HINTS["stay_minutes"],
              "intencion": "stay_minutes"}]
    right = sim.Session(0, "es", {"plate": "AB123CD"}, "exacto", None, turns, [])
    assert sim.hint_answers(right) == [True]
    wrong = sim.Session(1, "es", {"plate": "AB123CD"}, "personal", None,
                        turns[:3] + [{"pregunta": "Entendí AB 123 CB. ¿Es correcto?", "intencion": "no"}, turns[2]], [])
    assert sim.hint_answers(wrong) == [False, False]  # the last one: the session ended before a proposal
    s = sim.summarize([right, wrong])
    assert (s["pista_bien"], s["pista_respuestas"]) == (1, 3)
    assert "1/3 (33%)" in sim.format_table([{"modelo": "base", "motor": "ct2", "resumen": s}])
