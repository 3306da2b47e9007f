"""The web kiosk: a FastAPI app serving one page (web/) that records the driver from the browser's
microphone, shows and speaks each question, and shows the ticket.

Every browser tab is its own session (its own `dialogo.Dialogue`); all share one speech model and
one lot database, so several kiosks can run against one server, or several servers against one file.

API (JSON unless said):
  POST /api/sesiones                        -> {"sesion", "texto", "listo", "ticket", "voz"}
  POST /api/sesiones/{id}/respuesta  (WAV)  -> the same plus "oido": what the model heard (its best text),
                                               and "hipotesis": [{"texto", "puntaje", "forzada"}], its n-best list
                                               (forzada: an answer only scored, after "Decí sí o no")
  GET  /api/sesiones/{id}/voz               -> the current prompt spoken by espeak-ng (audio/wav)
  GET  /api/estado                          -> free spots by kind
"""

from __future__ import annotations

import copy
import datetime
import http
import logging
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from corpus.datos import DataDirError
from estacionamiento import dialogo, escucha, lote, voz
from modelo.audio import audio_problem, load_audio
from texto.hipotesis import best_text

PAGE_DIR = Path(__file__).with_name("web")
SESSION_TTL_S = 30 * 60  # an abandoned tab's dialogue is forgotten after this (nothing was recorded for it)
MAX_UPLOAD = 10 * 1024 * 1024  # 10 MB: far more than 30 s of 16 kHz PCM
TOO_LONG = "La grabación es demasiado larga: respondé en menos de 30 segundos."
# Starlette's own errors carry the English reason phrase; these replace it (ours are Spanish already).
STATUS_TEXT = {
    404: "No existe esa dirección en el kiosco: abrí la página principal (/).",
    405: "Esa dirección no acepta este tipo de pedido (método HTTP).",
}
log = logging.getLogger("kiosco")


@dataclass
class KioskSession:
    dialogue: dialogo.Dialogue
    turn: dialogo.Turn
    turn_no: int = 0
    seen: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


def create_app(engine, parking: lote.Parking, max_failures: int = 3, n_best: int = escucha.N_BEST):
    """The FastAPI app; `engine` is anything with `.transcribe([audio16k]) -> [text]`, and n-best lists for
    what the dialogue asks when it takes `n_best` and `question` (see estacionamiento/escucha.py)."""
    app = FastAPI(title="Kiosco del estacionamiento", docs_url=None, redoc_url=None)
    add_spanish_errors(app)
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
        data = await read_upload(request)
        return await run_in_threadpool(process, sid, s, data)

    # Every refusal below leaves the session as it was: the driver answers the same question again.
    def process(sid: str, s: KioskSession, data: bytes) -> dict:
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            f.write(data)
            f.flush()
            problem = audio_problem(Path(f.name))
            if problem is None:
                try:
                    audio = load_audio(f.name)
                except DataDirError as e:  # names the temporary file: the driver only needs the reason
                    problem = str(e).removeprefix(f"{f.name}: ").rstrip(".")
        if problem and "silencio" in problem:
            raise HTTPException(400, "No te escuché: la grabación llegó en silencio. Revisá que el micrófono "
                                     "esté prendido y respondé de nuevo.")
        if problem:
            raise HTTPException(400, f"No pude usar la grabación ({problem}): probá de nuevo.")
        with s.lock:
            question = s.dialogue.question
        with model_lock:
            try:
                heard = escucha.hear(engine, audio, question, n_best)
            except Exception:  # whatever the engine hits, the driver can try again
                log.exception("la transcripción falló")
                raise HTTPException(503, "No pude pasar la grabación a texto por un problema del kiosco: "
                                         "probá de nuevo en un momento.") from None
        with s.lock:  # a double click sends two answers: they are applied one after the other
            # On a copy (sharing the lot), so a database failure halfway leaves the dialogue untouched.
            trial = copy.deepcopy(s.dialogue, {id(s.dialogue.parking): s.dialogue.parking})
            try:
                turn = trial.answer(heard)
            except sqlite3.Error:
                log.exception("la base del estacionamiento falló")
                raise HTTPException(503, "La base del estacionamiento no respondió: respondé de nuevo en un "
                                         "momento.") from None
            s.dialogue, s.turn = trial, turn
            s.turn_no += 1
            return {**turn_json(sid, s), "oido": best_text(heard),
                    "hipotesis": [{"texto": h.text, "puntaje": h.score, "forzada": h.forced} for h in heard]}

    @app.get("/api/sesiones/{sid}/voz")
    def voice(sid: str, n: int | None = None):  # n: the turn number, so no cache serves an old prompt
        s = get_session(sid)
        if shutil.which("espeak-ng") is None:
            raise HTTPException(503, "Este servidor no tiene espeak-ng: las preguntas solo se muestran escritas.")
        try:
            wav = voz.speech_wav(s.turn.speech)
        except (subprocess.SubprocessError, OSError) as e:
            raise HTTPException(503, f"espeak-ng no pudo decir la pregunta ({e}).") from None
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    return app


async def read_upload(request: Request) -> bytes:
    """The body, stopped as soon as it passes MAX_UPLOAD: a chunked upload has no Content-Length to
    refuse it up front."""
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
        raise HTTPException(413, TOO_LONG)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD:
            raise HTTPException(413, TOO_LONG)
    if not data:
        raise HTTPException(400, "La grabación llegó vacía: probá de nuevo.")
    return bytes(data)


def add_spanish_errors(app: FastAPI) -> None:
    """Every error answers {"detail": "<Spanish>"}, as the page shows `detail` to the driver."""

    @app.exception_handler(StarletteHTTPException)  # also routing's 404/405 and the static files' 404
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail
        try:
            default = http.HTTPStatus(exc.status_code).phrase
        except ValueError:
            default = None
        if detail == default:
            detail = STATUS_TEXT.get(exc.status_code, f"El kiosco no pudo atender el pedido (error {exc.status_code}).")
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        fields = ", ".join(f"«{'.'.join(str(p) for p in e.get('loc', ())[1:])}»" for e in exc.errors())
        return JSONResponse({"detail": f"Pedido inválido: revisá {fields} en la dirección o el contenido."},
                            status_code=422)

    @app.exception_handler(Exception)  # a bug: Spanish for the page, the traceback still goes to the log
    async def internal_error(request: Request, exc: Exception):
        return JSONResponse({"detail": "Error interno del kiosco: avisá al personal."}, status_code=500)
