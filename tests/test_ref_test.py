"""The real ref_test.py command on real audio (espeak-ng and ../shared real speech), tiny and base models."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

import ref_test
from conftest import SHARED, make_tiny_whisper, run, train
from corpus import datos
from modelo import pesos

TOP_KEYS = ["model", "data_dir", "split", "n", "wer", "cer", "raw_wer", "by_speaker", "slots",
            "slots_from_reference", "baseline"]
SLOT_KEYS = {"plate", "stay_minutes", "covered", "all"}


def _ref_test(checkpoint, data_dir, report, *extra):
    return run(["ref_test.py", "--checkpoint", str(checkpoint), "--data-dir", str(data_dir), "--report", str(report),
                "--sin-progreso", *extra], timeout=600)


def _check_report_shape(report: dict, with_baseline: bool):
    assert list(report) == TOP_KEYS
    assert isinstance(report["model"], str) and isinstance(report["data_dir"], str) and isinstance(report["split"], str)
    assert isinstance(report["n"], int) and report["n"] > 0
    for key in ("wer", "cer", "raw_wer"):
        assert isinstance(report[key], float) and report[key] >= 0
    for speaker, entry in report["by_speaker"].items():
        assert entry["n"] == len(entry["utterances"]) and isinstance(entry["wer"], float), speaker
    assert sum(e["n"] for e in report["by_speaker"].values()) == report["n"]
    if with_baseline:
        base = report["baseline"]
        assert list(base) == TOP_KEYS[:-1]
        assert base["n"] == report["n"] and set(base["by_speaker"]) == set(report["by_speaker"])
    else:
        assert report["baseline"] is None


@pytest.fixture(scope="module")
def quiet_tiny_pt(tmp_path_factory):
    """The tiny model made to end each answer after one token: a random one talks for 224 tokens, and
    decoding that on a busy CPU is most of this file's time. For tests where its text does not matter."""
    import whisper

    model = make_tiny_whisper()
    eot = whisper.tokenizer.get_tokenizer(True).eot
    with torch.no_grad():  # constant final state e0, and only EOT's (tied) output row points along it
        model.decoder.ln.weight.zero_()
        model.decoder.ln.bias.zero_()
        model.decoder.ln.bias[0] = 1.0
        model.decoder.token_embedding.weight[eot, 0] = 20.0
    return pesos.save_whisper(model, tmp_path_factory.mktemp("tiny_quiet") / "tiny_quiet.pt")


def _hypotheses(report: dict) -> dict[str, str]:
    return {u["id"]: u["hypothesis"] for e in report["by_speaker"].values() for u in e["utterances"]}


@pytest.mark.base
def test_help_is_in_spanish():
    result = run(["ref_test.py", "--help"])
    assert result.returncode == 0
    assert result.stdout.startswith("uso: ref_test.py") and "mostrar esta ayuda" in result.stdout
    assert "--compare-with" in result.stdout and "--beam-size" in result.stdout and "--engine" in result.stdout
    assert "--precision" in result.stdout and "--gramatica-patente" in result.stdout
    for flag, value, says in (("--precision", "fp8", "opción inválida"), ("--gramatica-patente", "si", "se esperaba un número"),
                              ("--gramatica-patente", "2", "opción inválida")):
        bad = run(["ref_test.py", "--checkpoint", "base", "--data-dir", ".", flag, value])
        assert bad.returncode == 2 and says in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


@pytest.mark.base
@pytest.mark.voz
def test_tiny_against_base_on_synthetic_audio(synth_dir, quiet_tiny_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    ids = list(datos.read_transcripts(data))
    datos.audio_path(data, ids[1]).unlink()  # a missing clip is a counted skip, not a crash
    out = tmp_path / "informe" / "r.json"
    result = _ref_test(quiet_tiny_pt, data, out, "--compare-with", "base", "--limit", "3", "--batch-size", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    # the defaults: beam search as the whisper command, numbers any machine gets, and the plate's grammar on
    assert "Decodificación con búsqueda en haz de 5 (--beam-size 5; 1: greedy)" in result.stdout
    assert "Decodificación en fp32 (--precision fp32), con la gramática de la patente" in result.stdout
    assert "no tiene particion.tsv" in result.stdout and "1 por audio faltante" in result.stdout
    assert "WER (normalizado)" in result.stdout and "diferencia" in result.stdout and "Las tres (audio)" in result.stdout

    report = json.loads(out.read_text())
    _check_report_shape(report, with_baseline=True)
    assert report["n"] == 3 and report["split"] == ref_test.ALL_ROWS
    used = [ids[0], *ids[2:4]]
    assert set(report["by_speaker"]) == {datos.speaker_of(i) for i in used}
    assert set(_hypotheses(report)) == set(used)
    for key in ("slots", "slots_from_reference"):
        for rep in (report, report["baseline"]):
            assert SLOT_KEYS <= set(rep[key]) and all(0 <= rep[key][k] <= 1 for k in SLOT_KEYS)
    # The extractor's ceiling does not depend on the model.
    assert report["slots_from_reference"] == report["baseline"]["slots_from_reference"]
    assert report["baseline"]["wer"] < report["wer"], "a random tiny model beat Whisper base"

    md = out.with_suffix(".md").read_text()
    assert "## Por hablante" in md and "## Por género" in md and "REF:" in md and "HYP:" in md
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.voz
def test_ctranslate2_engine_through_the_command(synth_dir, quiet_tiny_pt, tmp_path):
    ct2 = pesos.save_ct2_dir(pesos.load_whisper(quiet_tiny_pt), tmp_path / "ct2", "int8")
    out = tmp_path / "r.json"
    result = _ref_test(ct2, synth_dir, out, "--engine", "ctranslate2", "--limit", "2", "--batch-size", "2",
                       "--beam-size", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Decodificación greedy (--beam-size 1)." in result.stdout
    report = json.loads(out.read_text())
    _check_report_shape(report, with_baseline=False)
    assert report["n"] == 2 and report["model"] == f"{ct2} (ctranslate2)"
    assert "lo exporto" not in result.stdout  # already a CTranslate2 directory: used as it is


@pytest.mark.base
def test_manifest_folder_of_real_speech(tmp_path):
    source = SHARED / "audio" / "real_es"
    clips = ["asterisk_esmx_conf-getpin.wav", "slr61_arf_00295_00124481998.wav"]
    if not all((source / c).exists() for c in clips):
        pytest.skip(f"{source} no está (viene en ../shared)")
    texts = {}
    for line in (source / "manifest.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        texts[fields[0]] = fields[1]
    folder = tmp_path / "real"
    folder.mkdir()
    for clip in clips:
        shutil.copy(source / clip, folder / clip)
    rows = ["filename\ttranscript\tsource\tlicense"] + [f"{c}\t{texts[c]}\tx\ty" for c in clips] + ["fleurs_x_1.wav\tno está\tx\ty"]
    (folder / "manifest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    result = _ref_test("base", folder, out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 por audio faltante" in result.stdout
    report = json.loads(out.read_text())
    _check_report_shape(report, with_baseline=False)
    assert report["n"] == 2 and report["slots"] is None and report["slots_from_reference"] is None
    assert set(report["by_speaker"]) == {"asterisk", "slr61"}
    assert report["by_speaker"]["slr61"]["gender"] == "F"
    assert report["wer"] < 0.5, _hypotheses(report)


@pytest.mark.voz
def test_fine_tuned_lightning_checkpoint_is_really_used(synth_dir, tiny_whisper_pt, tmp_path):
    data = tmp_path / "datos"
    shutil.copytree(synth_dir, data)
    artifacts = tmp_path / "artifacts"
    result = train(data, tiny_whisper_pt, tmp_path, "--val-decode-max", "1", "--max-steps", "2", "--learning-rate", "1e-3")
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt, exported = artifacts / "last.ckpt", artifacts / "modelo-ultimo.pt"

    tuned = {k: v.cpu() for k, v in ref_test.load_model(str(ckpt)).state_dict().items()}
    last = pesos.load_whisper(exported).state_dict()
    pretrained = pesos.load_whisper(tiny_whisper_pt).state_dict()
    assert tuned.keys() == last.keys() and all(torch.equal(tuned[k], last[k]) for k in last)
    changed = [k for k in pretrained if not torch.equal(tuned[k], pretrained[k])]
    assert any(k.startswith("decoder.blocks.") for k in changed), "the fine-tuned weights were not loaded"

    # The same outputs from the .ckpt as from the exported .pt, through the real command.
    out = tmp_path / "r.json"
    result = _ref_test(ckpt, data, out, "--compare-with", str(exported), "--split", "test", "--limit", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    _check_report_shape(report, with_baseline=True)
    assert report["split"] == "test"
    assert _hypotheses(report) == _hypotheses(report["baseline"]) and report["wer"] == report["baseline"]["wer"]


def _bad_checkpoints(tmp_path):
    model = make_tiny_whisper()
    dims, state = model.dims.__dict__, model.state_dict()
    wrong_prefix = tmp_path / "prefijo.ckpt"  # Lightning layout, weights under a name that is not `model.`
    torch.save({"state_dict": {f"whisper.{k}": v for k, v in state.items()}, "whisper_dims": dims}, wrong_prefix)
    bare = tmp_path / "sin_dims.ckpt"  # what the earlier team loaded with strict=False into a bare Whisper
    torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 3}, bare)
    prefixed_pt = tmp_path / "prefijo.pt"
    torch.save({"dims": dims, "model_state_dict": {f"model.{k}": v for k, v in state.items()}}, prefixed_pt)
    shapes = tmp_path / "formas.pt"  # right names, dims of another model
    torch.save({"dims": {**dims, "n_text_state": 32}, "model_state_dict": state}, shapes)
    return {wrong_prefix: "fuera de `model.`", bare: "no es un checkpoint de Whisper reconocido",
            prefixed_pt: "Faltan", shapes: "los tamaños de los tensores no coinciden", tmp_path / "no_existe.ckpt": "No existe"}


@pytest.mark.voz
def test_bad_checkpoints_are_refused_in_spanish(synth_dir, tmp_path):
    cases = _bad_checkpoints(tmp_path)
    for path, fragment in cases.items():  # in-process: the command's one loading path, fast
        with pytest.raises(pesos.WeightsError, match=re.escape(fragment)):
            ref_test.load_model(str(path))
    wrong_prefix = next(iter(cases))  # and the command itself: exit 1, Spanish, no traceback, no report
    out = tmp_path / "r.json"
    result = _ref_test(wrong_prefix, synth_dir, out, "--limit", "1")
    assert result.returncode == 1, (result.stdout[-2000:], result.stderr[-2000:])
    assert result.stderr.startswith("Error:") and cases[wrong_prefix] in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


@pytest.mark.base
def test_bad_data_dirs_are_clear_errors(tmp_path):
    empty = tmp_path / "vacio"
    empty.mkdir()
    bad_manifest = tmp_path / "manifiesto"
    bad_manifest.mkdir()
    (bad_manifest / "manifest.tsv").write_text("archivo\ttexto\na.wav\thola\n", encoding="utf-8")
    no_test = tmp_path / "sin_test"
    datos.write_transcripts(no_test, [("snf_a_1", "hola")])
    datos.write_split(no_test, {"snf_a_1": "train"})
    cases = {tmp_path / "no_existe": "no existe esa carpeta", empty: "no es un data dir",
             bad_manifest: "`filename` y `transcript`", no_test: "no hay frases en la partición 'test'"}
    for folder, fragment in cases.items():
        result = _ref_test("base", folder, tmp_path / "r.json")
        assert result.returncode == 1, (folder.name, result.stderr)
        assert result.stderr.startswith("Error:") and fragment in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.voz
def test_evaluate_in_process_with_a_loaded_model(synth_dir, quiet_tiny_pt):
    """What the demo does: an already-loaded model, no subprocess, no files."""
    notes = []
    report = ref_test.evaluate(pesos.load_whisper(quiet_tiny_pt), synth_dir, limit=2, batch_size=2, model_name="tiny",
                               progress=False, log=notes.append)
    _check_report_shape(report, with_baseline=False)
    assert report["n"] == 2 and report["model"] == "tiny" and any("particion.tsv" in n for n in notes)
    table = ref_test.format_table(report)
    assert "WER (normalizado)" in table and "Peores frases" in table


@pytest.mark.voz
def test_slot_scoring_on_references_and_empty_hypotheses(synth_dir):
    items, _, labels = ref_test.load_items(synth_dir, log=lambda m: None)
    perfect = ref_test.score(items, [i.text for i in items], labels, log=lambda m: None)
    assert perfect["slots"] == perfect["slots_from_reference"] and perfect["wer"] == 0
    silent = ref_test.score(items, [""] * len(items), labels, log=lambda m: None)
    without_plate = sum(labels[i.utt_id].plate is None for i in items) / len(items)
    assert silent["slots"]["plate"] == pytest.approx(without_plate) and silent["wer"] == 1
    # The plate over the answers that say one: silence gets none of them, the references all.
    n_with_plate = sum(labels[i.utt_id].plate is not None for i in items)
    assert n_with_plate and silent["slots"]["n_with_plate"] == n_with_plate
    assert silent["slots"]["plate_when_said"] == 0 and perfect["slots"]["plate_when_said"] == 1
    assert ("Patente, si la dicen (audio)", 0, None) in ref_test._rows(silent)
    assert silent["slots_from_reference"] == perfect["slots_from_reference"]


def test_yes_and_no_are_scored_where_the_reference_says_one(tmp_path):
    """The kiosk's "¿es correcto?": a "Sí." heard as "C." is a miss; answers that say neither are not counted."""
    texts = {"a": "Sí.", "b": "No, está mal.", "c": "Me quedo 2 horas.", "d": "Correcto."}
    items = [ref_test.Item(k, t, tmp_path / f"{k}.wav", "s", None) for k, t in texts.items()]
    labels = {k: datos.SlotLabels(None, 120 if k == "c" else None, None, None) for k in texts}
    report = ref_test.score(items, ["C.", "No está mal.", "Me quedo 2 horas.", "Correcto."], labels, log=lambda m: None)
    assert report["slots"]["n_with_confirm"] == 3 and report["slots"]["confirm_when_said"] == pytest.approx(2 / 3)
    assert report["slots_from_reference"]["confirm_when_said"] == 1
    assert ("Sí/no, si lo dicen (audio)", pytest.approx(2 / 3), None) in ref_test._rows(report)


@pytest.mark.voz
def test_written_baseline_has_the_documented_shape(synth_dir, quiet_tiny_pt, tmp_path):
    """demo.py-style use: report["baseline"] set to a whole evaluate() result, then write_outputs."""
    model = pesos.load_whisper(quiet_tiny_pt)
    report = ref_test.evaluate(model, synth_dir, limit=1, model_name="a", progress=False, log=lambda m: None)
    report["baseline"] = ref_test.evaluate(model, synth_dir, limit=1, model_name="b", progress=False, log=lambda m: None)
    paths = ref_test.write_outputs(report, tmp_path / "r.json")
    written = json.loads(paths["json"].read_text())
    _check_report_shape(written, with_baseline=True)
    assert paths["md"].exists() and paths["png"].exists()


# --- bad inputs: every problem before the model loads, nothing lost after decoding --------------------------


def _tone_dir(folder, texts: dict[str, str]):
    """A real data dir without espeak-ng: one short tone per id (audible, so no clip is skipped as silence)."""
    import numpy as np
    import soundfile as sf

    datos.write_transcripts(folder, texts.items())
    (folder / datos.AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    t = np.arange(16000) / 16000
    for n, utt_id in enumerate(texts):
        sf.write(datos.audio_path(folder, utt_id), 0.3 * np.sin(2 * np.pi * (220 + 30 * n) * t), 16000, subtype="PCM_16")
    return folder


def _main(capsys, *argv) -> tuple[int, str, str]:
    code = ref_test.main(["--sin-progreso", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bad_output_paths_fail_before_the_model_loads(tmp_path, capsys):
    data = _tone_dir(tmp_path / "datos", {"snf_a_1": "hola"})
    folder = tmp_path / "informes"
    folder.mkdir()
    a_file = tmp_path / "notas.txt"
    a_file.write_text("no borrar")
    (tmp_path / "r.md").mkdir()  # the Markdown sibling of r.json
    missing = tmp_path / "no_existe.pt"  # reaching the load would say "No existe" with code 1
    cases = [
        (["--report", folder], "es una carpeta"),
        (["--report", f"{tmp_path / 'nueva'}/"], "es una carpeta"),
        (["--report", a_file / "r.json"], f"{a_file} es un archivo, no una carpeta"),
        (["--report", tmp_path / "r.json"], f"{tmp_path / 'r.md'} (el md del reporte) es una carpeta"),
        (["--report", tmp_path / "informe.md"], "Indicá un .json"),
        (["--report", tmp_path / "ok.json", "--engine", "ctranslate2", "--ct2-dir", a_file], f"--ct2-dir {a_file}"),
    ]
    before = sorted(tmp_path.rglob("*"))
    for extra, fragment in cases:
        code, out, err = _main(capsys, "--checkpoint", missing, "--data-dir", data, *extra)
        assert code == 2 and err.startswith("Error:") and fragment in err, (extra, err)
        assert "No existe" not in err and "Cargando" not in out, (extra, out, err)
    assert sorted(tmp_path.rglob("*")) == before and a_file.read_text() == "no borrar"


def test_unwritable_report_folder_fails_before_the_model_loads(tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root escribe en cualquier carpeta: el permiso no se puede probar así")
    data = _tone_dir(tmp_path / "datos", {"snf_a_1": "hola"})
    locked = tmp_path / "cerrada"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = _main(capsys, "--checkpoint", tmp_path / "no.pt", "--data-dir", data,
                             "--report", locked / "sub" / "r.json")
    finally:
        locked.chmod(0o700)
    assert code == 2 and f"no tenés permiso para escribir en la carpeta {locked}" in err, err


def test_a_failed_write_at_the_end_keeps_the_evaluation(quiet_tiny_pt, tmp_path, capsys, monkeypatch):
    data = _tone_dir(tmp_path / "datos", {"snf_a_1": "hola", "snm_b_1": "chau"})
    out = tmp_path / "r.json"
    evaluate = ref_test.evaluate

    def evaluate_then_block(*args, **kwargs):  # someone makes a folder where the chart goes, mid-decoding
        report = evaluate(*args, **kwargs)
        out.with_suffix(".png").mkdir()
        return report

    monkeypatch.setattr(ref_test, "evaluate", evaluate_then_block)
    code, stdout, err = _main(capsys, "--checkpoint", quiet_tiny_pt, "--data-dir", data, "--report", out,
                              "--beam-size", "1")
    assert code == 1 and "Traceback" not in err
    assert "WER (normalizado)" in stdout and "snf_a" in stdout  # the table came out first
    assert f"no se pudo escribir el reporte en {out.with_suffix('.png')}" in err, err
    kept = Path(re.search(r"el reporte JSON quedó en (\S+?)\. ", err).group(1))
    try:
        report = json.loads(kept.read_text(encoding="utf-8"))
        assert report["n"] == 2 and report["model"] == str(quiet_tiny_pt)
    finally:
        kept.unlink()


def test_empty_transcripts_are_counted_skips_and_n_is_what_is_scored(quiet_tiny_pt, tmp_path, capsys):
    data = _tone_dir(tmp_path / "datos", {"snf_a_1": "hola", "snf_a_2": "", "snm_b_1": "¿?", "snm_b_2": "patente 12"})
    out = tmp_path / "r.json"
    code, stdout, err = _main(capsys, "--checkpoint", quiet_tiny_pt, "--data-dir", data, "--report", out,
                              "--beam-size", "1")
    assert code == 0, err
    assert "se omitieron 2 frase(s): 2 por transcripción vacía (p. ej. snf_a_2, snm_b_1)" in stdout, stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    _check_report_shape(report, with_baseline=False)
    assert report["n"] == 2 and set(_hypotheses(report)) == {"snf_a_1", "snm_b_2"}
    assert report["wer"] == ref_test.error_rates(["hola", "patente 12"], [_hypotheses(report)[i] for i in ("snf_a_1", "snm_b_2")])["wer"]
    assert "Avisos" in out.with_suffix(".md").read_text(encoding="utf-8")

    # Nothing left to score: a Spanish error before the model is even looked for.
    blank = _tone_dir(tmp_path / "vacio", {"snf_a_1": "", "snf_a_2": "  ..."})
    code, stdout, err = _main(capsys, "--checkpoint", tmp_path / "no_existe.pt", "--data-dir", blank,
                              "--report", tmp_path / "v.json")
    assert code == 1 and "no queda ninguna frase para evaluar" in err and "2 por transcripción vacía" in err, err
    assert "No existe" not in err and not (tmp_path / "v.json").exists()


def test_malformed_data_dirs_are_spanish_errors_naming_file_and_line(tmp_path, capsys):
    good = {"snf_a_1": "hola", "snf_a_2": "chau"}
    cases = {}
    folder = _tone_dir(tmp_path / "columnas", good)
    (folder / datos.TRANSCRIPTS).write_text("snf_a_1\thola\nsnf_a_2\tchau\textra\n", encoding="utf-8")
    cases[folder] = f"{folder / datos.TRANSCRIPTS}:2: se esperaba `id<TAB>texto` y hay 3 campo(s)"
    folder = _tone_dir(tmp_path / "latin1", good)
    (folder / datos.TRANSCRIPTS).write_bytes("snf_a_1\thola\nsnf_a_2\tcañón\n".encode("latin-1"))
    cases[folder] = f"{folder / datos.TRANSCRIPTS}:2: el archivo no está en UTF-8"
    folder = _tone_dir(tmp_path / "particion", good)
    (folder / datos.SPLIT).write_text("snf_a_1\ttest\nsnf_a_2\n", encoding="utf-8")
    cases[folder] = f"{folder / datos.SPLIT}:2: se esperaba"
    folder = _tone_dir(tmp_path / "slots", good)  # read before, failed only after decoding when scoring the slots
    (folder / datos.SLOTS).write_text("id\tplate\tstay_minutes\tcovered\tarrival\nsnf_a_1\t\t60\t\t25:99\n", encoding="utf-8")
    cases[folder] = f"{folder / datos.SLOTS}:2: `arrival` debe ser una hora"
    folder = tmp_path / "manifiesto"
    folder.mkdir()
    (folder / ref_test.MANIFEST).write_bytes("filename\ttranscript\na.wav\thola\nb.wav\tcañón\n".encode("latin-1"))
    cases[folder] = f"{folder / ref_test.MANIFEST}:3: el archivo no está en UTF-8"
    cases[folder / ref_test.MANIFEST] = "es un archivo. Indicá la carpeta del data dir"
    for folder, fragment in cases.items():
        code, _, err = _main(capsys, "--checkpoint", tmp_path / "no.pt", "--data-dir", folder, "--report",
                             tmp_path / "r.json")
        assert code == 1 and err.startswith("Error:") and fragment in err, (folder.name, err)
        assert "Traceback" not in err and "No existe" not in err


def _tree(folder) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.mark.base  # the export takes its tokenizer from the installed base bundle
def test_ctranslate2_export_stays_beside_the_report(quiet_tiny_pt, tmp_path, capsys):
    """Not in the checkout's artifacts/ct2 (the suite used to leave exports there)."""
    from conftest import ROOT

    data = _tone_dir(tmp_path / "datos", {"snf_a_1": "hola"})
    out = tmp_path / "informe" / "r.json"
    checkout = _tree(ROOT / "artifacts" / "ct2")  # the old default; other runs may write elsewhere in artifacts/
    code, stdout, err = _main(capsys, "--checkpoint", quiet_tiny_pt, "--data-dir", data, "--report", out,
                              "--engine", "ctranslate2", "--beam-size", "1")
    assert code == 0, err
    exports = [p for p in (out.parent / "ct2").iterdir() if (p / "model.bin").is_file()]
    assert len(exports) == 1 and f"lo exporto una vez a {exports[0]}" in stdout, stdout
    assert _tree(ROOT / "artifacts" / "ct2") == checkout
    assert json.loads(out.read_text(encoding="utf-8"))["n"] == 1
