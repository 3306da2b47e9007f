"""The web kiosk at the lot's entry: `python kiosco.py --checkpoint MODELO`, then open the page.

The app and its page live in estacionamiento/ (kiosco.py, web/); this command loads the model and the
lot's database and serves them. API (JSON unless said):
  POST /api/sesiones                        -> {"sesion", "texto", "listo", "ticket", "voz"}
  POST /api/sesiones/{id}/respuesta  (WAV)  -> the same plus "oido": what the model heard
  GET  /api/sesiones/{id}/voz               -> the current prompt spoken by espeak-ng (audio/wav)
  GET  /api/estado                          -> free spots by kind
"""

from __future__ import annotations

import shutil
import sqlite3
import sys

import uvicorn

from cli import SpanishParser
from estacionamiento import kiosco, lote
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
    p.add_argument("--db", default="data/estacionamiento.db", help="la base SQLite del estacionamiento")
    p.add_argument("--lugares", type=int, default=20, help="lugares de una base nueva")
    p.add_argument("--techados", type=int, default=8, help="cuántos de esos lugares son techados")
    p.add_argument("--intentos", type=int, default=3, help="respuestas fallidas seguidas antes de llamar al personal")
    p.add_argument("--host", default="127.0.0.1", help="dirección donde escucha (0.0.0.0: toda la red)")
    p.add_argument("--port", type=int, default=8000, help="puerto")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.lugares < 1 or not 0 <= args.techados <= args.lugares or args.intentos < 1:
            raise ValueError("--lugares tiene que ser al menos 1, --techados estar entre 0 y --lugares, "
                             "e --intentos ser al menos 1.")
        parking = lote.Parking(args.db)
        if parking.ensure_spots(args.lugares, args.techados):
            print(f"Base nueva {args.db}: {args.lugares} lugares ({args.techados} techados).", flush=True)
        print(f"Cargando el modelo {args.checkpoint} (motor {args.engine})…", flush=True)
        engine = motores.load_engine(args.checkpoint, args.engine)
    except (pesos.WeightsError, lote.ParkingError, sqlite3.Error, ValueError, OSError) as e:
        print(f"kiosco.py: error: {e}", file=sys.stderr)
        return 1
    if shutil.which("espeak-ng") is None:
        print("Aviso: no está espeak-ng; las preguntas se muestran pero no se dicen.", file=sys.stderr)
    print(f"Kiosco listo en http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(kiosco.create_app(engine, parking, args.intentos), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
