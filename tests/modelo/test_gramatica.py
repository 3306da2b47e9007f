"""gramatica.py: a spelled plate that fits no shape is decoded again under the shapes, with a real Whisper."""

import re

import pytest
import torch
import whisper

from conftest import espeak
from modelo import decodificacion, gramatica
from modelo.audio import load_audio, log_mel
from texto.extraccion import extract
from texto.letras import PLATE_SHAPES

VALID = re.compile(r"[A-Z]{2}\d{3}[A-Z]{2}|[A-Z]{3}\d{3}|[A-Z]\d{3}[A-Z]{3}|\d{3}[A-Z]{3}")


def test_plate_attempts_are_mixed_runs_of_spelled_symbols_with_no_valid_shape():
    text = "la patente sería P P 2 9 7, listo"
    assert [text[a:b] for a, b in gramatica.plate_attempts(text)] == ["P P 2 9 7"]
    assert gramatica.plate_attempts("es G 21 3 H K I D y después") != []  # two-digit tokens still count
    for fine in ["A B 1 2 3 C D", "P 9 3 4 Q L D", "hasta las 22 30", "A ver, 2 horas", "COVID 19 y DNI 30 123 456",
                 "las letras A B C D", "una hora y media"]:
        assert gramatica.plate_attempts(fine) == [], fine
    two = "P 9 3 4 Q L D, P 9 3 4 Q L D V, y M Q F 4 3"
    assert [two[a:b] for a, b in gramatica.plate_attempts(two)] == ["P 9 3 4 Q L D V", "M Q F 4 3"]


def test_repair_goes_left_to_right_with_the_text_around_each_attempt():
    calls = []

    def decode(before, after, inside):
        calls.append((before, after, inside))
        return "X Y Z 1 1 1"

    text = gramatica.repair_plates("es P P 2 9 7, no, P P E 2 9 7 7, listo", decode)
    assert text == "es X Y Z 1 1 1, no, X Y Z 1 1 1, listo"
    assert calls == [("es", ", no, P P E 2 9 7 7, listo", []), ("es X Y Z 1 1 1, no,", ", listo", ["P P E 2 9 7"])]
    assert gramatica.repair_plates("es A B 1 2 3 C D, listo", decode) == "es A B 1 2 3 C D, listo"  # valid: untouched


def test_the_valid_plates_a_run_already_holds():
    # the model's scores pick among them; "8 0 6 L N T" is part of a longer one
    assert gramatica.plates_inside("A A E F 8 0 6 L N T") == ["A E F 8 0 6", "E F 8 0 6 L N", "F 8 0 6 L N T"]
    assert gramatica.plates_inside("G 21 3 H K I D") == ["G 2 1 3 H K I"]
    assert gramatica.plates_inside("P P 2 9 7") == [] and gramatica.plates_inside("M Q F 4 3") == []


@pytest.mark.base
def test_the_grammar_allows_only_what_keeps_some_shape(base_model):
    tokenizer = decodificacion.get_tokenizer(base_model, "es")
    grammar = gramatica.PlateGrammar(tokenizer, sample_begin=3)
    assert grammar.allowed("") == ["D", "L"] and grammar.allowed("L") == ["D", "L"]
    assert grammar.allowed("LLL") == ["D"] and grammar.allowed("LLDDD") == ["L"] and grammar.allowed("DDDLLL") == ["eot"]
    assert all(grammar.allowed(shape) == ["eot"] for shape in PLATE_SHAPES)
    a, b, seven = (tokenizer.encode(" " + c)[0] for c in "AB7")
    tokens = torch.tensor([[1, 2, 3, a, b], [1, 2, 3, seven, seven]])  # "A B" so far, and "7 7"
    logits = torch.zeros(2, base_model.dims.n_vocab)
    grammar.apply(logits, tokens)
    open_ = [{tokenizer.decode([t]).strip() for t in row.isfinite().nonzero().flatten().tolist()} for row in logits]
    assert open_[0] == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")  # AA999AA or AAA999 go on
    assert open_[1] == set("0123456789")  # 999AAA: a third digit


@pytest.mark.base
@pytest.mark.voz
def test_a_real_model_under_the_grammar_gives_a_valid_plate_and_leaves_the_rest(base_model, tmp_path):
    """Base writes spelled letters as words; under the grammar it must still pick symbols of a valid shape."""
    wav = espeak("la patente es pe pe e dos nueve siete, listo", tmp_path / "patente.wav", voice="es-419")
    mel = log_mel(load_audio(wav), base_model.dims.n_mels)[None]
    audio = base_model.encoder(mel)
    options = whisper.DecodingOptions(language="es", without_timestamps=True, fp16=False)
    plate = decodificacion.decode_plate(base_model, audio, options, "La patente es", ", listo.")
    assert VALID.fullmatch(plate.replace(" ", "")), plate
    assert all(len(symbol) == 1 for symbol in plate.split())  # one token per symbol, as training spells them
    repaired = gramatica.repair_plates("La patente es P P 2 9 7, listo.",
                                       lambda *args: decodificacion.decode_plate(base_model, audio, options, *args))
    assert repaired.startswith("La patente es ") and repaired.endswith(", listo.")
    assert extract(repaired).plate == plate.replace(" ", "")


@pytest.mark.base
def test_the_ranker_prefers_the_plate_that_leaves_the_next_words_be(base_model):
    tokenizer = decodificacion.get_tokenizer(base_model, "es")
    grammar = gramatica.PlateGrammar(tokenizer, sample_begin=0)
    spelled = [torch.tensor(tokenizer.encode(" " + " ".join(p))) for p in ("PP297LI", "PPE297", "PPE29")]
    scores = {7: -11.0, 6: -6.0, 5: -1.1}  # the 7-symbol one swallows "listo"; the 5-symbol one is no shape
    ranker = gramatica.PlateRanker(grammar, lambda plate: scores[len(plate)])
    assert ranker.rank([spelled], [[-2.0, -5.0, -0.1]]) == [1] and ranker.best_scores == [-6.0]


def test_readings_with_the_letter_the_word_before_the_plate_swallowed():
    readings = gramatica.hidden_letter_readings
    assert "después escribí A F 7 2 0 X U." in readings("después escribía F 7 2 0 X U.")
    assert "patente, T Y 1 2 5 Y T dale" in readings("patente, Y 1 2 5 Y T dale")
    assert readings("la patente, hace 1 3 2 X O.") == ["la patente, A C 1 3 2 X O."]
    assert readings("No, lo correcto es A 3 4 8 D G.") == ["No, lo correcto es A A 3 4 8 D G."]
    # only readings of a valid shape: AA999AA and AAA999 take no letter before them
    assert readings("es A B 1 2 3 C D") == [] and readings("es A B C 1 2 3") == []
    assert readings("voy a estar 2 horas") == [] and readings("hasta las 22 30") == []


@pytest.mark.base
@pytest.mark.voz
def test_the_model_takes_the_reading_with_the_swallowed_letter_only_when_the_audio_says_it(base_model, tmp_path):
    options = whisper.DecodingOptions(language="es", without_timestamps=True, fp16=False)
    cases = [("escribí a efe siete dos cero equis u", "Escribía F 7 2 0 X U.", "Escribí A F 7 2 0 X U."),
             ("patente te i griega uno dos cinco i griega te", "Patente, Y 1 2 5 Y T.", "Patente, T Y 1 2 5 Y T."),
             ("escribí nueve cuatro tres u pe hache", "Escribí 9 4 3 U P H.", "Escribí 9 4 3 U P H."),
             ("patente nueve cuatro tres u pe hache", "Patente 9 4 3 U P H.", "Patente 9 4 3 U P H.")]
    assert all(gramatica.hidden_letter_readings(decoded) for _, decoded, _ in cases)  # each has readings to weigh
    for k, (said, decoded, expected) in enumerate(cases):
        wav = espeak(said, tmp_path / f"{k}.wav", voice="es-419")
        audio = base_model.encoder(log_mel(load_audio(wav), base_model.dims.n_mels)[None])
        assert decodificacion.hidden_letters(base_model, audio, options, decoded, decoded) == expected, said
