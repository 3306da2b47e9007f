"""The web kiosk: a FastAPI app serving one page (kiosco/) that records the driver from the browser's
microphone, shows and speaks each question, and shows the ticket.

Every browser tab is its own session (its own `dialogo.Dialogue`); all share one speech model and
one lot database, so several kiosks can run against one server, or several servers against one file.

API (JSON unless said):
  POST /api/sesiones                        -> {"sesion", "texto", "listo", "ticket", "voz"}
  POST /api/sesiones/{id}/respuesta  (WAV)  -> the same plus "oido": what the model heard
  GET  /api/sesiones/{id}/voz               -> the current prompt spoken by espeak-ng (audio/wav)
  GET  /api/estado                          -> free spots by kind
"""

from __future__ import annotations

import datetime
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

import dialogo
import estacionamiento
from cli import SpanishParser

PAGE_DIR = Path(__file__).with_name("kiosco")
SESSION_TTL_S = 30 * 60  # an abandoned tab's dialogue is forgotten after this (nothing was recorded for it)
MAX_UPLOAD = 10 * 1024 * 1024  # 10 MB: far more than 30 s of 16 kHz PCM


@dataclass
class KioskSession:
    dialogue: dialogo.Dialogue
    turn: dialogo.Turn
    turn_no: int = 0
    seen: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


def speech_wav(text: str) -> bytes:
    """The prompt as a WAV, synthesised by espeak-ng."""
    out = subprocess.run(["espeak-ng", "-v", dialogo.VOICE, "-s", "160", "--stdout", text],
                         capture_output=True, check=True, timeout=30)
    return out.stdout


def create_app(engine, parking: estacionamiento.Parking, max_failures: int = 3):
    """The FastAPI app; `engine` is anything with `.transcribe([audio16k]) -> [text]` (see motores.py)."""
    import comun

    app = FastAPI(title="Kiosco del estacionamiento", docs_url=None, redoc_url=None)
    sessions: dict[str, KioskSession] = {}
    sessions_lock = threading.Lock()
    model_lock = threading.Lock()  # one decode at a time: the CPU is the bottleneck, and it keeps memory flat

    def turn_json(sid: str, s: KioskSession) -> dict:
        return {"sesion": sid, "texto": s.turn.text, "listo": s.turn.done, "ticket": s.turn.ticket,
                "voz": f"/api/sesiones/{sid}/voz?n={s.turn_no}"}

    def get_session(sid: str) -> KioskSession:
        with sessions_lock:
            now = time.monotonic()
            for old in [k for k, v in sessions.items() if now - v.seen > SESSION_TTL_S]:
                del sessions[old]
            s = sessions.get(sid)
        if s is None:
            raise HTTPException(404, "Sesión desconocida o vencida: recargá la página para empezar de nuevo.")
        s.seen = time.monotonic()
        return s

    @app.get("/")
    def page():
        return FileResponse(PAGE_DIR / "index.html")

    app.mount("/kiosco", StaticFiles(directory=PAGE_DIR), name="kiosco")

    @app.get("/api/estado")
    def state():
        free = parking.free_spots(datetime.datetime.now())
        return {"libres_techados": free[True], "libres_descubiertos": free[False]}

    @app.post("/api/sesiones")
    def new_session():
        sid = secrets.token_urlsafe(12)
        dialogue = dialogo.Dialogue(parking, max_failures=max_failures)
        s = KioskSession(dialogue, dialogue.start())
        with sessions_lock:
            sessions[sid] = s
        return turn_json(sid, s)

    @app.post("/api/sesiones/{sid}/respuesta")
    async def answer(sid: str, request: Request):
        s = get_session(sid)
        if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
            raise HTTPException(413, "La grabación es demasiado larga: respondé en menos de 30 segundos.")
        data = await request.body()
        if not data or len(data) > MAX_UPLOAD:
            raise HTTPException(400, "La grabación llegó vacía o es demasiado grande: probá de nuevo.")
        return await run_in_threadpool(process, sid, s, data)

    def process(sid: str, s: KioskSession, data: bytes) -> dict:
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            f.write(data)
            f.flush()
            problem = comun.audio_problem(Path(f.name))
            if problem:
                raise HTTPException(400, f"No pude usar la grabación ({problem}): probá de nuevo.")
            audio = comun.load_audio(f.name)
        with model_lock:
            heard = engine.transcribe([audio])[0]
        with s.lock:  # a double click sends two answers: they are applied one after the other
            s.turn = s.dialogue.answer(heard)
            s.turn_no += 1
            return {**turn_json(sid, s), "oido": heard}

    @app.get("/api/sesiones/{sid}/voz")
    def voice(sid: str):
        s = get_session(sid)
        if shutil.which("espeak-ng") is None:
            raise HTTPException(503, "Este servidor no tiene espeak-ng: las preguntas solo se muestran escritas.")
        try:
            wav = speech_wav(s.turn.speech)
        except (subprocess.SubprocessError, OSError) as e:
            raise HTTPException(503, f"espeak-ng no pudo decir la pregunta ({e}).") from None
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    return app


def build_parser() -> SpanishParser:
    p = SpanishParser(
        prog="kiosco.py",
        description="El kiosco web de la entrada: abrí la página en el navegador del kiosco; graba con su "
                    "micrófono, muestra y dice cada pregunta y muestra el ticket.\n\nEjemplo:\n"
                    "  kiosco.py --checkpoint artifacts/demo/modelo-mejor.pt --db data/estacionamiento.db --port 8000")
    p.add_argument("--checkpoint", required=True, help="el modelo: un .ckpt o .pt afinado, un directorio "
                                                       "CTranslate2 o un nombre oficial (base)")
    p.add_argument("--engine", default="openai", choices=("openai", "ctranslate2"), help="qué biblioteca transcribe")
    p.add_argument("--db", default="data/estacionamiento.db", help="la base SQLite del estacionamiento")
    p.add_argument("--lugares", type=int, default=20, help="lugares de una base nueva")
    p.add_argument("--techados", type=int, default=8, help="cuántos de esos lugares son techados")
    p.add_argument("--intentos", type=int, default=3, help="respuestas fallidas seguidas antes de llamar al personal")
    p.add_argument("--host", default="127.0.0.1", help="dirección donde escucha (0.0.0.0: toda la red)")
    p.add_argument("--port", type=int, default=8000, help="puerto")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import uvicorn

    import motores
    import pesos

    try:
        if args.lugares < 1 or not 0 <= args.techados <= args.lugares or args.intentos < 1:
            raise ValueError("--lugares tiene que ser al menos 1, --techados estar entre 0 y --lugares, "
                             "e --intentos ser al menos 1.")
        parking = estacionamiento.Parking(args.db)
        if parking.ensure_spots(args.lugares, args.techados):
            print(f"Base nueva {args.db}: {args.lugares} lugares ({args.techados} techados).", flush=True)
        print(f"Cargando el modelo {args.checkpoint} (motor {args.engine})…", flush=True)
        engine = motores.load_engine(args.checkpoint, args.engine)
    except (pesos.WeightsError, estacionamiento.ParkingError, sqlite3.Error, ValueError, OSError) as e:
        print(f"kiosco.py: error: {e}", file=sys.stderr)
        return 1
    if shutil.which("espeak-ng") is None:
        print("Aviso: no está espeak-ng; las preguntas se muestran pero no se dicen.", file=sys.stderr)
    print(f"Kiosco listo en http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(create_app(engine, parking, args.intentos), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
