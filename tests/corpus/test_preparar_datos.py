"""preparar_datos.py end to end: fake OpenSLR 61 zips (real layout, real transcript lines, synthetic audio)."""

import io
import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import DATA, ROOT, SHARED
from corpus import datos, openslr
from texto import numeros

FIXTURE = DATA / "slr61"
SLR61 = SHARED / "slr61"

# The bad inputs planted in the fake zips, one of each.
NO_WAV = "arf_00295_01362792856"  # female row whose wav is missing
SILENT = "arf_00610_01644723213"
TOO_LONG = "arf_01208_01272386743"
UNREADABLE = "arf_01523_01434576176"
EMPTY_TEXT = "arf_09999_00000000001"
LONG_TEXT = "arf_09999_00000000002"
ORPHAN_WAV = "arm_07777_00000000001"
BAD_ENCODING_ID = "arm_07777_00000000002"


def _tsv(name):
    return [line.split("\t") for line in (FIXTURE / f"{name}.tsv").read_text(encoding="utf-8").splitlines()]


def _wav(seconds=0.4, rate=48_000, seed=0, silent=False) -> bytes:
    """A 16-bit mono wav: a tone plus noise, like a voice for the validator (not for a model)."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    x = np.zeros_like(t) if silent else 0.3 * np.sin(2 * np.pi * (200 + 20 * seed) * t) + 0.02 * rng.standard_normal(t.size)
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def make_zips(folder: Path) -> dict:
    """es_ar_female.zip, es_ar_male.zip and es_weather_messages.zip in the real layout, with planted problems."""
    folder.mkdir(parents=True, exist_ok=True)
    female, male = _tsv("line_index_female"), _tsv("line_index_male")
    weather_ar, weather_es = _tsv("es_ar_line_index_weather"), _tsv("es_es_line_index_weather")

    with zipfile.ZipFile(folder / "es_ar_female.zip", "w") as z:
        lines = [f"{i}\t{t}\n" for i, t in female]
        lines += [f"{EMPTY_TEXT}\t\n", f"{LONG_TEXT}\t{'palabra ' * 460}\n", "esta línea no tiene tabulador\n"]
        z.writestr("es_ar_female/line_index.tsv", "".join(lines).encode("utf-8"))
        for n, utt in enumerate([r[0] for r in female] + [EMPTY_TEXT, LONG_TEXT]):
            if utt == NO_WAV:
                continue
            if utt == SILENT:
                data = _wav(silent=True)
            elif utt == TOO_LONG:
                data = _wav(seconds=31, rate=8000)
            elif utt == UNREADABLE:
                data = b"RIFF\x00\x00\x00\x00esto no es un wav"
            else:
                data = _wav(seed=n)
            z.writestr(f"es_ar_female/{utt}.wav", data)

    with zipfile.ZipFile(folder / "es_ar_male.zip", "w") as z:
        body = "".join(f"{i}\t{t}\n" for i, t in male).encode("utf-8")
        body += f"{BAD_ENCODING_ID}\tCanción en latin-1\n".encode("latin-1")
        body += b"a\tb\tc\td\n"
        z.writestr("es_ar_male/line_index.tsv", body)
        for n, utt in enumerate([r[0] for r in male] + [ORPHAN_WAV, BAD_ENCODING_ID]):
            z.writestr(f"es_ar_male/{utt}.wav", _wav(seed=n + 40))

    with zipfile.ZipFile(folder / "es_weather_messages.zip", "w") as z:
        for region, rows in (("es-ar", weather_ar), ("es-es", weather_es)):
            z.writestr(f"{region}/line_index.tsv", "".join(f"{i}\t{t}\n" for i, t in rows).encode("utf-8"))
            for n, (utt, _) in enumerate(rows):
                z.writestr(f"{region}/{utt}.wav", _wav(seed=n + 80))
    return {"female": female, "male": male, "weather_ar": weather_ar, "weather_es": weather_es}


def run_prepare(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "preparar_datos.py", "--sin-barra", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slr61")
    rows = make_zips(tmp / "zips")
    data = tmp / "data"
    start = time.time()
    proc = run_prepare("--zips", tmp / "zips", "--data-dir", data, "--referencia-numeros", FIXTURE)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((data / "reporte_preparacion.json").read_text(encoding="utf-8"))
    return {"tmp": tmp, "data": data, "rows": rows, "proc": proc, "report": report, "seconds": time.time() - start}


def test_counts_and_every_problem_reported(prepared):
    report, rows = prepared["report"], prepared["rows"]
    p = report["problemas"]
    assert p["fila_sin_wav"] == 1 and NO_WAV in report["ejemplos"]["fila_sin_wav"][0]
    assert p["wav_sin_fila"] == 1 and ORPHAN_WAV in report["ejemplos"]["wav_sin_fila"][0]
    assert p["audio_silencioso"] == 1 and SILENT in report["ejemplos"]["audio_silencioso"][0]
    assert p["audio_largo"] == 1 and TOO_LONG in report["ejemplos"]["audio_largo"][0]
    assert p["audio_ilegible"] == 1 and UNREADABLE in report["ejemplos"]["audio_ilegible"][0]
    assert p["texto_vacio"] == 1 and EMPTY_TEXT in report["ejemplos"]["texto_vacio"][0]
    assert p["texto_largo"] == 1 and LONG_TEXT in report["ejemplos"]["texto_largo"][0]
    assert p["codificacion_invalida"] == 1 and "es_ar_male.zip" in report["ejemplos"]["codificacion_invalida"][0]
    assert p["linea_malformada"] == 2  # one per zip
    assert p["duplicado"] == len(rows["weather_ar"])
    assert p["excluido_es_es"] == len(rows["weather_es"])
    assert p["id_repetido"] == 0 and p["audio_vacio"] == 0
    # Nothing silently lost: every tsv row is either in transcripciones.tsv or a counted problem.
    kept = len(rows["female"]) - 4 + len(rows["male"])
    assert report["utterances"] == kept
    in_tsvs = len(rows["female"]) + 2 + len(rows["male"]) + len(rows["weather_ar"]) + len(rows["weather_es"])
    row_problems = sum(p[k] for k in ("fila_sin_wav", "audio_silencioso", "audio_largo", "audio_ilegible",
                                      "texto_vacio", "texto_largo", "duplicado", "excluido_es_es"))
    assert kept + row_problems == in_tsvs


def test_data_dir_outputs(prepared):
    data, rows = prepared["data"], prepared["rows"]
    texts = datos.read_transcripts(data)
    assert NO_WAV not in texts and SILENT not in texts and not any(i.startswith("esw_") for i in texts)
    assert list(texts) == [i for i, _ in rows["female"] + rows["male"] if i not in (NO_WAV, SILENT, TOO_LONG, UNREADABLE)]
    for utt in texts:
        info = sf.info(str(datos.audio_path(data, utt)))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(sf.info(str(datos.audio_path(data, next(iter(texts))))).duration - 0.4) < 0.01
    assert not (data / "originales").exists()
    # Numbers as digits, the article kept; one _numeros.tsv per source tsv, es-ES included there.
    assert texts["arf_02485_00047151674"] == "Hace 12 grados con sol"
    assert "alrededor de 30 segundos" in texts["arf_00295_01675776066"]
    assert texts["arf_01523_00403393499"] == "Para la caída del cabello, tengo un nuevo jabón"
    for name in ("line_index_female", "line_index_male", "es_ar_line_index_weather", "es_es_line_index_weather"):
        assert (data / f"{name}_numeros.tsv").exists(), name
    assert "Hay 17 grados" in (data / "es_es_line_index_weather_numeros.tsv").read_text(encoding="utf-8")
    review = (data / "revision_numeros.tsv").read_text(encoding="utf-8").splitlines()
    assert review[0] == "archivo\tid\tantes\tdespues"
    assert any("treinta segundos" in r and "30 segundos" in r for r in review)
    assert not any("tengo un nuevo jabón" in r for r in review)


def test_split_and_summary(prepared):
    data, report = prepared["data"], prepared["report"]
    texts, split = datos.read_transcripts(data), datos.read_split(data)
    assert set(split) == set(texts)
    summary = report["particion"]["resumen"]
    assert report["particion"]["creada"] is True
    for name in datos.SPLITS:
        assert summary[name]["sentence_overlap"] == 0
        assert summary[name]["utterances"] > 0 and "hours" in summary[name]
    assert abs(report["segundos_audio"] - 0.4 * len(texts)) < 0.5
    speakers = {name: {datos.speaker_of(i) for i in split if split[i] == name} for name in datos.SPLITS}
    assert not (speakers["train"] & speakers["val"]) and not (speakers["train"] & speakers["test"])
    assert sum(summary[n]["utterances"] for n in (*datos.SPLITS, datos.EXCLUDED)) == len(texts)


def test_report_on_screen_and_reference(prepared):
    out, report = prepared["proc"].stdout, prepared["report"]
    for phrase in ("Data dir listo", "fila del tsv sin wav: 1", "audio silencioso: 1", "Partición nueva",
                   "Acuerdo con los _numeros editados a mano"):
        assert phrase in out, phrase
    ref = report["referencia_numeros"]
    assert ref["lineas"] > 0 and 0.5 < ref["acuerdo"] <= 1.0
    assert all(c["correcto"] in ("nuestro", "referencia", "convención", "revisar") for c in ref["categorias"].values())


def test_rerun_is_idempotent_and_fast(prepared):
    data = prepared["data"]
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file() and p.suffix == ".tsv"}
    mtimes = {p.name: p.stat().st_mtime_ns for p in (data / "audios").iterdir()}
    start = time.time()
    proc = run_prepare("--zips", prepared["tmp"] / "zips", "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((data / "reporte_preparacion.json").read_text(encoding="utf-8"))
    assert report["audios_convertidos"] == 0 and report["audios_reusados"] == report["utterances"]
    assert report["particion"]["creada"] is False and "Partición existente" in proc.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (data / "audios").iterdir()} == mtimes
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file() and p.suffix == ".tsv"} == before
    assert time.time() - start < prepared["seconds"] + 5


def test_extracted_folders_es_es_and_originals(prepared, tmp_path):
    """Already-extracted folders work too; --incluir-es-es and --conservar-originales do what they say."""
    zips = tmp_path / "descomprimido"
    for z in (prepared["tmp"] / "zips").glob("*.zip"):
        with zipfile.ZipFile(z) as f:
            f.extractall(zips / z.stem)
    data = tmp_path / "data"
    proc = run_prepare("--zips", zips, "--data-dir", data, "--incluir-es-es", "--conservar-originales", "--procesos", "1")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((data / "reporte_preparacion.json").read_text(encoding="utf-8"))
    texts = datos.read_transcripts(data)
    es = [i for i, _ in prepared["rows"]["weather_es"]]
    assert all(i in texts for i in es) and report["problemas"]["excluido_es_es"] == 0
    assert report["utterances"] == prepared["report"]["utterances"] + len(es)
    original = data / "originales" / f"{es[0]}.wav"
    assert sf.info(str(original)).samplerate == 48000


def test_clear_errors():
    proc = run_prepare("--zips", "/no/existe", "--data-dir", "/tmp/x")
    assert proc.returncode == 2 and "No existe la carpeta" in proc.stderr and "Traceback" not in proc.stderr
    help_text = run_prepare("--help").stdout
    assert "carpeta con es_ar_female.zip" in help_text and "--conservar-originales" in help_text


def test_not_a_zip(tmp_path):
    (tmp_path / "es_ar_female.zip").write_bytes(b"no soy un zip")
    proc = run_prepare("--zips", tmp_path, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2 and "no es un zip válido" in proc.stderr


@pytest.mark.skipif(not SLR61.is_dir(), reason="sin ../shared/slr61 (transcripciones reales)")
def test_reference_comparison_on_real_transcripts():
    """The real four tsvs, no audio: our conversion vs. the hand-edited files, every difference classified."""
    converted = {}
    for name in ("line_index_female", "line_index_male", "es_ar_line_index_weather", "es_es_line_index_weather"):
        src = openslr.Source(name, SLR61, False, f"{name}.tsv")
        converted[name] = [(u, numeros.to_digits(t)) for u, t in openslr.read_rows(src, openslr.Problems())]
    ref = openslr.compare_reference(SLR61, converted)
    assert ref["lineas"] == 5919
    assert ref["acuerdo"] > 0.97
    assert all(c["correcto"] in ("nuestro", "convención") for c in ref["categorias"].values()), ref["categorias"]


def test_no_work_on_import():
    proc = subprocess.run([sys.executable, "-c", "import preparar_datos, sys; print('whisper' in sys.modules or 'torch' in sys.modules)"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "False"



def test_fine_tune_trains_on_the_prepared_dir_with_no_further_step(prepared, tiny_whisper_pt, tmp_path):
    """Issue 3's last check: preparar_datos.py output goes straight into fine_tune.py."""
    data = tmp_path / "data"
    shutil.copytree(prepared["data"], data)
    result = subprocess.run(
        [sys.executable, "fine_tune.py", "--model-name", str(tiny_whisper_pt), "--data-dir", str(data),
         "--artifacts-dir", str(tmp_path / "artifacts"), "--log-dir", str(tmp_path / "logs"), "--max-steps", "2",
         "--batch-size", "2", "--num-worker", "0", "--val-decode-max", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "artifacts" / "modelo-ultimo.pt").exists()


# --- a data dir is never overwritten with less ---------------------------------------------------------------

SMALL = {f"arf_0000{n}_0000000000{n}": f"frase número {n}" for n in range(1, 4)}


def _small_corpus(folder: Path, rows: dict[str, str], wavs=True) -> Path:
    """An extracted es_ar_female folder: line_index.tsv and, unless `wavs` is False, one wav per row."""
    source = folder / "es_ar_female"
    source.mkdir(parents=True)
    (source / "line_index.tsv").write_text("".join(f"{i}\t{t}\n" for i, t in rows.items()), encoding="utf-8")
    for n, utt in enumerate(rows if wavs else ()):
        (source / f"{utt}.wav").write_bytes(_wav(seed=n))
    return folder


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def test_a_tsv_without_wavs_leaves_the_data_dir_untouched(tmp_path):
    zips = _small_corpus(tmp_path / "zips", SMALL, wavs=False)
    data = tmp_path / "data"
    datos.write_transcripts(data, [(f"arf_1_{n}", f"frase {n}") for n in range(6)])
    datos.write_split(data, {f"arf_1_{n}": "train" for n in range(6)})
    before = _snapshot(data)
    proc = run_prepare("--zips", zips, "--data-dir", data)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "no quedó ninguna frase utilizable (3 fila del tsv sin wav)" in proc.stderr, proc.stderr
    assert f"No toqué {data}" in proc.stderr
    assert _snapshot(data) == before
    fresh = tmp_path / "nuevo"  # and a data dir that did not exist is not created
    assert run_prepare("--zips", zips, "--data-dir", fresh).returncode == 2 and not fresh.exists()


def test_lines_are_only_dropped_with_reemplazar(tmp_path):
    zips = _small_corpus(tmp_path / "zips", SMALL)
    data = zips / "data"  # inside --zips: our own output must not be read back as a corpus
    first = run_prepare("--zips", zips, "--data-dir", data, "--procesos", "1")
    assert first.returncode == 0, first.stderr
    assert datos.read_transcripts(data) == SMALL and set(datos.read_split(data)) == set(SMALL)

    dropped = next(iter(SMALL))
    (zips / "es_ar_female" / f"{dropped}.wav").unlink()
    before = _snapshot(data)
    refused = run_prepare("--zips", zips, "--data-dir", data)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    for fragment in (f"{data / datos.TRANSCRIPTS} ya tiene 3 frase(s) y esta preparación dejaría 2",
                     f"se perderían 1 (p. ej. {dropped}", "1 fila del tsv sin wav", "--reemplazar"):
        assert fragment in refused.stderr, (fragment, refused.stderr)
    assert _snapshot(data) == before

    replaced = run_prepare("--zips", zips, "--data-dir", data, "--reemplazar")
    assert replaced.returncode == 0, replaced.stderr
    kept = {i: t for i, t in SMALL.items() if i != dropped}
    assert datos.read_transcripts(data) == kept and set(datos.read_split(data)) == set(kept)
    report = json.loads((data / openslr.REPORT_JSON).read_text(encoding="utf-8"))
    assert list(report["fuentes"]) == ["line_index_female"] and report["frases_reemplazadas"] == 1
    assert "--reemplazar: 1 frase(s)" in replaced.stdout
    assert not list(data.glob(".*.tmp"))


def test_bad_places_and_damaged_files_are_spanish_errors(tmp_path):
    zips = _small_corpus(tmp_path / "zips", SMALL)
    a_file = tmp_path / "notas.txt"
    a_file.write_text("no borrar")
    damaged = tmp_path / "dañado"
    damaged.mkdir()
    body = "".join(f"{i}\t{t}\n" for i, t in SMALL.items()).encode("utf-8")
    with zipfile.ZipFile(damaged / "es_ar_female.zip", "w", zipfile.ZIP_STORED) as z:
        z.writestr("es_ar_female/line_index.tsv", body)
    raw = (damaged / "es_ar_female.zip").read_bytes()
    (damaged / "es_ar_female.zip").write_bytes(raw.replace(b"frase n", b"frase N", 1))  # the CRC no longer matches
    broken = tmp_path / "roto"
    broken.mkdir()
    (broken / datos.TRANSCRIPTS).write_text("arf_1_1\thola\nsin tabulador\n", encoding="utf-8")
    cases = [
        (["--zips", zips, "--data-dir", a_file], f"--data-dir {a_file}: existe y no es una carpeta"),
        (["--zips", zips, "--data-dir", a_file / "data"], f"{a_file} es un archivo, no una carpeta"),
        (["--zips", a_file, "--data-dir", tmp_path / "d"], f"--zips {a_file} es un archivo"),
        (["--zips", zips, "--data-dir", zips], "es la misma carpeta que --zips"),
        (["--zips", damaged, "--data-dir", tmp_path / "d"], "es_ar_female.zip:es_ar_female/line_index.tsv: no se pudo leer"),
        (["--zips", zips, "--data-dir", broken], f"{broken / datos.TRANSCRIPTS}:2: se esperaba"),
    ]
    for args, fragment in cases:
        proc = run_prepare(*args)
        assert proc.returncode == 2 and fragment in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert a_file.read_text() == "no borrar" and not (tmp_path / "d").exists()
    assert "agregá --reemplazar" in proc.stderr and (broken / datos.TRANSCRIPTS).read_text().count("\n") == 2
