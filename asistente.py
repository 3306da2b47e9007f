"""The entry assistant on the command line: a scripted session of wavs, or the microphone.

Each answer goes through the speech model (`motores`, either engine) and the entry dialogue
(`dialogo`); the spot is assigned in the lot's SQLite file (`estacionamiento`). With `--json` the
last line printed is the ticket as JSON, or `{"staff": true, ...}` when the staff takes over.
"""

from __future__ import annotations

import datetime
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

import dialogo
import estacionamiento
from cli import SpanishParser

SAMPLE_RATE = 16000
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
    p.add_argument("--engine", default="openai", choices=("openai", "ctranslate2"), help="qué biblioteca transcribe")
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
    p.add_argument("--hablar", action="store_true", help="decir cada pregunta en voz alta con espeak-ng")
    p.add_argument("--json", action="store_true", help="la última línea es el ticket en JSON")
    return p


# --- the lot ---------------------------------------------------------------------------------------


def open_lot(path: str, spots: int, covered: int) -> estacionamiento.Parking:
    """The lot's database; a new file gets `spots` spots, `covered` of them covered."""
    try:
        parking = estacionamiento.Parking(path)
        if parking.ensure_spots(spots, covered):
            print(f"Base nueva {path}: {spots} lugares ({covered} techados).", flush=True)
    except estacionamiento.ParkingError as e:
        raise UsageError(f"{path}: {e}") from None
    except (OSError, sqlite3.Error) as e:
        raise UsageError(f"{path}: no se pudo abrir la base del estacionamiento ({e}).") from None
    return parking


def plate_arg(text: str) -> str:
    from extraccion import extract

    plate = extract(text).plate
    if plate is None:
        raise UsageError(f"{text!r} no es una patente válida (por ejemplo AB123CD o ABC123).")
    return plate


def admin(args, parking: estacionamiento.Parking) -> None:
    now = datetime.datetime.now()
    try:
        if args.salida:
            entry = parking.register_exit(plate_arg(args.salida), now)
            print(f"Salida registrada: {dialogo.format_plate(entry.plate)} dejó el lugar {entry.spot}.")
            return
        plate, hour = plate_arg(args.reservar[0]), args.reservar[1]
        try:
            until = datetime.datetime.combine(now.date(), datetime.time.fromisoformat(hour))
        except ValueError:
            raise UsageError(f"--reservar: {hour!r} no es una hora HH:MM (por ejemplo 18:30).") from None
        if until <= now:  # "hasta las 8" said at 22:00 means tomorrow, as the dialogue reads clock times
            until += datetime.timedelta(days=1)
        res = parking.reserve(plate, until, args.reserva_techado, now)
        kind = "techado" if res.covered else "descubierto"
        print(f"Reserva: {dialogo.format_plate(plate)}, lugar {res.spot} ({kind}) hasta las {res.until:%H:%M}.")
    except estacionamiento.ParkingError as e:
        raise UsageError(str(e)[0].upper() + str(e)[1:]) from None


# --- speech in and out -----------------------------------------------------------------------------


def check_wavs(paths: list[str]) -> None:
    """Every answer readable before the slow model load; a bad file is named, not a traceback later."""
    import comun

    for path in paths:
        problem = comun.audio_problem(Path(path))
        if problem:
            raise UsageError(f"{path}: {problem}. Pasá wavs (o flac) de hasta 30 s, uno por respuesta.")


def load_engine(checkpoint: str, engine: str):
    import motores
    import pesos

    print(f"Cargando el modelo {checkpoint} (motor {engine})…", flush=True)
    try:
        return motores.load_engine(checkpoint, engine)
    except (pesos.WeightsError, ValueError, OSError) as e:
        raise UsageError(f"--checkpoint {checkpoint} (--engine {engine}): {e}") from None


class Endpointer:
    """Where an utterance ends in a live stream: speech is energy above the noise floor measured in the
    first chunks; the answer ends after `silence_s` of quiet following speech, or at `max_s`.

    Hand-written because it is a dozen lines and a VAD library (webrtcvad, silero) would add a
    compiled dependency or a model download for a kiosk that only needs start and end of one answer.
    """

    def __init__(self, rate: int = SAMPLE_RATE, silence_s: float = 0.8, max_s: float = 12.0, noise_chunks: int = 3):
        self.rate, self.silence_s, self.max_s, self.noise_chunks = rate, silence_s, max_s, noise_chunks
        self.chunks: list[np.ndarray] = []
        self.noise: list[float] = []
        self.heard = False
        self.quiet_s = 0.0

    def feed(self, chunk: np.ndarray) -> bool:
        """Adds one chunk of float32 samples; True when the answer is over."""
        self.chunks.append(chunk)
        level = float(np.sqrt(np.mean(chunk ** 2))) if len(chunk) else 0.0
        if len(self.noise) < self.noise_chunks:
            self.noise.append(level)
            return False
        loud = level > max(0.01, 3 * float(np.median(self.noise)))
        self.heard = self.heard or loud
        self.quiet_s = 0.0 if loud else self.quiet_s + len(chunk) / self.rate
        total_s = sum(len(c) for c in self.chunks) / self.rate
        return (self.heard and self.quiet_s >= self.silence_s) or total_s >= self.max_s

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)


def record_answer() -> np.ndarray:
    import sounddevice as sd

    ender = Endpointer()
    with sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=SAMPLE_RATE // 10) as stream:
        while True:
            chunk, _ = stream.read(SAMPLE_RATE // 10)
            if ender.feed(chunk[:, 0]):
                return ender.audio()


def check_microphone() -> None:
    try:
        import sounddevice as sd

        if not any(d["max_input_channels"] > 0 for d in sd.query_devices()):
            raise UsageError("no hay ningún micrófono conectado.")
    except (ImportError, OSError) as e:  # the package, or the PortAudio library it needs, is missing
        raise UsageError(f"para usar el micrófono hace falta `pip install sounddevice` y la biblioteca PortAudio "
                         f"(`sudo apt-get install libportaudio2`) ({e}).") from None


def speak(text: str) -> None:
    # espeak-ng plays the audio itself; a machine without speakers only loses the voice, not the session.
    subprocess.run(["espeak-ng", "-v", dialogo.VOICE, "-s", "160", text], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- the session -----------------------------------------------------------------------------------


def session(args, parking: estacionamiento.Parking) -> dict:
    import comun

    engine = load_engine(args.checkpoint, args.engine)
    dialogue = dialogo.Dialogue(parking, max_failures=args.intentos)
    turn = dialogue.start()
    answers = list(args.respuestas or [])
    used = 0
    while True:
        print(f"Asistente: {turn.text}", flush=True)
        if args.hablar:
            speak(turn.speech)
        if turn.done:
            break
        if args.microfono:
            print("(te escucho…)", flush=True)
            audio, source = record_answer(), "micrófono"
        elif used < len(answers):
            audio, source = comun.load_audio(answers[used]), answers[used]
            used += 1
        else:
            raise UsageError(f"se acabaron las respuestas ({len(answers)} wavs) antes de terminar el diálogo; "
                             f"faltaba contestar: {turn.text!r}. Agregá más wavs a --respuestas.")
        text = engine.transcribe([audio])[0]
        print(f"Conductor ({source}): «{text}»", flush=True)
        turn = dialogue.answer(text)
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
        if args.intentos < 1:
            raise UsageError("--intentos tiene que ser al menos 1.")
        if args.reserva_techado is not None and not args.reservar:
            raise UsageError("--techado y --descubierto van con --reservar.")
        talking = bool(args.respuestas or args.microfono)
        if not talking and not (args.reservar or args.salida):
            raise UsageError("decí de dónde salen las respuestas: --respuestas a.wav b.wav … o --microfono "
                             "(o usá --reservar / --salida).")
        if talking and not args.checkpoint:
            raise UsageError("falta --checkpoint: el modelo que transcribe (por ejemplo artifacts/demo/modelo-ultimo.pt "
                             "o base).")
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
