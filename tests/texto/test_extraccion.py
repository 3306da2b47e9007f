"""Tests for extraccion.py: own phrasings, property tests, and the peer corpora as an outside check."""

import datetime as dt
import re
import subprocess
import sys
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, SHARED
from texto import extraccion, letras
from texto.extraccion import Slots, _tokenize, confirm, extract
from texto.letras import LETTER_NAMES
from texto.numeros import numeric_words as _numeric_words
from texto.numeros import parse_number

T14 = dt.time(14, 0)

# ----------------------------------------------------------------------------------------------
# Plate: (answer, expected plate). Digits, number words and messy ASR output; None = no plate.
# ----------------------------------------------------------------------------------------------
PLATE_CASES = [
    # Digits read one by one with commas are a list, not a decimal ("4,5" then "6").
    ("pdf 4,5,6", "PDF456"),
    ("AB 1,2,3 CD", "AB123CD"),
    # written digits and letters
    ("AB 123 CD", "AB123CD"),
    ("AB123CD", "AB123CD"),
    ("ab123cd", "AB123CD"),
    ("AB-123-CD", "AB123CD"),
    ("A.B. 123 C.D.", "AB123CD"),
    ("a b 1 2 3 c d", "AB123CD"),
    ("A, B, 1, 2, 3, C, D.", "AB123CD"),
    ("La patente es AB 123 CD.", "AB123CD"),
    ("Patente: AF 914 HH", "AF914HH"),
    ("ABC 123", "ABC123"),
    ("abc123", "ABC123"),
    ("Es la KJH 765.", "KJH765"),
    ("123 ABC", "123ABC"),
    ("la moto es 456 XYZ", "456XYZ"),
    ("A 123 BCD", "A123BCD"),
    ("a123bcd", "A123BCD"),
    ("AC456OI", "AC456OI"),
    ("AE 010 OO", "AE010OO"),
    ("IOQ 111", "IOQ111"),
    ("ZZ 999 ZZ", "ZZ999ZZ"),
    ("AA 000 AA", "AA000AA"),
    ("Eh, la patente es AG 345 KL, bueno", "AG345KL"),
    ("mi auto es el AD 202 FF", "AD202FF"),
    ("AB 1 2 3 CD", "AB123CD"),
    ("AB 12 3 CD", "AB123CD"),
    ("AB 1 23 CD", "AB123CD"),
    ("ab 2 20 cd", "AB220CD"),
    ("GHI 234 y me quedo dos horas", "GHI234"),
    ("ABC 123 4 horas", "ABC123"),
    ("KJH 765 45 minutos", "KJH765"),
    ("tengo un Gol, patente GHI 234", "GHI234"),
    ("un Peugeot 208, la patente es AF 123 BC", "AF123BC"),
    # letter names and number words
    ("a be ciento veintitrés ce de", "AB123CD"),
    ("Ah, be, ciento veintitrés, ce de", "AB123CD"),
    ("a be uno dos tres ce de", "AB123CD"),
    ("a be cuatro cincuenta ce de", "AB450CD"),
    ("a be doce tres ce de", "AB123CD"),
    ("a be uno veintidós ce de", "AB122CD"),
    ("a be cero cuarenta y cinco ce de", "AB045CD"),
    ("a be doble cero cuatro ce de", "AB004CD"),
    ("a be uno o dos ce de", "AB102CD"),
    ("efe ge cero cero siete hache i", "FG007HI"),
    ("jota ka ele setecientos ochenta y nueve", "JKL789"),
    ("eme ene o trescientos", "MNO300"),
    ("pe cu erre cuatro cinco seis", "PQR456"),
    ("ese te u novecientos noventa y nueve", "STU999"),
    ("ve doble ve equis ciento uno", "VWX101"),
    ("i griega zeta a doscientos dos", "YZA202"),
    ("y griega zeta a 202", "YZA202"),
    ("ye zeta a 202", "YZA202"),
    ("El pequito. Y griega 081 LFY.", "Y081LFY"),  # as the fine-tuned model wrote Kokoro's "i griega"
    ("Patente y latina 484 TGS", "I484TGS"),
    ("Y latina, 484, TGS", "I484TGS"),
    # The fine-tuned model writes a number said in words half in digits: "doscientos cincuenta y uno".
    ("la mía es AG 250 y 1 GI latina.", "AG251GI"),
    ("y anotá, 0 30 y 4 VZ H, listo.", "034VZH"),
    ("patente ABC 120 y 3 horas", "ABC120"),  # "y 3 horas" is the stay
    # "doble ve, ce de casa" written with the "de" as a letter.
    ("escribir A, B, 582 WCD casa y no quiero dejarlo afuera", "AB582WC"),
    ("patente AB 123 CD con techo", "AB123CD"),  # only the mnemonics of the letter table, not any C word
    ("y o u doscientos", "IOU200"),
    ("be larga a ciento once ve corta ve corta", "BA111VV"),
    ("b larga, a, 1 1 1, v corta, doble v", "BA111VW"),
    ("be de burro ce de casa trescientos treinta de de dedo a", "BC330DA"),
    ("eme de mamá pe de papá 123 ka jota", "MP123KJ"),
    ("hache hache quinientos cinco jota jota", "HH505JJ"),
    ("uve doble, a, 3 4 5, erre, ese", "WA345RS"),
    ("doble u a 345 erre ese", "WA345RS"),
    ("a ce cuatro cinco seis o i", "AC456OI"),
    ("a e cero diez o o", "AE010OO"),
    ("la patente es a e cero uno cero o o", "AE010OO"),
    ("zeta zeta novecientos noventa y nueve zeta zeta", "ZZ999ZZ"),
    ("seta seta 999 seta seta", "ZZ999ZZ"),
    ("ache a 321 be be", "HA321BB"),
    ("a se 456 de e", "AC456DE"),
    ("Patente de larga G 955 GC.", "BG955GC"),  # "be larga" and "ve corta" as the ASR wrote them (issue 25)
    ("Te repito, me corta, jota, jota, 155.", "VJJ155"),
    ("a, de, cuatro, tres, siete, jota, me corta", "AD437JV"),
    ("cuatrocientos cincuenta y seis equis i griega zeta", "456XYZ"),
    ("cuatro cinco seis equis ye zeta", "456XYZ"),
    ("a ciento veintitrés be ce de", "A123BCD"),
    ("a, uno, dos, tres, be, ce, de", "A123BCD"),
    ("Patente a be, ciento veintitrés, ce de. Me quedo una hora.", "AB123CD"),
    ("bueno eh la patente es a be ciento veintitres ce de", "AB123CD"),
    ("La patente es: A, B, ciento veinte, tres... no, ciento veintitrés, C, D.", "AB123CD"),
    # corrections, D/T/C marker, disowned plates
    ("a be ciento veintitrés ce de, no, ce e", "AB123CE"),
    ("a efe dos dos dos, no, tres tres tres, hache hache", "AF333HH"),
    ("AB 123 CD, no perdón, AB 124 CD", "AB124CD"),
    ("AB 123 CD no, 124", "AB124CD"),
    ("ABC 123, digo, ABD 123", "ABD123"),
    ("A B C D 1 2 3, la D es la de duplicado", "ABC123"),
    ("ABCD 123 duplicado", "ABC123"),
    ("ABC 123 T, la T es de triplicado", "ABC123"),
    ("AB 123 CD, esa es la del otro auto", None),
    ("AB 123 CD, esa es la del otro auto, la mía es AC 456 OI", "AC456OI"),
    # nulls: incomplete, invalid shape, foreign, old provincial, ambiguous
    ("", None),
    ("no sé la patente", None),
    ("AB 123", None),
    ("a be ciento veintitrés", None),
    ("AF y algo", None),
    ("ABC", None),
    ("la patente termina en 123", None),
    ("AÑ 123 CD", None),
    ("a eñe 123 ce de", None),
    ("AB12345", None),
    ("AB 1234 CD", None),
    ("ABCD 1234", None),
    ("RJX4E21", None),
    ("es brasilera, RJX 4E21", None),
    ("SBC 1234", None),
    ("uruguaya, ese be ce mil doscientos treinta y cuatro", None),
    ("BBCL12", None),
    ("B 1234567", None),
    ("C 123456", None),
    ("be uno dos tres cuatro cinco seis", None),
    ("123 ABC 123", None),
    ("ABC 123 DEF 456", None),
    ("C1425DKF", None),
    ("el código postal es C1425DKF", None),
    ("mi celular es 11 4567 8901", None),
    ("llamame al 15 3456 7890", None),
    ("DNI 30.123.456", None),
    ("mi documento es treinta millones ciento veintitrés mil", None),
    ("CUIT 20-30123456-7", None),
    ("son 1.500 pesos", None),
    ("$ 800", None),
    ("ochocientos pesos la hora", None),
    ("vivo en Corrientes 1234", None),
    ("es un Peugeot 208", None),
    ("un BMW X5", None),
    ("una Toyota SW4", None),
    ("un Audi A3", None),
    ("un BMW 320", None),
    ("un Fiat 600 rojo", None),
    ("me quedo dos horas", None),
    ("de 100 a 200 pesos", None),
    ("hasta las 18:30", None),
    ("techado si hay", None),
    ("a las dos de la tarde", None),
    ("te dejo 500 y me das el ticket", None),
    ("AB 123 HS", "AB123HS"),
    ("AA000HR", "AA000HR"),
    ("pe pe 333 te te", "PP333TT"),
    ("de de 444 de de", "DD444DD"),
    ("LA PATENTE ES AB 123 DE", "AB123DE"),
    ("ab 123 de", "AB123DE"),
    ("Es la 1 00 AAA", "100AAA"),
    ("100 kg de papas", None),
    ("estoy en la cochera 102 del segundo subsuelo", None),
    ("dejame en el lugar 105 de la planta baja", None),
    ("son 300 pe por hora?", None),
    ("te te 555", None),
]

# ----------------------------------------------------------------------------------------------
# Stay: (answer, arrival, expected minutes)
# ----------------------------------------------------------------------------------------------
STAY_CASES = [
    ("dos horas", None, 120),
    ("Además voy a estar 3 horas. Eh, no, 5, además no me importa", None, 300),  # a correction after a full stop
    ("me quedo 2 horas. 5 autos no entran", None, 120),
    ("2 horas", None, 120),
    ("2 hs", None, 120),
    ("2hs", None, 120),
    ("2h", None, 120),
    ("Me quedo dos horas.", None, 120),
    ("una hora", None, 60),
    ("1 hora", None, 60),
    ("una horita", None, 60),
    ("un par de horitas", None, 120),
    ("media hora", None, 30),
    ("Media hora nomás.", None, 30),
    ("cuarto de hora", None, 15),
    ("un cuarto de hora", None, 15),
    ("tres cuartos de hora", None, 45),
    ("45 minutos", None, 45),
    ("cuarenta y cinco minutos", None, 45),
    ("45 min", None, 45),
    ("45min", None, 45),
    ("veinte minutitos", None, 20),
    ("hora y media", None, 90),
    ("una hora y media", None, 90),
    ("1 hora y media", None, 90),
    ("1 hora y cuarto", None, 75),
    ("dos horas y media", None, 150),
    ("dos horas y cuarto", None, 135),
    ("1 hora 15", None, 75),
    ("una hora cuarenta", None, 100),
    ("2 horas 30", None, 150),
    ("dos horas treinta", None, 150),
    ("1h30", None, 90),
    ("1 h 30", None, 90),
    ("una hora y treinta minutos", None, 90),
    ("1,5 horas", None, 90),
    ("un día", None, 1440),
    ("1 dia", None, 1440),
    ("dos días", None, 2880),
    ("una semana", None, 10080),
    ("un par de horas", None, 120),
    ("un par de días", None, 2880),
    ("un par de minutos", None, 2),
    ("más o menos dos horas", None, 120),
    ("unas 3 horas", None, 180),
    ("calculo que tres horas", None, 180),
    ("una hora nomás", None, 60),
    ("una hora y pico", None, 60),
    ("dos horas y pico", None, 120),
    ("entre dos y tres horas", None, 180),
    ("entre 2 y 3 horas", None, 180),
    ("dos o tres horas", None, 180),
    ("2 o 3 hs", None, 180),
    ("de 1 a 2 horas", None, 120),
    ("de una a dos horas", None, 120),
    ("una hora y media o dos", None, 120),
    ("entre media hora y una hora", None, 60),
    ("media hora o una hora", None, 60),
    ("de 30 a 45 minutos", None, 45),
    ("hora y media como mucho", None, 90),
    ("menos de una hora", None, 60),
    ("no más de 40 minutos", None, 40),
    ("dos horas máximo", None, 120),
    ("máximo dos horas", None, 120),
    ("todo el día", None, 720),
    ("Todo el día.", None, 720),
    ("toda la noche", None, 720),
    ("medio día", None, 360),
    ("dos horas, no, mejor tres", None, 180),
    ("tres horas, no, mejor dos", None, 120),
    ("una hora... no, dos horas", None, 120),
    ("en 2 horas lo retiro", None, 120),
    ("vuelvo en una hora", None, 60),
    ("ABC 123 4 horas", None, 240),
    ("KJH 765 45 minutos", None, 45),
    ("eh, bueno, este, dos horas", None, 120),
    # clock times
    ("hasta las 18", T14, 240),
    ("hasta las 18:30", T14, 270),
    ("hasta las 18.30", T14, 270),
    ("hasta las seis de la tarde", T14, 240),
    ("hasta las 6 de la tarde", T14, 240),
    ("vuelvo a las cinco", T14, 180),
    ("vuelvo a las 5", T14, 180),
    ("paso a buscarlo a las siete", T14, 300),
    ("salgo a las 16", T14, 120),
    ("me voy a las cuatro y media", T14, 150),
    ("hasta las seis y cuarto", T14, 255),
    ("hasta las 7 menos cuarto", T14, 285),
    ("hasta las diecinueve treinta", T14, 330),
    ("hasta el mediodía", dt.time(10, 0), 120),
    ("hasta la medianoche", dt.time(22, 0), 120),
    ("hasta las 12 de la noche", dt.time(22, 0), 120),
    ("hasta las 8 de la mañana", dt.time(22, 0), 600),
    ("hasta mañana a las 9", dt.time(20, 0), 780),
    ("hasta las 2", dt.time(15, 0), 660),
    ("hasta las 14", dt.time(15, 0), 1380),
    ("hasta las 3 pm", dt.time(9, 0), 360),
    ("a las 6 lo vengo a buscar", T14, 240),
    ("hasta las 18", None, None),
    ("vengo a las 10 y me voy a las 12", dt.time(9, 0), 180),
    ("los sábados vengo a las 9", dt.time(8, 0), None),
    ("hasta las 8 y media de la noche", dt.time(9, 0), 690),
    ("ME QUEDO 2 HS", None, 120),
    ("AB 123 HS", None, None),
    ("2 o 3 días", None, 4320),
    ("un día entero", None, 1440),
    # not a stay, vague
    ("llegué a las 18:30", T14, None),
    ("son las 14:45", T14, None),
    ("el turno es a las 18:30", T14, None),
    ("cuánto sale la hora", None, None),
    ("¿son 1.500 pesos por 2 horas?", None, None),
    ("¿Cuánto me cobrás por dos horas?", None, None),
    ("aguantame 2 minutos", None, None),
    ("esperame un minuto", None, None),
    ("un rato", None, None),
    ("un ratito", None, None),
    ("un rato largo", None, None),
    ("unas horas", None, None),
    ("unos días", None, None),
    ("el fin de semana", None, None),
    ("toda la tarde", None, None),
    ("hasta la tarde", None, None),
    ("hasta que cierren", None, None),
    ("hasta mañana", None, None),
    ("no sé cuánto", None, None),
    ("AB 123 CD", None, None),
    ("techado", None, None),
    ("", None, None),
]

# ----------------------------------------------------------------------------------------------
# Covered: (answer, expected)
# ----------------------------------------------------------------------------------------------
COVERED_CASES = [
    ("techado", True),
    ("Techado.", True),
    ("además afuera, no hace falta techo, dale", False),  # the "no" is of "hace falta techo", not of "afuera"
    ("Después, un par de horas y afuera no hace falta que echo.", False),  # "techo" misheard
    ("techado, no hace falta", False),
    ("No, techado no hace falta listo.", False),
    ("bajo techo", True),
    ("lo quiero bajo techo por la lluvia", True),  # "por la" only marks another sense after "cubierto"
    ("techado o al aire libre, lo mismo", None),
    ("cubierto", True),
    ("cochera cubierta", True),
    ("adentro", True),
    ("en el subsuelo", True),
    ("si hay techado mejor", True),
    ("techado si se puede", True),
    ("techado si hay", True),
    ("techado si tenés", True),
    ("prefiero techado si hay lugar", True),
    ("no quiero dejarlo afuera", True),
    ("nada de aire libre", True),
    ("al aire libre no, adentro", True),
    ("me da igual... bueno, techado si hay", True),
    ("con techo por favor", True),
    ("techado si hay, si no afuera", True),
    ("no tengo apuro, techado", True),
    ("mejor bajo techo que llueve", True),
    ("al aire libre", False),
    ("descubierto", False),
    ("afuera", False),
    ("afuera está bien", False),
    ("sin techo", False),
    ("no hace falta techado", False),
    ("no necesito techo", False),
    ("techado no", False),
    ("Techado: no.", False),
    ("bajo techo no, al descubierto", False),
    ("no, no hace falta que sea cubierto", False),
    ("me da igual", None),
    ("me da lo mismo", None),
    ("lo que sea", None),
    ("donde sea", None),
    ("cualquiera", None),
    ("donde haya lugar", None),
    ("indistinto", None),
    ("no tengo preferencia", None),
    ("no me importa si es techado o no", None),
    ("techado o descubierto, me da igual", None),
    ("¿cuánto sale el techado?", None),
    ("las llaves las dejo adentro del auto", None),
    ("cubierto por el seguro", None),
    ("me espera afuera", None),
    ("dos horas", None),
    ("AB 123 CD", None),
    ("", None),
]

CONFIRM_CASES = [
    ("sí", True), ("Sí.", True), ("si", True), ("dale", True), ("joya", True), ("correcto", True),
    ("exacto", True), ("perfecto", True), ("ok", True), ("está bien", True), ("sí, correcto", True),
    ("eh... sí", True), ("de una", True), ("obvio", True), ("afirmativo", True), ("Sí, sí, esa es.", True),
    ("no", False), ("No.", False), ("nah", False), ("no, está mal", False), ("negativo", False),
    ("está mal", False), ("incorrecto", False), ("sí, pero la patente está mal", False), ("no, no es esa", False),
    ("no sé", None), ("", None), ("hola", None), ("¿qué?", None),
    # As the fine-tuned model wrote the simulated drivers' answers (issue 25): near one answer's word, far from the other
    ("Correto.", True), ("¡Talicuel!", True), ("Tan cual.", True), ("Negatibo.", False), ("Incorecto.", False),
    ("Camioneta.", None), ("Dehona.", None), ("Corrector.", None),  # near both "correcto" and "incorrecto": unclear
]

# Whole answers: every slot at once.
FULL_CASES = [
    # Found against sintetico.py's labels with the OpenSLR 61 general sentences (another random stream).
    ("Hola, sí, sí, es AC 517 KM, eso.", T14, Slots("AC517KM", None, None)),  # KM: plate letters, not km
    ("Hola, qué tal, R 452 HIV, esa es, lo dejo por toda la noche", T14, Slots("R452HIV", 720, None)),
    ("Hola, te la dicto, ZW 400 WL... ZW 400 WL, ah, me olvidaba, techado si hay", T14, Slots("ZW400WL", None, True)),
    ("Buenas, a ver, NZ 721 HR, o sea, NZ 721 HR.", T14, Slots("NZ721HR", None, None)),  # no stay of 721 hours
    ("Ok, patente, W 605 MQN, paso a buscarlo a la 1 menos cuarto.", dt.time(12, 5), Slots("W605MQN", 40, None)),
    # Found by ref_test on what the fine-tuned model wrote: capitals it wrote win over a stray syllable.
    ("lo vengo a buscar en 2 horas y 45, y a no ta, AF 650 NT.", T14, Slots("AF650NT", 165, None)),
    # Found by ref_test on the demo's test corpus (references the extractor got wrong).
    ("Mirá, anotá, P 093 QLD... P 093 QLD, listo.", T14, Slots("P093QLD", None, None)),
    ("es la AE 071 UW... AE 071 UW, la del auto gris.", T14, Slots("AE071UW", None, None)),
    ("anotá, WIN 757 y después voy a estar 2 horas, eh, no, 3, y lo puedo dejar afuera", T14,
     Slots("WIN757", 180, False)),
    # Found by comparing the extractor with sintetico.py's labels on 6,000 generated answers.
    ("Hola, es VW 327 DJ, nada más.", T14, Slots("VW327DJ", None, None)),
    ("Es la patente OVN 699 y da igual dónde", T14, Slots("OVN699", None, None)),
    ("Buenas, en media horita paso a buscarlo, sin techo, no pasa nada.", T14, Slots(None, 30, False)),
    ("Perdón, vengo a las 10 de la noche, por favor.", T14, Slots(None, 480, None)),
    ("Mirá, no, techado no hace falta, y lo dejo por toda la noche, listo.", T14, Slots(None, 720, False)),
    ("La patente es AB 123 CD, me quedo dos horas, techado si hay.", T14, Slots("AB123CD", 120, True)),
    ("a be ciento veintitrés ce de, hasta las seis de la tarde, afuera está bien", T14, Slots("AB123CD", 240, False)),
    ("KJH 765 45 minutos, me da igual dónde", T14, Slots("KJH765", 45, None)),
    ("Bueno, eh, ABC 123 4 horas bajo techo", T14, Slots("ABC123", 240, True)),
    ("mi celular es 11 4567 8901 y vuelvo a las cinco", T14, Slots(None, 180, None)),
    ("¿Cuánto sale la hora?", T14, Slots(None, None, None)),
]


@pytest.mark.parametrize(("text", "expected"), PLATE_CASES)
def test_plate(text, expected):
    assert extract(text).plate == expected


@pytest.mark.parametrize(("text", "arrival", "expected"), STAY_CASES)
def test_stay(text, arrival, expected):
    assert extract(text, arrival).stay_minutes == expected


@pytest.mark.parametrize(("text", "expected"), COVERED_CASES)
def test_covered(text, expected):
    assert extract(text).covered is expected


@pytest.mark.parametrize(("text", "expected"), CONFIRM_CASES)
def test_confirm(text, expected):
    assert confirm(text) is expected


@pytest.mark.parametrize(("text", "arrival", "expected"), FULL_CASES)
def test_full_answer(text, arrival, expected):
    assert extract(text, arrival) == expected


def test_table_size():
    total = len(PLATE_CASES) + len(STAY_CASES) + len(COVERED_CASES) + len(CONFIRM_CASES) + len(FULL_CASES)
    assert total >= 300


def test_no_torch_import():
    code = "import sys, texto.extraccion, texto.numeros, texto.metricas; assert 'torch' not in sys.modules and 'whisper' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_speed_well_under_a_millisecond():
    text = "Bueno, eh, la patente es a be ciento veintitrés ce de, me quedo hasta las seis y media, techado si hay"
    extract(text, T14)
    n = 300
    start = time.perf_counter()
    for _ in range(n):
        extract(text, T14)
    assert (time.perf_counter() - start) / n < 1e-3


# ----------------------------------------------------------------------------------------------
# Property tests
# ----------------------------------------------------------------------------------------------
_ONES = "cero uno dos tres cuatro cinco seis siete ocho nueve".split()
_TEENS = "diez once doce trece catorce quince dieciséis diecisiete dieciocho diecinueve".split()
_TWENTIES = "veinte veintiuno veintidós veintitrés veinticuatro veinticinco veintiséis veintisiete veintiocho veintinueve"
_TENS = {3: "treinta", 4: "cuarenta", 5: "cincuenta", 6: "sesenta", 7: "setenta", 8: "ochenta", 9: "noventa"}
_HUNDREDS = {1: "ciento", 2: "doscientos", 3: "trescientos", 4: "cuatrocientos", 5: "quinientos", 6: "seiscientos",
             7: "setecientos", 8: "ochocientos", 9: "novecientos"}


def _spanish(n: int) -> str:
    """0..999 in words (test helper, independent of the module)."""
    if n < 10:
        return _ONES[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 30:
        return _TWENTIES.split()[n - 20]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " y " + _ONES[n % 10])
    if n == 100:
        return "cien"
    return _HUNDREDS[n // 100] + ("" if n % 100 == 0 else " " + _spanish(n % 100))


def _say_group(group: str, words: bool) -> str:
    if not words:
        return group
    zeros = len(group) - len(group.lstrip("0"))
    rest = group.lstrip("0")
    return " ".join(["cero"] * zeros + ([_spanish(int(rest))] if rest else []))


@st.composite
def spoken_plates(draw):
    shape = draw(st.sampled_from(["LLDDDLL", "LLLDDD", "DDDLLL", "LDDDLLL"]))
    letters = st.sampled_from(sorted(LETTER_NAMES))
    plate = "".join(draw(letters) if c == "L" else str(draw(st.integers(0, 9))) for c in shape)
    style = draw(st.sampled_from(["compact", "spaced", "spoken"]))
    sep = draw(st.sampled_from([" ", ", ", " - ", "... "]))
    blocks, cur = [], ""
    for c in plate:
        if cur and cur[-1].isdigit() != c.isdigit():
            blocks.append(cur)
            cur = ""
        cur += c
    blocks.append(cur)
    if style == "compact":
        spoken = plate
    elif style == "spaced":
        spoken = " ".join(blocks)
    else:
        parts = []
        for block in blocks:
            if block[0].isalpha():
                parts += [draw(st.sampled_from(LETTER_NAMES[c])) for c in block]
            else:
                cuts = draw(st.sampled_from([(3,), (1, 2), (2, 1), (1, 1, 1)]))
                groups, k = [], 0
                for size in cuts:
                    groups.append(block[k : k + size])
                    k += size
                prev_round_tens = False
                for g in groups:
                    words = draw(st.booleans()) and not prev_round_tens
                    parts.append(_say_group(g, words))
                    prev_round_tens = words and len(g) == 2 and g[1] == "0" and g[0] != "0"
        spoken = sep.join(parts)
    prefix = draw(st.sampled_from(["", "La patente es ", "eh, ", "Es la ", "patente "]))
    suffix = draw(st.sampled_from(["", ".", ", me quedo dos horas", " y techado si hay"]))
    return plate, prefix + spoken + suffix


@settings(max_examples=400, deadline=None)
@given(spoken_plates())
def test_any_spoken_plate_round_trips(case):
    plate, text = case
    assume(not re.search(r"\d(USD|ARS|EUR)$", plate))  # "000 USD" is a price (CONVENCIONES_SLOTS.md: prices -> null)
    assert extract(text).plate == plate, text


@settings(max_examples=400, deadline=None)
@given(st.text(), st.one_of(st.none(), st.times()))
def test_any_text_never_raises(text, arrival):
    slots = extract(text, arrival)
    assert slots.plate is None or slots.plate.isalnum()
    confirm(text)


_WORDISH = st.lists(
    st.sampled_from(
        ["a", "be", "de", "o", "y", "no", "123", "1", "ciento", "veinte", "horas", "las", "hasta", "techado", "ese",
         "ce", "doble", "cero", "ñ", ",", "?", "12:30", "mil", "media", "par", "un", "de la tarde", "afuera"]
    ),
    max_size=14,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_WORDISH, st.one_of(st.none(), st.times()))
def test_plate_like_noise_never_raises(text, arrival):
    slots = extract(text, arrival)
    assert slots.stay_minutes is None or slots.stay_minutes >= 0


# ----------------------------------------------------------------------------------------------
# Peer corpora (Duckling, text2num): an outside check written by other people for other systems.
# Read from the excerpts copied into tests/data/extraccion/, else from ../shared/peer_corpora/.
# ----------------------------------------------------------------------------------------------
_CORPUS_DIRS = [DATA / "extraccion", SHARED / "peer_corpora"]


def _corpus(name: str) -> list[list[str]]:
    for folder in _CORPUS_DIRS:
        path = folder / name
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]
    pytest.skip(f"peer corpus {name} not found (neither tests/data/extraccion nor ../shared/peer_corpora)")


# Each disagreement with a peer corpus, and why we keep it. Key: (file, phrase).
DELIBERATE_DIFFERENCES = {
    # Duckling numerals: notations no parking answer uses for a plate or a stay.
    ("numeral", "100K"): "K/M/G suffixes are not spoken answers",
    ("numeral", "100k"): "K/M/G suffixes are not spoken answers",
    ("numeral", "3M"): "K/M/G suffixes are not spoken answers",
    ("numeral", "3000K"): "K/M/G suffixes are not spoken answers",
    ("numeral", "1200K"): "K/M/G suffixes are not spoken answers",
    ("numeral", "-1200K"): "K/M/G suffixes are not spoken answers",
    ("numeral", "-1,2M"): "K/M/G suffixes are not spoken answers",
    ("numeral", "-,0012G"): "K/M/G suffixes are not spoken answers",
    ("numeral", "1 punto cinco"): "spoken decimals: stays use 'y media', plates have no decimals",
    ("numeral", "una punto cinco"): "spoken decimals: stays use 'y media', plates have no decimals",
    ("numeral", "1 con cinco"): "spoken decimals: stays use 'y media', plates have no decimals",
    ("numeral", "1 con 5"): "spoken decimals: stays use 'y media', plates have no decimals",
    ("numeral", "uno coma 5"): "spoken decimals: stays use 'y media', plates have no decimals",
    ("numeral", "punto cinco"): "spoken decimals: stays use 'y media', plates have no decimals",
    ("numeral", "coma 5"): "spoken decimals: stays use 'y media', plates have no decimals",
    ("numeral", ",77"): "a bare decimal comma is punctuation in ASR output",
    ("numeral", "203 mil"): "digits times a spoken multiplier: only prices/DNI, which must stay null anyway",
    ("numeral", "4 millones"): "digits times a spoken multiplier: only prices/DNI, which must stay null anyway",
    ("numeral", "4 millones 2 mil 3"): "digits times a spoken multiplier: only prices/DNI, which must stay null anyway",
    # text2num: ordinals and fractions are not slots.
    **{("text2num", p): "ordinals are not plate digits or stays" for p in (
        "décimo primero", "decimoprimero", "undécimo", "décimo segundo", "decimosegundo", "duodécimo",
        "vigésimo cuarto", "vigésimo primero", "centésimo primero", "decimosexta", "decimosextas", "decimosextos",
        "Cuarto quinto segundo tercero vigésimo primero centésimo milésimo ducentésimo trigésimo.",
        "centésimo trigésimo segundo", "centésimo, trigésimo, segundo", "Él ha quedado tercero",
        "Ella ha quedado tercera", "Ellos han quedado terceros", "Ellas han quedado terceras",
        "Un segundo por favor! Vigésimo segundo es diferente que veinte segundos.",
        "Un segundo por favor! Vigésimos segundos es diferente que veinte segundos.")},
    **{("text2num", p): "fractions are not slots ('cuarto de hora' is handled as a stay)" for p in (
        "doceavo", "centavo", "ciento veintiochoavos")},
    ("text2num", "coma quince"): "spoken decimals are not slots",
    ("text2num", "Un momento por favor! treinta y un gatos. Uno dos tres cuatro!"):
        "'un'/'una' always read as 1: 'una hora' must be a 60-minute stay",
    ("text2num", "Ni uno. Uno uno. Treinta y uno"): "a lone 'uno' is read as 1 (digit slot), not kept as a word",
    ("text2num", "cero"): "threshold=10 keeps a lone 'cero' as a word; in a plate it is the digit 0",
}


def _differs(kind: str, phrase: str) -> bool:
    return (kind, phrase) in DELIBERATE_DIFFERENCES


def test_duckling_durations():
    rows = _corpus("duckling_duration_es.tsv")
    wrong = [(r[0], r[3], extract(r[0]).stay_minutes) for r in rows if extract(r[0]).stay_minutes != int(r[3])]
    assert not wrong
    assert len(rows) == 18


def test_duckling_numerals():
    rows = _corpus("duckling_numeral_es.tsv")
    agree, listed = 0, 0
    for phrase, expected, _locale in rows:
        got = parse_number(phrase)
        if _differs("numeral", phrase):
            listed += 1
            assert got != float(expected), f"{phrase!r} now agrees: drop it from DELIBERATE_DIFFERENCES"
            continue
        assert got == float(expected), phrase
        agree += 1
        assert extract(phrase).plate is None  # a number alone is never a plate
    assert agree + listed == len(rows)


def test_duckling_money_is_never_a_plate_or_stay():
    for phrase, _expr in _corpus("duckling_amountofmoney_es.tsv"):
        slots = extract(phrase)
        assert slots.plate is None and slots.stay_minutes is None, phrase


def _text2num_expected(api: str, expected: str):
    if api in ("text2num", "text2digits"):
        return None if expected.startswith("ERROR") or not expected.isdigit() else float(expected)
    return re.findall(r"\d+", expected)


def test_text2num_corpus():
    rows = _corpus("text2num_es.tsv")
    for _suite, _fn, api, phrase, expected in rows:
        want = _text2num_expected(api, expected)
        if api in ("text2num", "text2digits"):
            got = parse_number(phrase)
        else:
            got = re.findall(r"\d+", " ".join(_numeric_words(_tokenize(phrase))))
        if got != want and _differs("text2num", phrase):
            continue  # listed above ("cero" differs only in the Rust in-text rows, so no "now agrees" check here)
        assert got == want, (api, phrase, expected, got)
        assert extract(phrase).plate is None, phrase


def test_text2num_digit_runs_are_concatenated_in_plates():
    """Where text2num says 'cinco cero' is not one number, a plate reads its digits one after another."""
    assert extract("a be cinco cero uno ce de").plate == "AB501CD"
    assert extract("a be cincuenta cero tres ce de").plate is None  # 5003: four digits, no shape
    assert extract("a be diez cero ce de").plate == "AB100CD"


def test_spelled_capitals_round_trip():
    """Training targets spell plates one token per symbol; decoded text joins them back."""
    text = "Patente DXS 660, no, AB 123 CD. Mmm, y el PDF, ¿Ñandú? 123 ABC, A 123 BCD, a las 18:30, 2 o 3 horas."
    spelled = letras.spell_capitals(text)
    assert spelled == ("Patente D X S 6 6 0, no, A B 1 2 3 C D. Mmm, y el P D F, ¿Ñandú? 1 2 3 A B C, A 1 2 3 B C D, "
                       "a las 18:30, 2 o 3 horas.")  # digits only inside plates: "2 o 3 horas" stays
    assert letras.join_spelled_capitals(spelled) == text
    assert letras.join_spelled_capitals("es la Z G D 4 8 3 y a las 3") == "es la ZGD 483 y a las 3"
    assert letras.join_spelled_capitals("1,5 2 y 1.500 3") == "1,5 2 y 1.500 3"  # decimals are not spelled digits
    assert extraccion.extract(spelled).plate == "AB123CD"
