"""bench.py runs each part on real clips and writes its report (speed targets live in the script, not here)."""

import json

import pytest

from conftest import run
from test_ref_test import quiet_tiny_pt  # noqa: F401  (a fixture: the tiny model that stops at once)


@pytest.mark.voz
def test_bench_training_reports_both_ways_and_the_ratio(synth_dir, tiny_whisper_pt, tmp_path):
    report = tmp_path / "bench.json"
    result = run(["bench.py", "--model-name", str(tiny_whisper_pt), "--data-dir", str(synth_dir), "--n-clips", "8",
                  "--batch-size", "2", "--steps", "2", "--solo", "entrenamiento", "--report", str(report)])
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["n_clips"] == 8 and data["steps_timed"] == 2 and "inference_ratio" not in data
    assert data["original_samples_per_s"] > 0 and data["cached_samples_per_s"] > 0
    assert abs(data["train_ratio"] - data["cached_samples_per_s"] / data["original_samples_per_s"]) < 1e-9
    assert "razón:" in result.stdout
    rows = data["context"]["rows"]  # 30 s and the short context, each with and without packing
    assert {(r["audio_context"], r["pack_seconds"]) for r in rows.values()} == {("30", 0), ("30", 28), ("10", 0), ("10", 10)}
    assert all(r["s_per_step"] > 0 and r["answers_per_s"] > 0 for r in rows.values())
    assert rows["10|0"]["windows_s"] == [10] and rows["30|0"]["windows_s"] == [30]
    assert abs(data["context_step_ratio"] - rows["30|0"]["s_per_step"] / rows["10|0"]["s_per_step"]) < 1e-9
    assert "context_step_ratio" in result.stdout
    assert not list(synth_dir.glob(".cache_encoder"))  # the benchmark's cache never lands in the user's data


@pytest.mark.voz
def test_bench_inference_times_eight_ways_on_the_same_clips(synth_dir, quiet_tiny_pt, tmp_path):  # noqa: F811
    report = tmp_path / "bench.json"
    result = run(["bench.py", "--model-name", str(quiet_tiny_pt), "--data-dir", str(synth_dir), "--n-clips", "3",
                  "--batch-size", "2", "--solo", "inferencia", "--report", str(report)])
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(report.read_text())
    part = data["inference"]
    assert "train_ratio" not in data and part["n_clips"] == 3 and part["clip_seconds"] == 5
    seconds = part["s_per_clip"]
    assert set(seconds) == {"openai_transcribe", "openai_batched", "openai_batched_bf16", "faster_whisper_int8_transcribe",
                            "faster_whisper_int8_batched", "faster_whisper_float32_batched", "openai_batched_short",
                            "ctranslate2_int8_short_one"}
    assert all(v > 0 for v in seconds.values())
    # The deployable path: an int8 export with the short context, one answer at a time.
    assert abs(data["inference_ratio"] - seconds["openai_transcribe"] / seconds["ctranslate2_int8_short_one"]) < 1e-9
    assert "inference_ratio" in result.stdout and "faster-whisper int8" in result.stdout
    assert not list(synth_dir.glob("ct2*"))  # the export lives in the benchmark's temporary folder


@pytest.mark.voz
def test_bench_rejects_too_few_clips_in_spanish():
    result = run(["bench.py", "--n-clips", "3", "--batch-size", "8"])
    assert result.returncode == 2 and "debe ser al menos" in result.stderr and "Traceback" not in result.stderr
    result = run(["bench.py", "--solo", "ninguna"])
    assert result.returncode == 2 and "opción inválida" in result.stderr
