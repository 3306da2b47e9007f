"""bench.py runs both ways on real clips and writes its report (speed targets live in the script, not here)."""

import json

from conftest import run


def test_bench_reports_both_ways_and_the_ratio(synth_dir, tiny_whisper_pt, tmp_path):
    report = tmp_path / "bench.json"
    result = run(["bench.py", "--model-name", str(tiny_whisper_pt), "--data-dir", str(synth_dir), "--n-clips", "8",
                  "--batch-size", "2", "--steps", "2", "--report", str(report)])
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["n_clips"] == 8 and data["steps_timed"] == 2
    assert data["original_samples_per_s"] > 0 and data["cached_samples_per_s"] > 0
    assert abs(data["train_ratio"] - data["cached_samples_per_s"] / data["original_samples_per_s"]) < 1e-9
    assert "razón:" in result.stdout
    assert not list(synth_dir.glob(".cache_encoder"))  # the benchmark's cache never lands in the user's data


def test_bench_rejects_too_few_clips_in_spanish():
    result = run(["bench.py", "--n-clips", "3", "--batch-size", "8"])
    assert result.returncode == 2 and "debe ser al menos" in result.stderr and "Traceback" not in result.stderr
