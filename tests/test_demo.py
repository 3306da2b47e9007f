"""demo.py, the main job, run for real at a tiny scale: synthesis, base fine-tuning, both reports."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, SHARED, run


@pytest.mark.voz
@pytest.mark.base
def test_demo_runs_end_to_end_at_small_scale(tmp_path):
    real = SHARED / "audio" / "real_es"
    if not real.exists():
        pytest.skip(f"{real} no está (viene en ../shared)")
    manifest = tmp_path / "real"
    manifest.mkdir()
    lines = (real / "manifest.tsv").read_text(encoding="utf-8").splitlines()
    keep = [lines[0]] + [line for line in lines[1:] if line.startswith("asterisk_")][:2]
    (manifest / "manifest.tsv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    for line in keep[1:]:
        shutil.copy(real / line.split("\t")[0], manifest)
    result = run(["demo.py", "--datos", str(tmp_path / "datos"), "--artifacts-dir", str(tmp_path / "artifacts"),
                  "--log-dir", str(tmp_path / "logs"), "--n-train", "12", "--n-test", "3", "--max-steps", "2",
                  "--batch-size", "4", "--habla-real", str(manifest)], timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]  # it ran correctly, whatever the targets say
    targets = result.stdout.split("=== Objetivos ===")[1]
    for line in ("[espeak-ng] WER con voces nuevas:", "[Kokoro] WER con voces nuevas:", "[espeak-ng] Los tres datos bien",
                 "[Kokoro] Los tres datos bien", "[Kokoro] Patente", "Habla real: WER"):
        verdict = next(t for t in targets.splitlines() if t.startswith(line))
        assert "cumple" in verdict, verdict  # "cumple" or "NO cumple", one per target
    assert "La demo terminó bien" in targets
    report = json.loads((tmp_path / "artifacts" / "ref_test.json").read_text())
    assert report["n"] == 3 and report["baseline"]["model"] == "base" and report["slots"] is not None
    assert report["model"].endswith("modelo-ultimo.pt")  # the annealed end of the bounded run
    neural = json.loads((tmp_path / "artifacts" / "ref_test-kokoro.json").read_text())
    assert neural["n"] == 3 and neural["baseline"]["model"] == "base"
    heard = [u["id"] for s in neural["by_speaker"].values() for u in s["utterances"]]
    assert all(i.split("_")[1] in ("kk-tebukuro", "kk-kumo") for i in heard), heard  # the evaluation-only styles
    trained = (tmp_path / "datos" / "entrenamiento" / "transcripciones.tsv").read_text(encoding="utf-8")
    assert "_kk-" in trained and "tebukuro" not in trained and "kumo" not in trained  # the mix, never them
    forgetting = json.loads((tmp_path / "artifacts" / "olvido.json").read_text())
    assert forgetting["n"] == 2 and forgetting["baseline"]["n"] == 2
    assert (tmp_path / "artifacts" / "ref_test.png").exists() and (tmp_path / "artifacts" / "modelo-mejor.pt").exists()


def test_demo_refuses_a_real_speech_folder_without_manifest_before_any_work(tmp_path):
    result = run(["demo.py", "--datos", str(tmp_path / "datos"), "--habla-real", str(tmp_path)], timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--habla-real {tmp_path}: no tiene manifest.tsv" in result.stderr
    assert not (tmp_path / "datos").exists()  # nothing synthesised, nothing trained


@pytest.mark.parametrize("missing", ["DEMO_MODEL", "REAL_SPEECH"])
def test_make_olvido_says_what_is_missing_in_spanish(tmp_path, missing):
    """`make olvido` before `make demo`, or without ../shared: one line saying what to do, no traceback."""
    model = tmp_path / "modelo.pt"
    real = tmp_path / "real"
    if missing != "DEMO_MODEL":
        model.write_bytes(b"")
    # -o setup: the set-up is not this test's business (and must not start a pip install here)
    result = subprocess.run(["make", "-s", "-o", "setup", "olvido", f"DEMO_MODEL={model}", f"REAL_SPEECH={real}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    expected = "corré primero 'make demo'" if missing == "DEMO_MODEL" else "el habla real viene en ../shared"
    assert expected in result.stdout, result.stdout + result.stderr


def test_demo_without_espeak_is_one_spanish_error(tmp_path):
    """A step that cannot run here ends the demo with its reason in Spanish (exit 1), not a traceback."""
    result = run(["demo.py", "--datos", str(tmp_path / "datos"), "--artifacts-dir", str(tmp_path / "artifacts")],
                 env={**os.environ, "PATH": str(tmp_path)}, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "demo.py: error: no encuentro espeak-ng" in result.stderr and "apt-get install espeak-ng" in result.stderr


def test_demo_reports_every_bad_option_at_once_before_any_work(tmp_path):
    result = run(["demo.py", "--datos", str(tmp_path / "datos"), "--minutos", "-5", "--keep-delta", "1.5",
                  "--beam-size", "0"], timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for message in ("--minutos -5: tiene que ser positivo", "--keep-delta 1.5: tiene que ser mayor que 0",
                    "--beam-size 0: tiene que ser 1 (greedy) o más"):
        assert message in result.stderr, result.stderr
    assert not (tmp_path / "datos").exists()
