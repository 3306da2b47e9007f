"""simulacion.py end to end: real drivers (espeak-ng) through the real kiosk server (kiosco.py with Whisper
base, its HTTP API and a real SQLite lot), and the report's numbers held against its own sessions."""

import json

import pytest

from conftest import run
from estacionamiento import simulacion as sim


def test_mistakes_are_said_in_spanish_before_any_kiosk_starts(tmp_path):
    afile = tmp_path / "archivo"
    afile.write_text("x")
    for args, said in ((["--sesiones", "0"], "--sesiones e --intentos tienen que ser al menos 1"),
                       (["--voces", "es+nadie"], "voz desconocida: es+nadie"),
                       (["--out", str(afile)], "es un archivo; tiene que ser una carpeta"),
                       (["--modelo", "no/existe.pt"], "--modelo no/existe.pt: no existe")):
        result = run(["simulacion.py", "--out", str(tmp_path / "out"), *args], timeout=120)  # the last --out wins
        assert result.returncode == 1 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "Kiosco con" not in result.stdout


@pytest.mark.base
@pytest.mark.voz
def test_a_few_drivers_through_the_kiosk_make_a_consistent_report(tmp_path):
    """With --pista: the drivers say the plate as the kiosk's hint asks from their first answer."""
    out = tmp_path / "sim"
    result = run(["simulacion.py", "--modelo", "base", "--motor", "openai", "--sesiones", "2", "--seed", "1",
                  "--voces", "es-419+f3,es+m1", "--pista", "--out", str(out), "--sin-progreso"], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ticket exacto" in result.stdout and "espera p95" in result.stdout
    report = json.loads((out / "simulacion.json").read_text(encoding="utf-8"))
    assert "--sesiones 2" in report["comando"] and report["voces"] == ["es-419+f3", "es+m1"]
    [one] = report["corridas"]
    assert (one["modelo"], one["motor"]) == ("base", "openai")
    summary, sessions = one["resumen"], one["sesiones"]
    assert summary["sesiones"] == len(sessions) == 2
    assert sum(summary[o] for o in sim.OUTCOMES) == 2
    # the same drivers as the library makes for this seed, and each outcome is what its ticket says
    drivers = sim.make_drivers(2, 1, ["es-419+f3", "es+m1"], hint_first=True)
    for session, driver in zip(sessions, drivers, strict=True):
        assert session["truth"] == {"plate": driver.truth.plate, "stay_minutes": driver.truth.stay_minutes,
                                    "covered": driver.truth.covered}
        last = {"listo": session["ticket"] is not None, "ticket": session["ticket"]}
        assert sim.judge(driver.truth, last) == session["outcome"]
        assert session["turns"] and all(t["espera_s"] > 0 for t in session["turns"])
        assert all(t.get("oido") is not None or t.get("rechazo") for t in session["turns"])
        assert session["turns"][0]["pregunta"].startswith("¡Hola!")
        assert (session["turns"][0]["intencion"], session["turns"][0]["despacio"]) == ("plate", True)
    assert summary["turnos"] == sum(len(s["turns"]) for s in sessions)
    assert 0 < summary["espera_p50_s"] <= summary["espera_p95_s"]
    assert summary["patente_primera"] <= summary["patente_en_dos"] <= 2
    assert 2 <= summary["pista_respuestas"] and 0 <= summary["pista_bien"] <= summary["pista_respuestas"]
    md = (out / "simulacion.md").read_text(encoding="utf-8")
    assert "| base | openai | 2 |" in md and report["comando"] in md
    assert (out / "simulacion.png").stat().st_size > 10_000
