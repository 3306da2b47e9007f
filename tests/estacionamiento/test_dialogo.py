"""The entry dialogue on text, turn by turn, against a real SQLite lot (no model: milliseconds)."""

import datetime

import pytest

from estacionamiento import dialogo, lote

NOW = datetime.datetime(2025, 5, 2, 14, 0)


@pytest.fixture
def lot(tmp_path):
    parking = lote.Parking(tmp_path / "lote.db")
    parking.create_spots(4, covered=2)
    return parking


def talk(parking, answers, max_failures=3):
    """Runs a dialogue; returns the prompts shown (greeting first) and the final turn."""
    d = dialogo.Dialogue(parking, max_failures=max_failures, clock=lambda: NOW)
    prompts = [d.start().text]
    turn = None
    for answer in answers:
        assert turn is None or not turn.done, f"el diálogo terminó antes de la respuesta {answer!r}"
        turn = d.answer(answer)
        prompts.append(turn.text)
    return prompts, turn


def test_one_question_at_a_time_ends_with_a_ticket_and_a_row(lot):
    prompts, turn = talk(lot, ["la patente es AB 123 CD", "sí", "dos horas", "dale", "sí"])
    assert prompts[1] == "Entendí AB 123 CD. ¿Es correcto?"
    assert prompts[2] == "¿Cuánto tiempo te vas a quedar?"
    assert prompts[3] == "Entendí 2 horas (hasta las 16:00). ¿Es correcto?"
    assert prompts[4] == "¿Preferís un lugar techado?"
    assert turn.done and turn.ticket["plate"] == "AB123CD" and turn.ticket["stay_minutes"] == 120
    assert turn.ticket["covered"] is True and turn.ticket["spot"].startswith("T")
    [entry] = lot.entries()
    assert (entry.plate, entry.spot, entry.expected_exit) == ("AB123CD", turn.ticket["spot"], NOW.replace(hour=16))


def test_an_answer_with_every_slot_skips_the_questions(lot):
    prompts, turn = talk(lot, ["AC 456 DE, hasta las seis de la tarde, al aire libre", "sí, correcto"])
    assert prompts[1] == "Entendí AC 456 DE, 4 horas (hasta las 18:00), lugar descubierto. ¿Es correcto?"
    assert turn.ticket == {**turn.ticket, "plate": "AC456DE", "stay_minutes": 240, "covered": False}
    assert turn.ticket["spot"].startswith("D")


def test_no_with_a_correction_keeps_the_rest_of_the_proposal(lot):
    prompts, turn = talk(lot, ["AC 456 DE, tres horas, techado", "no, es AC 456 DF", "sí"])
    assert prompts[2] == "Entendí AC 456 DF, 3 horas (hasta las 17:00), lugar techado. ¿Es correcto?"
    assert (turn.ticket["plate"], turn.ticket["stay_minutes"], turn.ticket["covered"]) == ("AC456DF", 180, True)


def test_a_plain_no_asks_again_and_unclear_confirmation_keeps_the_proposal(lot):
    prompts, turn = talk(lot, ["AB 123 CD", "no", "AB 123 CE", "eh?", "sí", "media hora", "sí", "me da igual"])
    assert prompts[2].startswith("Perdón. ¿Cuál es la patente del auto?")
    assert prompts[4] == "Entendí AB 123 CE. ¿Es correcto? Decí sí o no."
    # no preference: an open spot, so covered ones stay free for drivers who ask for them
    assert turn.ticket["plate"] == "AB123CE" and turn.ticket["covered"] is False and turn.ticket["stay_minutes"] == 30


def test_after_max_failures_the_staff_takes_over_and_nothing_is_recorded(lot):
    prompts, turn = talk(lot, ["eh", "mmm", "¿qué?"], max_failures=3)
    assert prompts[1].startswith("No te entendí. ¿Cuál es la patente del auto?")
    assert turn.done and turn.ticket == {"staff": True, "reason": "No te pude entender."}
    assert "personal" in turn.text
    assert lot.entries() == []


def test_a_plate_already_inside_is_refused(lot):
    lot.assign_spot("AB123CD", 60, None, NOW)
    _, turn = talk(lot, ["AB 123 CD", "sí"])
    assert turn.ticket["staff"] is True and "ya figura adentro" in turn.ticket["reason"]
    assert len(lot.entries()) == 1


def test_a_reservation_gives_its_spot_and_end_without_more_questions(lot):
    res = lot.reserve("XYZ789", NOW.replace(hour=18, minute=30), covered=True, now=NOW)
    prompts, turn = talk(lot, ["equis i griega zeta siete ocho nueve", "sí"])
    assert prompts[1] == "Entendí XYZ 789. ¿Es correcto?"
    assert turn.text.startswith("Listo, usamos tu reserva.")
    assert (turn.ticket["spot"], turn.ticket["stay_minutes"], turn.ticket["covered"]) == (res.spot, 270, True)


def test_when_the_wanted_kind_is_full_it_offers_the_other(lot):
    lot.assign_spot("AAA111", 60, True, NOW)
    lot.assign_spot("AAA222", 60, True, NOW)
    prompts, turn = talk(lot, ["BB 222 BB, una hora, techado", "sí", "bueno, sí"])
    assert prompts[2] == "No quedan lugares techados. ¿Te sirve uno descubierto?"
    assert turn.ticket["covered"] is False and turn.ticket["spot"].startswith("D")


def test_a_full_lot_hands_over_to_the_staff(lot):
    for i in range(4):
        lot.assign_spot(f"AAA{i:03d}", 60, None, NOW)
    _, turn = talk(lot, ["BB 222 BB, una hora", "sí", "no"])
    assert turn.ticket == {"staff": True, "reason": "El estacionamiento está completo."}


def test_prompts_are_spoken_with_the_plate_spelled_out(lot):
    d = dialogo.Dialogue(lot, clock=lambda: NOW)
    d.start()
    turn = d.answer("AB 123 CD")
    assert turn.speech == "Entendí a be larga, uno dos tres, ce de. ¿Es correcto?"
    assert dialogo.format_stay(90) == "1 hora y media" and dialogo.format_stay(2880) == "2 días"
