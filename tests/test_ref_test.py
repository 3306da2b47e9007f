"""The real ref_test.py command on real audio (espeak-ng and ../shared real speech), tiny and base models."""

import json
import re
import shutil

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
