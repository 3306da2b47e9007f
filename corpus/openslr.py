"""OpenSLR 61 (Argentine Spanish) zips or folders -> the project's data dir (see corpus/datos.py).

Audio is resampled once to 16 kHz mono; transcripts get numbers as digits (numeros.to_digits) with
every changed line written for review; each bad input is an error or a counted skip in the report.
"""

from __future__ import annotations

import difflib
import io
import json
import multiprocessing as mp
import os
import re
import sys
import time
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from corpus import datos
from texto import numeros

TARGET_RATE = 16_000
MAX_SECONDS = 30.0
MAX_TOKENS = 448  # Whisper's decoder context, special tokens included
SILENCE_PEAK = 1e-3  # about -60 dBFS: below this a recording has no speech
EXAMPLES = 5
REPORT_JSON = "reporte_preparacion.json"
REVIEW = "revision_numeros.tsv"
ORIGINALS = "originales"

# Every kind of skip, with its Spanish label; the report lists them all, even at zero.
PROBLEMS = {
    "linea_malformada": "línea malformada en el tsv",
    "codificacion_invalida": "línea que no está en UTF-8",
    "texto_vacio": "texto vacío",
    "fila_sin_wav": "fila del tsv sin wav",
    "wav_sin_fila": "wav sin fila en ningún tsv",
    "audio_ilegible": "audio ilegible",
    "audio_vacio": "audio vacío (0 muestras)",
    "audio_silencioso": "audio silencioso",
    "audio_largo": f"audio de más de {MAX_SECONDS:.0f} s",
    "texto_largo": f"texto de más de {MAX_TOKENS} tokens",
    "id_repetido": "id repetido con otro texto",
    "duplicado": "grabación duplicada (se conserva una)",
    "excluido_es_es": "línea es-ES (castellano) excluida",
}


class PrepError(Exception):
    """A problem the user must fix; the message is Spanish."""


@dataclass
class Source:
    """One tsv and the wavs that live under its folder, inside a zip or a plain folder."""

    name: str
    container: Path  # the zip, or the folder given by the user
    is_zip: bool
    tsv: str  # member name in the zip, or path relative to container
    wavs: dict[str, str] = field(default_factory=dict)  # utt id -> member / relative path
    castilian: bool = False

    def read_bytes(self, member: str) -> bytes:
        if self.is_zip:
            with zipfile.ZipFile(self.container) as z:
                return z.read(member)
        return (self.container / member).read_bytes()

    def where(self) -> str:
        return f"{self.container.name}:{self.tsv}" if self.is_zip else str(self.container / self.tsv)


# ---------------------------------------------------------------- discovery

def _source_name(container: Path, tsv: str) -> str:
    """Names as the earlier team's files: line_index_female, es_ar_line_index_weather, ..."""
    parts = [p.lower() for p in (container.stem, *Path(tsv).parts[:-1])]
    joined = "/".join(parts)
    if "weather" in joined or any(p in ("es-ar", "es_ar", "es-es", "es_es") for p in parts[1:]):
        region = "es_es" if re.search(r"es[-_]es", "/".join(parts[1:]) or joined) else "es_ar"
        return f"{region}_line_index_weather"
    if "female" in joined:
        return "line_index_female"
    if "male" in joined:
        return "line_index_male"
    return re.sub(r"\W+", "_", f"{container.stem}_{Path(tsv).with_suffix('').as_posix()}").strip("_")


def _group(container: Path, is_zip: bool, names: list[str]) -> tuple[list[Source], dict[str, str]]:
    """Each wav goes to the tsv whose folder is its deepest ancestor; the rest are orphans."""
    tsvs = sorted(n for n in names if n.lower().endswith(".tsv") and not Path(n).name.startswith("._"))
    sources = [Source(_source_name(container, t), container, is_zip, t) for t in tsvs]
    for s in sources:
        s.castilian = s.name.startswith("es_es")
    orphans: dict[str, str] = {}
    folders = [(Path(t).parent.as_posix(), s) for t, s in zip(tsvs, sources, strict=True)]
    folders.sort(key=lambda f: -len(f[0]))
    for n in names:
        if not n.lower().endswith(".wav") or Path(n).name.startswith("._"):
            continue
        utt = Path(n).stem
        owner = next((s for d, s in folders if d == "." or n.startswith(d + "/")), None)
        if owner is None:
            orphans[utt] = f"{container.name}:{n}"
        else:
            owner.wavs.setdefault(utt, n)
    return sources, orphans


def discover(zips_dir: Path, skip: Path | None = None) -> tuple[list[Source], dict[str, str]]:
    """The sources under `zips_dir`; `skip` (the data dir, when it lives there) is not one of them."""
    if zips_dir.is_file():
        raise PrepError(f"--zips {zips_dir} es un archivo: pasá la carpeta que lo contiene, --zips {zips_dir.parent}.")
    if not zips_dir.is_dir():
        raise PrepError(f"No existe la carpeta {zips_dir}. Pasá con --zips la carpeta donde descargaste los zips.")
    sources, orphans = [], {}
    for entry in sorted(zips_dir.iterdir()):
        if skip is not None and entry.resolve() == skip.resolve():
            continue  # our own output would read as an extracted corpus on the next run
        if entry.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(entry) as z:
                    names = [i.filename for i in z.infolist() if not i.is_dir()]
            except (zipfile.BadZipFile, OSError) as e:
                raise PrepError(f"{entry}: no es un zip válido ({e}). Volvé a descargarlo.") from None
            found, lost = _group(entry, True, names)
        elif entry.is_dir():
            names = [p.relative_to(entry).as_posix() for p in sorted(entry.rglob("*")) if p.is_file()]
            found, lost = _group(entry, False, names)
        else:
            continue
        sources += found
        orphans.update(lost)
    if not sources:
        raise PrepError(
            f"No encontré ningún line_index.tsv en {zips_dir}. Esperaba es_ar_female.zip, es_ar_male.zip y/o "
            "es_weather_messages.zip de https://openslr.org/61/ (o sus carpetas ya descomprimidas)."
        )
    seen = defaultdict(int)
    for s in sources:  # a name per output file, even with two tsvs of the same kind
        seen[s.name] += 1
        if seen[s.name] > 1:
            s.name = f"{s.name}_{seen[s.name]}"
    return sources, orphans


# ---------------------------------------------------------------- transcripts

def read_rows(source: Source, problems, skipped_ids: set | None = None) -> list[tuple[str, str]]:
    """(id, text) rows of a source tsv; bad lines are counted problems, never silently dropped.

    Ids of rows skipped for their text go to `skipped_ids`, so their wavs are not also reported as orphans.
    """
    try:
        raw = source.read_bytes(source.tsv)
    except (zipfile.BadZipFile, zlib.error, OSError) as e:  # a damaged member, no permission...
        raise PrepError(f"{source.where()}: no se pudo leer ({e}). Volvé a descargar o descomprimir ese archivo.") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    rows = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        where = f"{source.where()}:{number}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            utt = line.split(b"\t")[0].decode("utf-8", "replace").strip()
            problems.add("codificacion_invalida", where, f"{utt}: convertí el archivo con `iconv -t UTF-8`")
            if skipped_ids is not None:
                skipped_ids.add(utt)
            continue
        fields = text.split("\t")
        if len(fields) == 3 and not fields[1].strip():
            fields = [fields[0], fields[2]]
        if len(fields) != 2 or not re.fullmatch(r"[\w-]+", fields[0].strip()):
            problems.add("linea_malformada", where, f"se esperaba `id<TAB>texto`: {text[:80]!r}")
            continue
        utt, sentence = fields[0].strip(), " ".join(fields[1].split())
        if not sentence:
            problems.add("texto_vacio", where, utt)
            if skipped_ids is not None:
                skipped_ids.add(utt)
            continue
        rows.append((utt, sentence))
    return rows


class Problems:
    def __init__(self):
        self.counts = {k: 0 for k in PROBLEMS}
        self.examples = {k: [] for k in PROBLEMS}

    def add(self, kind: str, where: str, detail: str = ""):
        self.counts[kind] += 1
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append(f"{where}: {detail}" if detail else where)


def _tokens(texts: list[str]) -> list[int]:
    """Decoder length of each label: SOT sequence + text + EOT, as training will see it."""
    from whisper.tokenizer import get_tokenizer  # whisper loads torch (seconds): only where lengths are counted

    tok = get_tokenizer(multilingual=True, language="es", task="transcribe")
    special = len(tok.sot_sequence_including_notimestamps) + 1
    return [special + len(tok.encode(" " + t)) for t in texts]


# ---------------------------------------------------------------- differences with the hand-edited files

_WORDS = re.compile(r"\d+(?:[:,]\d+)?%?[^\W\d_]*|[^\W\d_]+|[^\w\s]")


def classify_difference(ours: str, theirs: str) -> list[tuple[str, str]]:
    """(category, who is right) for each differing stretch of our line vs. a hand-edited one.

    Who is right: "nuestro" (the hand-edited line has an error or breaks the project's rule),
    "referencia" (we missed something), "convención" (both readable; ours is the project's one form),
    "revisar" (not classified).
    """
    a, b = _WORDS.findall(ours), _WORDS.findall(theirs)
    found = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        x, y = a[i1:i2], b[j1:j2]
        xs, ys = " ".join(x).lower(), " ".join(y).lower()
        if any(":" in t for t in x) or re.search(r"\b(y|menos) (media|cuarto|\d+)\b", ys):
            found.append(("hora H:MM", "convención"))
        elif "%" in xs and "ciento" in ys:
            found.append(("porcentaje N%", "convención"))
        elif xs == "uno" and ys == "1":
            found.append(("«uno» pronombre que la referencia pasó a 1", "nuestro"))
        elif xs == "1" and ys in ("un", "una"):
            found.append(("«un/una» cantidad que la referencia dejó en palabras (1 hora, 1 kilo, la 1 de la tarde)", "nuestro"))
        elif x and all(t.isdigit() for t in x) and y and all(t.isalpha() for t in y) and numeros.to_digits(" ".join(y)) == " ".join(x):
            found.append(("número que la referencia dejó en palabras", "nuestro"))
        elif x and all(t.isalpha() for t in x) and y and all(t[0].isdigit() for t in y):
            found.append(("número que nosotros dejamos en palabras", "referencia"))
        elif x and y and all(t[0].isdigit() for t in x) and any(t[0].isdigit() for t in y):
            found.append(("dígitos distintos (error de tipeo de la referencia)", "nuestro"))
        elif not y or all(not t.isdigit() for t in x + y):
            found.append(("la referencia cambió texto que no es un número (palabras, puntuación)", "nuestro"))
        else:
            found.append(("otro", "revisar"))
    return found


def compare_reference(ref_dir: Path, converted: dict[str, list[tuple[str, str]]]) -> dict:
    """Agreement of our conversion with the earlier team's `<name>_numeros.tsv` files."""
    result = {"carpeta": str(ref_dir), "archivos": {}, "lineas": 0, "iguales": 0, "categorias": {}}
    for name, rows in converted.items():
        path = ref_dir / f"{name}_numeros.tsv"
        if not path.exists():
            continue
        theirs = {}
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                theirs[parts[0].strip()] = parts[-1].strip()
        both = [(u, t, theirs[u]) for u, t in rows if u in theirs]
        same = sum(1 for _, t, r in both if t == " ".join(r.split()))
        result["archivos"][name] = {"lineas": len(both), "iguales": same}
        result["lineas"] += len(both)
        result["iguales"] += same
        for utt, ours, ref in both:
            ref = " ".join(ref.split())
            if ours == ref:
                continue
            for category, right in classify_difference(ours, ref):
                c = result["categorias"].setdefault(category, {"correcto": right, "casos": 0, "ejemplos": []})
                c["casos"] += 1
                if len(c["ejemplos"]) < 3:
                    c["ejemplos"].append({"id": utt, "nuestro": ours, "referencia": ref})
    result["acuerdo"] = round(result["iguales"] / result["lineas"], 4) if result["lineas"] else None
    return result


# ---------------------------------------------------------------- audio (worker side)

_ZIPS: dict[str, zipfile.ZipFile] = {}


def _read_member(container: str, is_zip: bool, member: str) -> bytes:
    if not is_zip:
        return (Path(container) / member).read_bytes()
    z = _ZIPS.get(container)
    if z is None:  # one open handle per worker and zip
        z = _ZIPS[container] = zipfile.ZipFile(container)
    return z.read(member)


def convert_one(task: tuple) -> tuple:
    """Read one wav, check it, write it at 16 kHz mono. Returns (id, problem or None, seconds, detail)."""
    utt, container, is_zip, member, out, original = task
    try:
        raw = _read_member(container, is_zip, member)
        audio, rate = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - any decoder failure is the same user-facing problem
        return utt, "audio_ilegible", 0.0, re.sub(r"Error opening <[^>]*>: ", "", f"{type(e).__name__}: {e}")[:120]
    if audio.shape[0] == 0:
        return utt, "audio_vacio", 0.0, ""
    seconds = audio.shape[0] / rate
    if seconds > MAX_SECONDS:
        return utt, "audio_largo", seconds, f"{seconds:.1f} s"
    mono = audio.mean(axis=1)
    peak = float(np.abs(mono).max())
    if peak < SILENCE_PEAK:
        return utt, "audio_silencioso", seconds, f"pico {peak:.1e}"
    if rate != TARGET_RATE:
        mono = soxr.resample(mono, rate, TARGET_RATE, quality="HQ")
    tmp = Path(out).with_suffix(".tmp.wav")
    sf.write(tmp, np.clip(mono, -1.0, 1.0), TARGET_RATE, subtype="PCM_16")
    os.replace(tmp, out)  # atomic: an interrupted run never leaves a half-written wav
    if original:
        Path(original).write_bytes(raw)
    return utt, None, seconds, ""


# ---------------------------------------------------------------- main flow

def _summary(problems: Problems) -> str:
    """The non-zero skips, in Spanish: `3 fila del tsv sin wav, 1 audio silencioso`."""
    return ", ".join(f"{n} {PROBLEMS[k]}" for k, n in problems.counts.items() if n) or "ninguna fila"


def _check_data_dir(data_dir: Path) -> None:
    """A data dir we can create or write into; else a PrepError before any work."""
    if data_dir.exists() and not data_dir.is_dir():
        raise PrepError(f"--data-dir {data_dir}: existe y no es una carpeta. Indicá una carpeta con --data-dir.")
    parent = data_dir
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise PrepError(f"--data-dir {data_dir}: {parent} es un archivo, no una carpeta. Indicá otra ruta con --data-dir.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PrepError(f"--data-dir {data_dir}: no tenés permiso para escribir en {parent}. Indicá otra carpeta "
                        "con --data-dir.")


def _refuse_dropping(data_dir: Path, old: dict[str, str], kept, problems: Problems, replace: bool,
                     new_wavs: int = 0) -> None:
    """Never write a transcripciones.tsv with fewer of its ids without --reemplazar."""
    lost = [u for u in old if u not in kept]
    if lost and not replace:
        untouched = (f"No cambié {datos.TRANSCRIPTS} ni {datos.SPLIT} (los {new_wavs} audio(s) nuevos ya convertidos "
                     f"quedan en {datos.AUDIO_DIR}/ y se reusan)" if new_wavs else "No toqué nada")
        raise PrepError(
            f"{data_dir / datos.TRANSCRIPTS} ya tiene {len(old)} frase(s) y esta preparación dejaría {len(kept)}: "
            f"se perderían {len(lost)} (p. ej. {', '.join(lost[:3])}; esta vez se saltearon: {_summary(problems)}). "
            f"{untouched}. Usá otro --data-dir, o agregá --reemplazar si querés reemplazarlas.")


def prepare(zips_dir: Path, data_dir: Path, keep_originals=False, include_es_es=False, reference: Path | None = None,
            workers: int = 2, seed: int = 0, progress=True, replace: bool = False) -> dict:
    """Build or update the data dir. Nothing in it is written until something usable came out, and an existing
    transcripciones.tsv never loses ids unless `replace` (--reemplazar); new audio is only ever added."""
    start = time.time()
    if reference is not None and not reference.is_dir():
        raise PrepError(f"--referencia-numeros: no existe la carpeta {reference}")
    if data_dir.exists() and zips_dir.exists() and data_dir.resolve() == zips_dir.resolve():
        raise PrepError(f"--data-dir {data_dir} es la misma carpeta que --zips: indicá otra, por ejemplo --data-dir data.")
    sources, orphans = discover(zips_dir, skip=data_dir)
    _check_data_dir(data_dir)
    problems = Problems()
    try:  # what is already there must not shrink silently
        old = datos.read_transcripts(data_dir) if (data_dir / datos.TRANSCRIPTS).exists() else {}
    except datos.DataDirError as e:
        if not replace:
            raise PrepError(f"{e}\nNo toqué nada. Si querés rehacerlo desde los zips, agregá --reemplazar.") from None
        old = {}  # replaced whole anyway

    # Transcripts: read and convert numbers (written at the end, with the `_numeros.tsv` and review files).
    converted: dict[str, list[tuple[str, str]]] = {}
    review = []
    per_source = {}
    all_rows_ids: set[str] = set()
    for s in sources:
        rows = read_rows(s, problems, all_rows_ids)
        conv = [(u, numeros.to_digits(t)) for u, t in rows]
        review += [(s.name, u, t, c) for (u, t), (_, c) in zip(rows, conv, strict=True) if t != c]
        converted[s.name] = conv
        per_source[s.name] = {"origen": s.where(), "filas": len(rows), "wavs": len(s.wavs),
                              "cambiadas": sum(1 for (_, t), (_, c) in zip(rows, conv, strict=True) if t != c),
                              "es_es": s.castilian}

    # Choose one row per recording: duplicates, es-ES exclusion, conflicting ids.
    chosen: dict[str, tuple[Source, str]] = {}
    for s in sources:
        for utt, text in converted[s.name]:
            all_rows_ids.add(utt)
            if s.castilian and not include_es_es:
                problems.add("excluido_es_es", s.where(), utt)
                continue
            if utt in chosen:
                kind = "duplicado" if chosen[utt][1] == text else "id_repetido"
                problems.add(kind, s.where(), f"{utt} (ya está en {chosen[utt][0].where()})")
                continue
            chosen[utt] = (s, text)

    # Rows need a wav from their own source, or from any source that has the same id.
    wav_of = {}
    for s in sources:
        for utt, member in s.wavs.items():
            wav_of.setdefault(utt, (s, member))
    for utt in list(chosen):
        s, _ = chosen[utt]
        if utt in s.wavs:
            wav_of[utt] = (s, s.wavs[utt])
        elif utt not in wav_of:
            problems.add("fila_sin_wav", s.where(), utt)
            del chosen[utt]
    for utt, (s, member) in sorted(wav_of.items()):
        if utt not in all_rows_ids:
            problems.add("wav_sin_fila", f"{s.container.name}:{member}")
    for utt, where in sorted(orphans.items()):
        if utt not in all_rows_ids:
            problems.add("wav_sin_fila", where)

    def nothing_usable() -> PrepError:
        return PrepError(f"{zips_dir}: no quedó ninguna frase utilizable ({_summary(problems)}). No toqué {data_dir}. "
                         "Revisá que cada zip o carpeta tenga su line_index.tsv y sus wavs al lado.")

    if not chosen:  # before the tokenizer (seconds of torch import) and before touching the data dir
        raise nothing_usable()

    # Texts too long for Whisper's decoder.
    ids = list(chosen)
    for utt, n in zip(ids, _tokens([chosen[u][1] for u in ids]), strict=True):
        if n > MAX_TOKENS:
            problems.add("texto_largo", chosen[utt][0].where(), f"{utt} ({n} tokens)")
            del chosen[utt]
    _refuse_dropping(data_dir, old, chosen, problems, replace)

    # Audio: convert what is not converted yet, in parallel, one file at a time per worker. Only adds files.
    durations: dict[str, float] = {}
    tasks = []
    for utt in chosen:
        out = datos.audio_path(data_dir, utt)
        original = data_dir / ORIGINALS / f"{utt}.wav" if keep_originals else None
        if out.exists() and (original is None or original.exists()):
            try:
                durations[utt] = sf.info(str(out)).duration
                continue
            except Exception:  # noqa: BLE001 - a broken earlier output is simply redone
                out.unlink()
        s, member = wav_of[utt]
        tasks.append((utt, str(s.container), s.is_zip, member, str(out), str(original) if original else None))
    reused = len(durations)
    results, made = [], []
    if tasks:
        made = [d for d in (data_dir, data_dir / datos.AUDIO_DIR, data_dir / ORIGINALS) if not d.exists()]
        (data_dir / datos.AUDIO_DIR).mkdir(parents=True, exist_ok=True)
        if keep_originals:
            (data_dir / ORIGINALS).mkdir(exist_ok=True)
        bar = tqdm(total=len(tasks), desc="Convirtiendo audios a 16 kHz", unit="wav", disable=not progress,
                   file=sys.stderr)
        if workers > 1 and len(tasks) > 1:
            with mp.get_context("spawn").Pool(workers) as pool:
                for r in pool.imap_unordered(convert_one, tasks, chunksize=8):
                    results.append(r)
                    bar.update()
        else:
            for t in tasks:
                results.append(convert_one(t))
                bar.update()
        bar.close()
    for utt, problem, seconds, detail in results:
        if problem:
            s, member = wav_of[utt]
            problems.add(problem, f"{s.container.name}:{member}", detail)
            del chosen[utt]
        else:
            durations[utt] = seconds
    if not chosen:
        for folder in reversed(made):  # only the empty folders this run created: the data dir stays as it was
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise nothing_usable()
    _refuse_dropping(data_dir, old, chosen, problems, replace, sum(1 for r in results if not r[1]))

    # The split before any write: an old particion.tsv that misses new ids stops here, with nothing changed.
    texts = {u: t for u, (_, t) in chosen.items()}
    split, created, write_split = datos.read_split(data_dir), False, False
    if split is not None:
        missing = [u for u in texts if u not in split]
        if missing:
            raise PrepError(f"{data_dir / datos.SPLIT}: le faltan {len(missing)} id(s) nuevos (p. ej. {missing[0]}). "
                            f"No toqué nada. Borrá {datos.SPLIT} para que se arme de nuevo, o usá otro --data-dir.")
        if replace and len(split) != len(texts):  # --reemplazar: the split lists exactly the kept ids
            split, write_split = {u: split[u] for u in texts}, True
    else:
        split, created, write_split = datos.make_split(texts, seed=seed), True, True

    # The data dir, each file whole or not at all: transcripts in source order, the split, the review files.
    for name, conv in converted.items():
        datos.write_text_atomic(data_dir / f"{name}_numeros.tsv", "".join(f"{u}\t{c}\n" for u, c in conv))
    datos.write_text_atomic(data_dir / REVIEW, "archivo\tid\tantes\tdespues\n"
                            + "".join(f"{n}\t{u}\t{a}\t{b}\n" for n, u, a, b in review))
    datos.write_transcripts(data_dir, texts.items())
    if write_split:
        datos.write_split(data_dir, split)
    summary = datos.split_summary(texts, split, durations)

    report = {
        "zips": str(zips_dir),
        "data_dir": str(data_dir),
        "fuentes": per_source,
        "utterances": len(texts),
        "horas": round(sum(durations.get(u, 0.0) for u in texts) / 3600, 3),
        "segundos_audio": round(sum(durations.get(u, 0.0) for u in texts), 1),
        "audios_convertidos": len(results) - sum(1 for r in results if r[1]),
        "audios_reusados": reused,
        "lineas_con_numeros": len(review),
        "problemas": problems.counts,
        "ejemplos": {k: v for k, v in problems.examples.items() if v},
        "particion": {"creada": created, "resumen": summary},
        "frases_reemplazadas": sum(1 for u in old if u not in texts),
        "segundos": round(time.time() - start, 1),
    }
    if reference is not None:
        report["referencia_numeros"] = compare_reference(reference, converted)
    datos.write_text_atomic(data_dir / REPORT_JSON, json.dumps(report, ensure_ascii=False, indent=2))
    return report


def format_report(r: dict) -> str:
    lines = [f"Data dir listo: {r['data_dir']}  ({r['utterances']} frases, {r['horas']} h, {r['segundos']} s)"]
    for name, s in r["fuentes"].items():
        extra = " (es-ES)" if s["es_es"] else ""
        lines.append(f"  {name}{extra}: {s['filas']} filas, {s['wavs']} wavs, {s['cambiadas']} con números pasados a dígitos")
    lines.append(f"Audios convertidos: {r['audios_convertidos']}, ya estaban: {r['audios_reusados']}")
    if r.get("frases_reemplazadas"):
        lines.append(f"--reemplazar: {r['frases_reemplazadas']} frase(s) que estaban en {datos.TRANSCRIPTS} ya no están")
    lines.append(f"Líneas con números cambiados (para revisar): {r['lineas_con_numeros']} en {REVIEW}")
    lines.append("Problemas (se saltean y se cuentan):")
    for kind, label in PROBLEMS.items():
        n = r["problemas"][kind]
        lines.append(f"  {label}: {n}")
        for ex in r["ejemplos"].get(kind, [])[:3]:
            lines.append(f"      p. ej. {ex}")
    p = r["particion"]
    lines.append(f"Partición {'nueva' if p['creada'] else 'existente'} ({datos.SPLIT}):")
    for name in (*datos.SPLITS, datos.EXCLUDED):
        s = p["resumen"][name]
        overlap = f", frases compartidas con otras particiones: {s['sentence_overlap']}" if "sentence_overlap" in s else ""
        lines.append(f"  {name}: {s['utterances']} frases, {s['speakers']} hablantes, {s.get('hours', 0)} h, "
                     f"mujeres {s['female']} / varones {s['male']}{overlap}")
    ref = r.get("referencia_numeros")
    if ref:
        pct = f"{100 * ref['acuerdo']:.1f} %" if ref["acuerdo"] is not None else "sin líneas en común"
        lines.append(f"Acuerdo con los _numeros editados a mano ({ref['carpeta']}): {ref['iguales']}/{ref['lineas']} = {pct}")
        for cat, c in sorted(ref["categorias"].items(), key=lambda kv: -kv[1]["casos"]):
            lines.append(f"  {cat}: {c['casos']} (correcto: {c['correcto']})")
            ex = c["ejemplos"][0]
            lines.append(f"      nuestro:    {ex['nuestro']}\n      referencia: {ex['referencia']}")
    lines.append(f"Reporte completo: {Path(r['data_dir']) / REPORT_JSON}")
    return "\n".join(lines)
