"""The entry assistant on the command line: a scripted session of wavs, or the microphone.

Each answer goes through the speech model (`modelo.motores`, either engine; as an n-best list decoded for
the question asked where the engine offers it, see `estacionamiento.escucha`) and the entry dialogue
(`dialogo`); the spot is assigned in the lot's SQLite file (`estacionamiento.lote`). With `--json` the
last line printed is the ticket as JSON, or `{"staff": true, ...}` when the staff takes over.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import sys
from pathlib import Path

from cli import SpanishParser
from corpus.datos import DataDirError
from estacionamiento import dialogo, escucha, lote, voz
from modelo import motores, pesos
from modelo.audio import SILENCE_PEAK, audio_problem, load_audio
from texto.extraccion import extract
from texto.hipotesis import best_text, decoded

DEFAULT_DB = "data/estacionamiento.db"


class UsageError(Exception):
    """A user mistake: printed in Spanish, exit code 1, no traceback."""


def build_parser() -> SpanishParser:
    p = SpanishParser(
        prog="asistente.py",
        description="El asistente de la entrada del estacionamiento: pregunta la patente, la estadía y si "
                    "preferís techado, y asigna un lugar.\n\nEjemplos:\n"
                    "  asistente.py --checkpoint artifacts/demo/modelo-ultimo.pt --respuestas a.wav b.wav --json\n"
                    "  asistente.py --checkpoint base --microfono --hablar\n"
                    "  asistente.py --reservar AB123CD 18:30 --techado\n"
                    "  asistente.py --salida AB123CD")
    p.add_argument("--checkpoint", help="el modelo: un .ckpt o .pt afinado, un directorio CTranslate2 o un nombre "
                                        "oficial (base)")
    p.add_argument("--engine", default="openai", choices=motores.ENGINES, help="qué biblioteca transcribe")
    p.add_argument("--ct2-dir", default=str(motores.CACHE_DIR), metavar="DIR",
                   help="con --engine ctranslate2: dónde se exporta (una vez) un .pt/.ckpt a CTranslate2")
    p.add_argument("--db", default=DEFAULT_DB, help="la base SQLite del estacionamiento (se crea si no existe)")
    p.add_argument("--lugares", type=int, default=20, help="lugares de una base nueva")
    p.add_argument("--techados", type=int, default=8, help="cuántos de esos lugares son techados")
    p.add_argument("--intentos", type=int, default=3,
                   help="respuestas fallidas seguidas antes de llamar al personal")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--respuestas", nargs="+", metavar="WAV", help="las respuestas del conductor, una por pregunta")
    src.add_argument("--microfono", action="store_true", help="escuchar al conductor por el micrófono")
    src.add_argument("--reservar", nargs=2, metavar=("PATENTE", "HH:MM"),
                     help="reservar un lugar para PATENTE hasta las HH:MM (de mañana si ya pasó) y salir")
    src.add_argument("--salida", metavar="PATENTE", help="registrar que PATENTE se fue y salir")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--techado", dest="reserva_techado", action="store_const", const=True,
                      help="con --reservar: un lugar techado")
    kind.add_argument("--descubierto", dest="reserva_techado", action="store_const", const=False,
                      help="con --reservar: un lugar descubierto")
    p.add_argument("--hipotesis", type=int, default=escucha.N_BEST, metavar="N",
                   help="cuántas transcripciones alternativas pide al motor por respuesta, para ofrecer la "
                        "siguiente si el conductor dice que no (1: solo la mejor)")
    p.add_argument("--hablar", action="store_true", help="decir cada pregunta en voz alta con espeak-ng")
    p.add_argument("--json", action="store_true", help="la última línea es el ticket en JSON")
    return p


# --- the lot ---------------------------------------------------------------------------------------


def open_lot(path: str, spots: int, covered: int) -> lote.Parking:
    try:
        return lote.open_lot(path, spots, covered, say=lambda line: print(line, flush=True))
    except lote.ParkingError as e:
        raise UsageError(str(e)) from None


def plate_arg(text: str) -> str:
    plate = extract(text).plate
    if plate is None:
        raise UsageError(f"{text!r} no es una patente válida (por ejemplo AB123CD o ABC123).")
    return plate


def hour_arg(text: str) -> datetime.time:
    """HH:MM only: time.fromisoformat also takes "18", "1830", "T18:30" and "18:30Z" (an aware time that
    cannot be compared with the lot's naive clock)."""
    m = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", text)
    if m is None:
        raise UsageError(f"--reservar: {text!r} no es una hora HH:MM entre 00:00 y 23:59 (por ejemplo 18:30 "
                         "o 9:05).")
    return datetime.time(int(m[1]), int(m[2]))


def admin(args, parking: lote.Parking) -> None:
    now = datetime.datetime.now()
    try:
        if args.salida:
            entry = parking.register_exit(plate_arg(args.salida), now)
            print(f"Salida registrada: {dialogo.format_plate(entry.plate)} dejó el lugar {entry.spot}.")
            return
        plate = plate_arg(args.reservar[0])
        until = datetime.datetime.combine(now.date(), hour_arg(args.reservar[1]))
        if until <= now:  # "hasta las 8" said at 22:00 means tomorrow, as the dialogue reads clock times
            until += datetime.timedelta(days=1)
        res = parking.reserve(plate, until, args.reserva_techado, now)
        kind = "techado" if res.covered else "descubierto"
        print(f"Reserva: {dialogo.format_plate(plate)}, lugar {res.spot} ({kind}) hasta las {res.until:%H:%M}.")
    except lote.ParkingError as e:
        raise UsageError(str(e)[0].upper() + str(e)[1:]) from None


# --- speech in and out -----------------------------------------------------------------------------


def check_wavs(paths: list[str]) -> None:
    """Every answer readable before the slow model load; a bad file is named, not a traceback later."""
    for path in paths:
        problem = audio_problem(Path(path))
        if problem:
            raise UsageError(f"{path}: {problem}. Pasá wavs (o flac) de hasta 30 s, uno por respuesta.")


def load_engine(checkpoint: str, engine: str, ct2_dir: str = str(motores.CACHE_DIR)):
    print(f"Cargando el modelo {checkpoint} (motor {engine})…", flush=True)
    try:
        return motores.load_engine(checkpoint, engine, cache_dir=Path(ct2_dir))
    except (pesos.WeightsError, ValueError, OSError) as e:
        raise UsageError(f"--checkpoint {checkpoint} (--engine {engine}): {e}") from None


def check_microphone() -> None:
    try:
        import sounddevice as sd

        if not any(d["max_input_channels"] > 0 for d in sd.query_devices()):
            raise UsageError("no hay ningún micrófono conectado.")
    except (ImportError, OSError) as e:  # the package, or the PortAudio library it needs, is missing
        raise UsageError(f"para usar el micrófono hace falta `pip install sounddevice` y la biblioteca PortAudio "
                         f"(`sudo apt-get install libportaudio2`) ({e}).") from None


# --- the session -----------------------------------------------------------------------------------


def session(args, parking: lote.Parking) -> dict:
    engine = load_engine(args.checkpoint, args.engine, args.ct2_dir)
    dialogue = dialogo.Dialogue(parking, max_failures=args.intentos)
    turn = dialogue.start()
    answers = list(args.respuestas or [])
    used = 0
    while True:
        print(f"Asistente: {turn.text}", flush=True)
        if args.hablar:
            voz.speak(turn.speech)
        if turn.done:
            break
        if args.microfono:
            print("(te escucho…)", flush=True)
            audio, source = voz.record_answer(), "micrófono"
            if not len(audio) or abs(audio).max() <= SILENCE_PEAK:  # a muted microphone: not a failed answer
                note = "No te escuché: revisá que el micrófono esté prendido y respondé de nuevo."
                print(f"Asistente: {note}", flush=True)
                if args.hablar:
                    voz.speak(note)
                continue
        elif used < len(answers):
            try:  # check_wavs passed, but the file may have changed since
                audio, source = load_audio(answers[used]), answers[used]
            except DataDirError as e:
                raise UsageError(str(e)) from None
            used += 1
        else:
            raise UsageError(f"se acabaron las respuestas ({len(answers)} wavs) antes de terminar el diálogo; "
                             f"faltaba contestar: {turn.text!r}. Agregá más wavs a --respuestas.")
        heard = escucha.hear(engine, audio, dialogue.question, args.hipotesis)
        others = "".join(f" / «{h.text}»" for h in decoded(heard)[1:])
        print(f"Conductor ({source}): «{best_text(heard)}»" + (f" (otras: {others[3:]})" if others else ""), flush=True)
        turn = dialogue.answer(heard)
    if used < len(answers):
        print(f"Aviso: el diálogo terminó antes de usar {len(answers) - used} respuesta(s): "
              f"{', '.join(answers[used:])}.", file=sys.stderr)
    return turn.ticket


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.lugares < 1 or not 0 <= args.techados <= args.lugares:
            raise UsageError("--techados tiene que estar entre 0 y --lugares, y --lugares ser al menos 1.")
        if args.intentos < 1 or args.hipotesis < 1:
            raise UsageError("--intentos y --hipotesis tienen que ser al menos 1.")
        if args.reserva_techado is not None and not args.reservar:
            raise UsageError("--techado y --descubierto van con --reservar.")
        talking = bool(args.respuestas or args.microfono)
        if not talking and not (args.reservar or args.salida):
            raise UsageError("decí de dónde salen las respuestas: --respuestas a.wav b.wav … o --microfono "
                             "(o usá --reservar / --salida).")
        if talking and not args.checkpoint:
            raise UsageError("falta --checkpoint: el modelo que transcribe (por ejemplo artifacts/demo/modelo-ultimo.pt "
                             "o base).")
        if args.reservar:  # a wrong value is refused before the database is opened (or created)
            plate_arg(args.reservar[0])
            hour_arg(args.reservar[1])
        if args.salida:
            plate_arg(args.salida)
        if args.respuestas:
            check_wavs(args.respuestas)
        if args.microfono:
            check_microphone()
        if args.hablar and shutil.which("espeak-ng") is None:
            raise UsageError("--hablar necesita espeak-ng: sudo apt-get install espeak-ng.")
        parking = open_lot(args.db, args.lugares, args.techados)
        if not talking:
            admin(args, parking)
            return 0
        ticket = session(args, parking)
    except UsageError as e:
        print(f"asistente.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nSesión cortada: no se registró ninguna entrada nueva.", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(ticket, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
