"""The kiosk's API on bad input, through the real FastAPI app (TestClient, or uvicorn on a socket) and a
real SQLite lot. The speech model is a stand-in: every row here is about what happens before it, or
around it, so a row that must not reach it uses an engine that fails the test when called."""

import socket
import sqlite3
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import uvicorn
from fastapi.testclient import TestClient

from estacionamiento import lote
from estacionamiento.escucha import N_BEST, hear, takes_n_best
from estacionamiento.kiosco import MAX_UPLOAD, create_app
from texto.hipotesis import CONFIRM, COVERED, PLATE, STAY, Hypothesis


class Scripted:
    """Answers the given texts in order (an exception in the list is raised instead); one call more
    than the script fails the test: the model was reached when it should not have been."""

    def __init__(self, *replies):
        self.replies = list(replies)

    def transcribe(self, audios):
        if not self.replies:
            pytest.fail(f"the model was reached ({len(audios)} audio(s))")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return [reply]


def wav(path, samples, subtype="PCM_16"):
    sf.write(str(path), np.asarray(samples, dtype=np.float32), 16000, subtype=subtype)
    return path.read_bytes()


@pytest.fixture
def clips(tmp_path):
    t = np.arange(16000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    nan = tone.copy()
    nan[::100] = np.nan
    return {"voz": wav(tmp_path / "voz.wav", tone),
            "nan": wav(tmp_path / "nan.wav", nan, subtype="FLOAT"),
            "silencio": wav(tmp_path / "silencio.wav", np.zeros(16000))}


def kiosk(tmp_path, engine, timeout_s=30.0):
    parking = lote.Parking(tmp_path / "lote.db", timeout_s=timeout_s)
    parking.create_spots(4, covered=2)
    return TestClient(create_app(engine, parking)), parking


def begin(client) -> str:
    r = client.post("/api/sesiones")
    assert r.status_code == 200
    return r.json()["sesion"]


def refused(r, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    return r.json()["detail"]


@pytest.mark.parametrize("clip, said", [("nan", "no numéricos (NaN o infinito)"), ("silencio", "No te escuché")])
def test_an_unusable_answer_is_a_spanish_400_and_the_session_goes_on(tmp_path, clips, clip, said):
    client, parking = kiosk(tmp_path, Scripted("la patente es AB 123 CD"))
    sid = begin(client)
    free = client.get("/api/estado").json()
    detail = refused(client.post(f"/api/sesiones/{sid}/respuesta", content=clips[clip]), 400)
    assert said in detail and "de nuevo" in detail
    # the same session answers the same question next, as the first answer of its dialogue
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert (turn["texto"], turn["voz"].endswith("?n=1")) == ("Entendí AB 123 CD. ¿Es correcto?", True)
    assert client.get("/api/estado").json() == free and parking.entries() == []


def test_a_failing_transcription_is_a_spanish_503_and_the_session_goes_on(tmp_path, clips):
    # What NaN samples did to the decoder before they were caught: a ValueError deep inside it.
    engine = Scripted(ValueError("array must not contain infs or NaNs"), "la patente es AB 123 CD")
    client, _ = kiosk(tmp_path, engine)
    sid = begin(client)
    detail = refused(client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]), 503)
    assert "probá de nuevo" in detail
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert turn["texto"] == "Entendí AB 123 CD. ¿Es correcto?" and turn["voz"].endswith("?n=1")


def test_a_locked_database_is_a_spanish_503_and_the_answer_can_be_repeated(tmp_path, clips):
    engine = Scripted("la patente es AB 123 CD, me quedo dos horas, al aire libre", "sí", "sí")
    client, parking = kiosk(tmp_path, engine, timeout_s=0.2)
    sid = begin(client)
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert turn["texto"].startswith("Entendí AB 123 CD, 2 horas") and turn["texto"].endswith("¿Es correcto?")
    other = sqlite3.connect(tmp_path / "lote.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock past the kiosk's timeout
    detail = refused(client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]), 503)
    assert "respondé de nuevo" in detail and parking.entries() == []
    other.execute("ROLLBACK")
    other.close()
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert turn["listo"] and turn["ticket"]["plate"] == "AB123CD" and turn["voz"].endswith("?n=2")
    assert [e.plate for e in parking.entries()] == ["AB123CD"]


def test_errors_of_the_http_layer_answer_spanish_json(tmp_path, clips):
    client, _ = kiosk(tmp_path, Scripted())
    sid = begin(client)
    assert "No existe esa dirección" in refused(client.get("/no-existe"), 404)
    assert "No existe esa dirección" in refused(client.get("/kiosco/no-existe.js"), 404)  # the static files
    assert "Sesión desconocida" in refused(client.post("/api/sesiones/xyz/respuesta", content=clips["voz"]), 404)
    r = client.post("/api/estado")
    assert "no acepta este tipo de pedido" in refused(r, 405) and r.headers["allow"] == "GET"
    assert "«n»" in refused(client.get(f"/api/sesiones/{sid}/voz?n=abc"), 422)
    assert "vacía" in refused(client.post(f"/api/sesiones/{sid}/respuesta", content=b""), 400)
    too_big = b"\0" * (MAX_UPLOAD + 1)
    assert "demasiado larga" in refused(client.post(f"/api/sesiones/{sid}/respuesta", content=too_big), 413)


def test_a_chunked_upload_is_cut_at_the_limit_without_waiting_for_its_end(tmp_path):
    """Real uvicorn: a chunked body has no Content-Length, and this one never ends (no closing chunk).
    The kiosk must answer 413 once it has read one byte more than MAX_UPLOAD, not wait for the rest."""
    client, parking = kiosk(tmp_path, Scripted())
    sid = begin(client)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(client.app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        with socket.create_connection(listener.getsockname(), timeout=20) as c:
            c.sendall(f"POST /api/sesiones/{sid}/respuesta HTTP/1.1\r\nHost: kiosco\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n".encode())
            piece = b"\0" * 65536
            for _ in range(MAX_UPLOAD // len(piece)):
                c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.sendall(b"1\r\n\0\r\n")  # one byte past the limit; everything sent is read, so no reset
            reply = b""
            try:
                while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
                    got = c.recv(65536)
                    if not got:
                        break
                    reply += got
            except TimeoutError:
                pytest.fail(f"no answer while the body was still open (got {reply!r})")
        assert reply.startswith(b"HTTP/1.1 413 "), reply
        assert b"demasiado larga" in reply
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert parking.entries() == []


def test_refusals_do_not_count_as_failed_answers(tmp_path, clips):
    """More refused uploads than max_failures still leave the driver in the dialogue, not with the staff."""
    client, _ = kiosk(tmp_path, Scripted("la patente es AB 123 CD"))
    sid = begin(client)
    for _ in range(4):  # create_app's default max_failures is 3
        refused(client.post(f"/api/sesiones/{sid}/respuesta", content=clips["silencio"]), 400)
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert not turn["listo"] and turn["texto"] == "Entendí AB 123 CD. ¿Es correcto?"


class NBestScripted:
    """An engine with the n-best contract (texto/hipotesis.py): answers the given lists in order and
    records the `question` and `n_best` each call was decoded for."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.asked = []

    def transcribe(self, audios, beam_size=None, *, n_best=1, question=None):
        if not self.replies:
            pytest.fail(f"the model was reached ({len(audios)} audio(s))")
        self.asked.append((question, n_best))
        reply = [Hypothesis(text, score) for text, score in self.replies.pop(0)]
        return [reply] if n_best > 1 or question is not None else [reply[0].text]


def test_the_kiosk_asks_for_n_best_and_offers_the_next_candidate(tmp_path, clips):
    engine = NBestScripted([("la patente es AB 123 CE", -0.1), ("la patente es AB 123 CB", -0.6)], [("No.", -0.1)],
                           [("Sí.", -0.1)], [("Dos horas.", -0.2)], [("Sí.", -0.1)], [("No.", -0.1)])
    client, parking = kiosk(tmp_path, engine)
    sid = begin(client)
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert (turn["texto"], turn["oido"]) == ("Entendí AB 123 CE. ¿Es correcto?", "la patente es AB 123 CE")
    assert turn["hipotesis"] == [{"texto": "la patente es AB 123 CE", "puntaje": -0.1, "forzada": False},
                                 {"texto": "la patente es AB 123 CB", "puntaje": -0.6, "forzada": False}]
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert turn["texto"] == "¿Entonces es AB 123 CB?" and turn["oido"] == "No."
    for _ in range(4):
        turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert turn["listo"] and turn["ticket"]["plate"] == "AB123CB"
    assert [q for q, _ in engine.asked] == [PLATE, CONFIRM, CONFIRM, STAY, CONFIRM, COVERED]
    assert {n for _, n in engine.asked} == {N_BEST}
    assert [e.plate for e in parking.entries()] == ["AB123CB"]


def test_an_engine_without_n_best_is_asked_as_before():
    """The front ends' adapter: an engine that only takes `audios` gets exactly that, and its text is a
    one-item list."""
    engine = Scripted("la patente es AB 123 CD")
    assert hear(engine, np.zeros(16000, np.float32), PLATE) == [Hypothesis("la patente es AB 123 CD", 0.0)]
    assert not takes_n_best(engine) and takes_n_best(NBestScripted())


@pytest.mark.parametrize("clip, said", [("vacio", "llegó vacía"), ("silencio", "No te escuché"),
                                        ("roto", "No pude usar la grabación (audio ilegible)")])
def test_a_bad_recording_mid_session_is_a_spanish_400_and_the_session_goes_on(tmp_path, clips, clip, said):
    """After "¿es correcto?": the refusal says why in Spanish, the proposal still waits, nothing is in the lot."""
    engine = Scripted("la patente es AB 123 CD, dos horas, techado", "sí")
    client, parking = kiosk(tmp_path, engine)
    sid = begin(client)
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert turn["texto"] == "Entendí AB 123 CD, 2 horas (hasta las " + turn["texto"].split("hasta las ")[1]
    bad = {"vacio": b"", "roto": b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)), "silencio": clips["silencio"]}
    detail = refused(client.post(f"/api/sesiones/{sid}/respuesta", content=bad[clip]), 400)
    assert said in detail and "de nuevo" in detail
    assert parking.entries() == []
    turn = client.post(f"/api/sesiones/{sid}/respuesta", content=clips["voz"]).json()
    assert turn["listo"] and turn["ticket"]["plate"] == "AB123CD" and turn["voz"].endswith("?n=2")
    assert [e.plate for e in parking.entries()] == ["AB123CD"]
