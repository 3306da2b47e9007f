"""The web kiosk at the lot's entry: `python kiosco.py --checkpoint MODELO`, then open the page.

The app and its page live in estacionamiento/ (kiosco.py, web/); this command loads the model and the
lot's database and serves them. API (JSON unless said):
  POST /api/sesiones                        -> {"sesion", "texto", "listo", "ticket", "voz"}
  POST /api/sesiones/{id}/respuesta  (WAV)  -> the same plus "oido": what the model heard (its best text),
                                               and "hipotesis": [{"texto", "puntaje", "forzada"}], its n-best list
                                               (forzada: an answer only scored, after "Decí sí o no")
  GET  /api/sesiones/{id}/voz               -> the current prompt spoken by espeak-ng (audio/wav)
  GET  /api/estado                          -> free spots by kind
"""

from __future__ import annotations

import errno
import shutil
import socket
import sys
from pathlib import Path

import uvicorn

from cli import SpanishParser
from estacionamiento import escucha, kiosco, lote
from modelo import motores, pesos


def build_parser() -> SpanishParser:
    p = SpanishParser(
        prog="kiosco.py",
        description="El kiosco web de la entrada: abrí la página en el navegador del kiosco; graba con su "
                    "micrófono, muestra y dice cada pregunta y muestra el ticket.\n\nEjemplo:\n"
                    "  kiosco.py --checkpoint artifacts/demo/modelo-mejor.pt --db data/estacionamiento.db --port 8000")
    p.add_argument("--checkpoint", required=True, help="el modelo: un .ckpt o .pt afinado, un directorio "
                                                       "CTranslate2 o un nombre oficial (base)")
    p.add_argument("--engine", default="openai", choices=motores.ENGINES, help="qué biblioteca transcribe")
    p.add_argument("--ct2-dir", default=str(motores.CACHE_DIR), metavar="DIR",
                   help="con --engine ctranslate2: dónde se exporta (una vez) un .pt/.ckpt a CTranslate2")
    p.add_argument("--db", default="data/estacionamiento.db", help="la base SQLite del estacionamiento")
    p.add_argument("--lugares", type=int, default=20, help="lugares de una base nueva")
    p.add_argument("--techados", type=int, default=8, help="cuántos de esos lugares son techados")
    p.add_argument("--intentos", type=int, default=3, help="respuestas fallidas seguidas antes de llamar al personal")
    p.add_argument("--hipotesis", type=int, default=escucha.N_BEST, metavar="N",
                   help="cuántas transcripciones alternativas pide al motor por respuesta, para ofrecer la "
                        "siguiente si el conductor dice que no (1: solo la mejor)")
    p.add_argument("--host", default="127.0.0.1", help="dirección donde escucha (0.0.0.0: toda la red)")
    p.add_argument("--port", type=int, default=8000, help="puerto")
    return p


class UsageError(Exception):
    """A user mistake: printed in Spanish, exit code 1, no traceback."""


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, taken before the slow model load, so a busy port is said at once (and
    nobody can take it between "Kiosco listo" and uvicorn starting)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn does
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a just-closed kiosk's port
        sock.bind((host, port))
    except (OSError, OverflowError) as e:
        sock.close()
        why = {errno.EADDRINUSE: "el puerto ya está en uso: ¿hay otro kiosco u otro programa ahí?",
               errno.EACCES: "sin permiso: los puertos de menos de 1024 son del administrador",
               errno.EADDRNOTAVAIL: "esa dirección no es de esta máquina"}.get(getattr(e, "errno", None))
        if isinstance(e, socket.gaierror):
            why = "no se encontró esa dirección"
        raise UsageError(f"no se puede escuchar en {host}:{port} ({why or e}). Probá con otro puerto, por ejemplo "
                         f"--port {port + 1 if port < 65535 else 8000}, o revisá --host.") from None
    sock.set_inheritable(True)
    return sock


def open_lot(path: str, spots: int, covered: int) -> lote.Parking:
    try:
        return lote.open_lot(path, spots, covered, say=lambda line: print(line, flush=True))
    except lote.ParkingError as e:
        raise UsageError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sock = None
    try:
        if args.lugares < 1 or not 0 <= args.techados <= args.lugares or args.intentos < 1 \
                or args.hipotesis < 1:
            raise UsageError("--lugares tiene que ser al menos 1, --techados estar entre 0 y --lugares, "
                             "e --intentos y --hipotesis ser al menos 1.")
        if not 1 <= args.port <= 65535:
            raise UsageError(f"--port {args.port}: tiene que estar entre 1 y 65535 (por ejemplo 8000).")
        sock = bind(args.host, args.port)
        parking = open_lot(args.db, args.lugares, args.techados)
        print(f"Cargando el modelo {args.checkpoint} (motor {args.engine})…", flush=True)
        try:
            engine = motores.load_engine(args.checkpoint, args.engine, cache_dir=Path(args.ct2_dir))
        except (pesos.WeightsError, ValueError, OSError) as e:
            raise UsageError(f"--checkpoint {args.checkpoint} (--engine {args.engine}): {e}") from None
    except UsageError as e:
        if sock is not None:
            sock.close()
        print(f"kiosco.py: error: {e}", file=sys.stderr)
        return 1
    if shutil.which("espeak-ng") is None:
        print("Aviso: no está espeak-ng; las preguntas se muestran pero no se dicen.", file=sys.stderr)
    print(f"Kiosco listo en http://{args.host}:{args.port}/", flush=True)
    app = kiosco.create_app(engine, parking, args.intentos, args.hipotesis)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
