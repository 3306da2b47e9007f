"""The web kiosk: a FastAPI app serving one page (web/) that records the driver from the browser's
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
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from estacionamiento import dialogo, lote, voz
from modelo.audio import audio_problem, load_audio

PAGE_DIR = Path(__file__).with_name("web")
SESSION_TTL_S = 30 * 60  # an abandoned tab's dialogue is forgotten after this (nothing was recorded for it)
MAX_UPLOAD = 10 * 1024 * 1024  # 10 MB: far more than 30 s of 16 kHz PCM


@dataclass
class KioskSession:
    dialogue: dialogo.Dialogue
    turn: dialogo.Turn
    turn_no: int = 0
    seen: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


def create_app(engine, parking: lote.Parking, max_failures: int = 3):
    """The FastAPI app; `engine` is anything with `.transcribe([audio16k]) -> [text]` (see modelo/motores.py)."""
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
            problem = audio_problem(Path(f.name))
            if problem:
                raise HTTPException(400, f"No pude usar la grabación ({problem}): probá de nuevo.")
            audio = load_audio(f.name)
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
            wav = voz.speech_wav(s.turn.speech)
        except (subprocess.SubprocessError, OSError) as e:
            raise HTTPException(503, f"espeak-ng no pudo decir la pregunta ({e}).") from None
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    return app
