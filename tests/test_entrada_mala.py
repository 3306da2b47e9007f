"""The standing bad-input suite: every command and the kiosk's API against a table of bad inputs.

Each row runs the real entry point in-process (`main(argv)`; the kiosk through its real FastAPI app) and
asserts: a Spanish message naming the file or field (or a counted skip in the report), no Python
exception escaping, no HTTP 500, and no existing input file changed. Nothing here needs espeak-ng or
Whisper base: the errors come before a model loads, and where a model must decode, it is a tiny real
Whisper. New commands and flags join the table.
"""

import datetime
import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import asistente
import exportar
import fine_tune
import kiosco
import preparar_datos
import ref_test
import sintetico
from conftest import ROOT, RunsCode, make_tiny_whisper
from corpus import datos
from estacionamiento import kiosco as kiosco_app
from estacionamiento import lote
from modelo import motores, pesos

RATE = 16000



def _voice(seconds: float, seed: int = 0) -> np.ndarray:
    """Speech-like enough for the checks (not silent, finite): a tone with a little noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 180 * t) + rng.normal(0, 0.02, t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    """A folder of bad (and a few good) inputs, made once; every row checks it is left unchanged."""
    d = tmp_path_factory.mktemp("entrada_mala")
    wav = d / "wav"
    wav.mkdir()
    sf.write(wav / "bien.wav", _voice(2), RATE)
    sf.write(wav / "estereo_44k.wav", np.stack([_voice(2, 1), _voice(2, 2)], 1), 44100)  # accepted
    nan = _voice(2)
    nan[500:900] = np.nan
    sf.write(wav / "nan.wav", nan, RATE, subtype="FLOAT")
    sf.write(wav / "silencio.wav", np.zeros(2 * RATE, np.float32), RATE)
    sf.write(wav / "largo.wav", _voice(31), RATE)
    sf.write(wav / "vacio.wav", np.zeros(0, np.float32), RATE)
    (wav / "texto.wav").write_text("esto no es audio\n")
    (wav / "cortado.wav").write_bytes((wav / "bien.wav").read_bytes()[:30])
    (wav / "cero_bytes.wav").write_bytes(b"")

    # A data dir with one good clip among bad ones, an empty transcript and a stereo 44.1 kHz clip.
    data = d / "datos"
    (data / "audios").mkdir(parents=True)
    rows = [("snf_a_001", "bien", "la patente es AB 123 CD"), ("snf_a_002", "estereo_44k", "me quedo dos horas"),
            ("snf_a_003", "nan", "techado"), ("snf_a_004", "silencio", "descubierto"), ("snf_a_005", "largo", "largo"),
            ("snf_a_006", "texto", "roto"), ("snf_a_007", "bien", "")]
    for utt, source, _ in rows:
        (data / "audios" / f"{utt}.wav").write_bytes((wav / f"{source}.wav").read_bytes())
    datos.write_transcripts(data, [(utt, text) for utt, _, text in rows])

    for name, content in (("una_columna", b"snf_a_001\n"), ("latin1", "snf_a_001\tcami\xf3n\n".encode("latin-1"))):
        broken = d / name
        (broken / "audios").mkdir(parents=True)
        (broken / "audios" / "snf_a_001.wav").write_bytes((wav / "bien.wav").read_bytes())
        (broken / datos.TRANSCRIPTS).write_bytes(content)

    kumo = d / "voz_de_evaluacion"  # Kokoro's jm_kumo is for evaluation only: never trained on
    (kumo / "audios").mkdir(parents=True)
    for i in range(4):
        (kumo / "audios" / f"snm_kk-kumo_0000{i}.wav").write_bytes((wav / "bien.wav").read_bytes())
    datos.write_transcripts(kumo, [(f"snm_kk-kumo_0000{i}", "me quedo dos horas") for i in range(4)])
    (kumo / datos.SPLIT).write_text("".join(f"snm_kk-kumo_0000{i}\ttrain\n" for i in range(4)))

    tiny = make_tiny_whisper()
    pesos.save_whisper(tiny, d / "tiny.pt")
    torch.save({"dims": tiny.dims.__dict__, "model_state_dict": tiny.state_dict(), "x": RunsCode(d / "ejecutado")},
               d / "hostil.pt")
    torch.save({"state_dict": {}, "whisper_dims": {}, "loops": {}, "optimizer_states": [],
                "x": RunsCode(d / "ejecutado")}, d / "hostil.ckpt")
    torch.save({"dims": tiny.dims.__dict__, "model_state_dict": {f"model.{k}": v for k, v in tiny.state_dict().items()}},
               d / "claves.pt")
    (d / "cortado.pt").write_bytes((d / "tiny.pt").read_bytes()[:4000])
    (d / "una_carpeta").mkdir()
    (d / "una_carpeta" / "algo.txt").write_text("de antes\n")

    foreign = sqlite3.connect(d / "otra_app.sqlite")
    foreign.execute("CREATE TABLE clientes (id INTEGER PRIMARY KEY, nombre TEXT)")
    foreign.execute("INSERT INTO clientes VALUES (1, 'Ana')")
    foreign.commit()
    foreign.close()

    zips = d / "zips_sin_audio" / "es_ar_female"  # the zip's folder, unpacked, with its tsv and no wavs
    zips.mkdir(parents=True)
    (zips / "line_index.tsv").write_text("arf_00001_00000001\tHola\n")
    prepared = d / "preparado"
    (prepared / "audios").mkdir(parents=True)
    for i in range(3):
        (prepared / "audios" / f"arf_00001_0000000{i}.wav").write_bytes((wav / "bien.wav").read_bytes())
    datos.write_transcripts(prepared, [(f"arf_00001_0000000{i}", f"frase {i}") for i in range(3)])
    return d


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _call(main, argv: list[str], capsys) -> tuple[int, str]:
    """(exit code, everything printed): argparse's own errors exit with SystemExit, which is a code too."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out + out.err


# (id, command's main, argv with {d} for the bad folder, expected exit: "error" or 0, fragments all in the output)
ROWS = [
    # fine_tune.py
    ("entrenar_sin_datos", fine_tune.main, ["--data-dir", "{d}/no_existe"], "error", ["no_existe", "transcripciones.tsv"]),
    ("entrenar_tsv_una_columna", fine_tune.main, ["--data-dir", "{d}/una_columna", "--model-name", "{d}/tiny.pt",
                                                  "--artifacts-dir", "{d}/salida"], "error", ["transcripciones.tsv:1"]),
    ("entrenar_tsv_no_utf8", fine_tune.main, ["--data-dir", "{d}/latin1", "--model-name", "{d}/tiny.pt",
                                              "--artifacts-dir", "{d}/salida"], "error", ["transcripciones.tsv", "UTF-8"]),
    ("entrenar_resume_hostil", fine_tune.main, ["--data-dir", "{d}/datos", "--resume", "{d}/hostil.ckpt"], "error",
     ["hostil.ckpt", "ejecutar código"]),
    ("entrenar_resume_cortado", fine_tune.main, ["--data-dir", "{d}/datos", "--resume", "{d}/cortado.pt"], "error",
     ["cortado.pt", "No se pudo leer"]),
    ("entrenar_modelo_hostil", fine_tune.main, ["--data-dir", "{d}/datos", "--model-name", "{d}/hostil.pt",
                                                "--artifacts-dir", "{d}/salida"], "error", ["hostil.pt", "ejecutar código"]),
    ("entrenar_modelo_claves", fine_tune.main, ["--data-dir", "{d}/datos", "--model-name", "{d}/claves.pt",
                                                "--artifacts-dir", "{d}/salida"], "error", ["claves.pt", "Faltan"]),
    ("entrenar_voz_solo_evaluacion", fine_tune.main, ["--data-dir", "{d}/voz_de_evaluacion", "--model-name",
                                                      "{d}/tiny.pt", "--artifacts-dir", "{d}/salida"], "error",
     ["solo para evaluar", "snm_kk-kumo"]),
    ("entrenar_lote_cero", fine_tune.main, ["--data-dir", "{d}/datos", "--batch-size", "0"], "error", ["--batch-size"]),
    # ref_test.py
    ("evaluar_modelo_hostil", ref_test.main, ["--checkpoint", "{d}/hostil.pt", "--data-dir", "{d}/datos",
                                              "--report", "{d}/salida/r.json"], "error", ["hostil.pt", "ejecutar código"]),
    ("evaluar_modelo_faltante", ref_test.main, ["--checkpoint", "{d}/no_existe.pt", "--data-dir", "{d}/datos",
                                                "--report", "{d}/salida/r.json"], "error", ["no_existe.pt"]),
    ("evaluar_reporte_carpeta", ref_test.main, ["--checkpoint", "{d}/tiny.pt", "--data-dir", "{d}/datos",
                                                "--report", "{d}/una_carpeta"], "error", ["una_carpeta", "--report"]),
    ("evaluar_datos_faltantes", ref_test.main, ["--checkpoint", "{d}/tiny.pt", "--data-dir", "{d}/no_existe",
                                                "--report", "{d}/salida/r.json"], "error", ["no_existe"]),
    ("evaluar_tsv_no_utf8", ref_test.main, ["--checkpoint", "{d}/tiny.pt", "--data-dir", "{d}/latin1",
                                            "--report", "{d}/salida/r.json"], "error", ["transcripciones.tsv", "UTF-8"]),
    # exportar.py
    ("exportar_hostil", exportar.main, ["--checkpoint", "{d}/hostil.pt", "--to", "openai", "--out", "{d}/salida/m.pt"],
     "error", ["hostil.pt", "ejecutar código"]),
    ("exportar_cortado", exportar.main, ["--checkpoint", "{d}/cortado.pt", "--to", "openai", "--out", "{d}/salida/m.pt"],
     "error", ["cortado.pt"]),
    ("exportar_sobre_carpeta_ajena", exportar.main, ["--checkpoint", "{d}/tiny.pt", "--to", "ctranslate2",
                                                    "--out", "{d}/una_carpeta"], "error", ["una_carpeta"]),
    # asistente.py: every answer is checked before the model loads
    *[(f"asistente_{name}", asistente.main, ["--checkpoint", "{d}/tiny.pt", "--db", "{d}/salida/lote.db",
                                             "--respuestas", "{d}/wav/bien.wav", f"{{d}}/wav/{name}.wav"], "error",
       [f"{name}.wav", says])
      for name, says in (("nan", "NaN"), ("silencio", "silencio"), ("largo", "más de 30 s"), ("vacio", "vacío"),
                         ("texto", "ilegible"), ("cortado", "ilegible"), ("cero_bytes", "ilegible"),
                         ("no_existe", "faltante"))],
    ("asistente_modelo_hostil", asistente.main, ["--checkpoint", "{d}/hostil.pt", "--db", "{d}/salida/lote.db",
                                                 "--respuestas", "{d}/wav/bien.wav"], "error", ["hostil.pt", "ejecutar código"]),
    ("asistente_base_ajena", asistente.main, ["--db", "{d}/otra_app.sqlite", "--salida", "AB123CD"], "error",
     ["otra_app.sqlite"]),
    ("asistente_hora_con_zona", asistente.main, ["--db", "{d}/salida/lote.db", "--reservar", "AB123CD", "18:30Z"],
     "error", ["18:30Z", "HH:MM"]),
    ("asistente_patente_invalida", asistente.main, ["--db", "{d}/salida/lote.db", "--salida", "hola"], "error", ["hola"]),
    # kiosco.py: stops before the model loads and before serving
    ("kiosco_base_ajena", kiosco.main, ["--checkpoint", "{d}/tiny.pt", "--db", "{d}/otra_app.sqlite", "--port", "{port}"],
     "error", ["otra_app.sqlite"]),
    ("kiosco_modelo_hostil", kiosco.main, ["--checkpoint", "{d}/hostil.pt", "--db", "{d}/salida/k.db", "--port", "{port}"],
     "error", ["hostil.pt", "ejecutar código"]),
    # preparar_datos.py and sintetico.py: never replace a data dir's files with less
    ("preparar_sin_zips", preparar_datos.main, ["--zips", "{d}/no_existe", "--data-dir", "{d}/salida/p", "--sin-barra"],
     "error", ["no_existe"]),
    ("preparar_tsv_sin_audios", preparar_datos.main, ["--zips", "{d}/zips_sin_audio", "--data-dir", "{d}/preparado",
                                                      "--sin-barra"], "error", ["preparado"]),
    ("sintetizar_sobre_datos_ajenos", sintetico.main, ["--out", "{d}/preparado", "--n", "2", "--sin-progreso"], "error",
     ["preparado", "no hizo sintetico.py"]),
    ("sintetizar_cero", sintetico.main, ["--out", "{d}/salida/s", "--n", "0"], "error", ["--n"]),
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_a_spanish_message_and_changes_nothing(row, bad, capsys):
    _, main, argv, expected, fragments = row
    port = str(_free_port())
    argv = [a.replace("{d}", str(bad)).replace("{port}", port) for a in argv]
    before = _snapshot(bad)
    code, output = _call(main, argv, capsys)
    if expected == "error":
        assert code not in (0, None), output
    else:
        assert code == expected, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} no está en:\n{output}"
    assert "Traceback" not in output
    changed = {k for k in before if _snapshot(bad).get(k) != before[k]}
    assert not changed, f"cambió: {sorted(changed)}"
    assert not (bad / "ejecutado").exists(), "el pickle hostil se ejecutó"


def test_evaluation_counts_each_bad_clip_and_scores_the_rest(bad, tmp_path, capsys):
    """ref_test on a data dir with one good clip, one stereo 44.1 kHz clip (accepted) and bad ones: the bad ones
    are counted by reason in the report, `n` is what was scored, and nothing in the data dir changes."""
    before = _snapshot(bad)
    report = tmp_path / "r.json"
    code, output = _call(ref_test.main, ["--checkpoint", str(bad / "tiny.pt"), "--data-dir", str(bad / "datos"),
                                         "--report", str(report), "--beam-size", "1"], capsys)
    assert code == 0, output
    assert "Traceback" not in output
    result = json.loads(report.read_text())
    assert result["n"] == 2  # bien + estereo_44k
    said = output
    for reason in ("NaN", "silencio", "más de 30 s", "ilegible", datos.EMPTY_TEXT):
        assert reason in said, reason
    assert _snapshot(bad) == before


@pytest.fixture
def kiosk(bad, tmp_path):
    from fastapi.testclient import TestClient

    engine = motores.OpenAIEngine(pesos.load_whisper(bad / "tiny.pt"), "tiny")
    parking = lote.Parking(tmp_path / "lote.db")
    parking.ensure_spots(4, 2)
    return TestClient(kiosco_app.create_app(engine, parking), raise_server_exceptions=False), tmp_path / "lote.db"


def test_the_kiosk_answers_every_bad_upload_in_spanish_json_and_the_session_goes_on(kiosk, bad):
    client, db = kiosk
    sid = client.post("/api/sesiones").json()["sesion"]
    before = _snapshot(bad)
    lot_before = lote.Parking(db).entries()
    for name in ("nan", "silencio", "largo", "vacio", "texto", "cortado", "cero_bytes"):
        answer = client.post(f"/api/sesiones/{sid}/respuesta", content=(bad / "wav" / f"{name}.wav").read_bytes())
        assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/json"), name
        assert answer.json()["detail"], name
    assert client.post("/api/sesiones/inventada/respuesta", content=b"x").status_code == 404
    assert "Sesión" in client.post("/api/sesiones/inventada/respuesta", content=b"x").json()["detail"]
    assert client.get("/no/existe").status_code == 404 and client.get("/no/existe").json()["detail"]
    ok = client.post(f"/api/sesiones/{sid}/respuesta", content=(bad / "wav" / "estereo_44k.wav").read_bytes())
    assert ok.status_code == 200 and "oido" in ok.json()  # stereo at 44.1 kHz is accepted, and the session went on
    assert lote.Parking(db).entries() == lot_before
    assert _snapshot(bad) == before


def test_two_writers_on_one_lot_never_share_the_last_spot(tmp_path):
    """Two assistants reserve the last covered spot at the same moment: one gets it, the other a Spanish refusal."""
    db = tmp_path / "lote.db"
    parking = lote.Parking(db)
    parking.ensure_spots(1, 1)
    processes = [subprocess.Popen([sys.executable, "asistente.py", "--db", str(db), "--reservar", plate, "23:59",
                                   "--techado"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for plate in ("AB123CD", "AC456DE")]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert sorted(code for code, _, _ in results) == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert "Traceback" not in loser and "lugar" in loser
    assert lote.Parking(db).free_spots(datetime.datetime.now())[True] == 0
