"""Evaluate a Whisper model on held-out audio: `python ref_test.py --checkpoint X --data-dir D`.

Reads top to bottom: read the evaluation set (a data dir or a folder of wavs with `manifest.tsv`) ->
decode it for real (batched, Spanish forced, by the motores.py engine of `--engine`) -> score WER/CER
per corpus, speaker and gender, and the parking slots that `extraccion.extract` gets from each
hypothesis and each reference -> print a table and write the JSON report, its Markdown copy and a
PNG chart.

`evaluate()` works on an already-loaded model, so other scripts (the demo) call it in-process.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jiwer
from tqdm import tqdm

from cli import SpanishParser
from corpus import datos
from modelo import contexto, motores, pesos
from modelo.audio import audio_problem, load_audio
from modelo.precision import PRECISIONS
from texto import extraccion
from texto.metricas import error_rates, normalize_text

MANIFEST = "manifest.tsv"
ALL_ROWS = "todo"  # `split` in the report when the set has no particion.tsv
SLOT_NAMES = ("plate", "stay_minutes", "covered")
SLOT_LABELS = {"plate": "Patente", "stay_minutes": "Estadía", "covered": "Techado", "all": "Las tres",
               "plate_when_said": "Patente, si la dicen", "confirm_when_said": "Sí/no, si lo dicen"}
WORST_N = 10
# Beam search by default, as the `whisper` command does: on the demo's test and on real speech it beats
# greedy for both models (README, "Evaluar un modelo") for about twice the decoding time.
BEAM_SIZE = 5
REPORT_KEYS = ("model", "data_dir", "split", "n", "wer", "cer", "raw_wer", "by_speaker", "slots",
               "slots_from_reference", "baseline")


class EvalError(ValueError):
    """A user-facing problem with the evaluation set or options; the message is Spanish."""


@dataclass(frozen=True)
class Item:
    utt_id: str
    text: str
    path: Path
    speaker: str
    gender: str | None


# --- the evaluation set -----------------------------------------------------------------------------


def _manifest_speaker(utt_id: str) -> tuple[str, str | None]:
    """`slr61_arf_05679_...` -> (`slr61`, 'F'): the source prefix groups a manifest; gender from the rest."""
    source, _, rest = utt_id.partition("_")
    return source, datos.gender_of(rest) if rest else None


def read_manifest(folder: Path) -> list[tuple[str, str, Path]]:
    """(id, transcript, wav path) from `manifest.tsv` (header row with `filename` and `transcript`)."""
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise EvalError(f"{path}:{line}: el archivo no está en UTF-8. Convertilo con `iconv -t UTF-8`.") from None
    except OSError as e:
        raise EvalError(f"{path}: no se pudo leer ({e.strerror or e}).") from None
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    header = [c.strip() for c in rows[0]] if rows else []
    if "filename" not in header or "transcript" not in header:
        raise EvalError(f"{path}:1: el encabezado debe tener las columnas `filename` y `transcript` separadas por tabs.")
    name_col, text_col = header.index("filename"), header.index("transcript")
    out, seen = [], set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(name_col, text_col) or not row[name_col].strip():
            raise EvalError(f"{path}:{number}: faltan `filename` o `transcript`.")
        name = row[name_col].strip()
        utt_id = Path(name).stem
        if utt_id in seen:
            raise EvalError(f"{path}:{number}: el archivo {name} está repetido.")
        seen.add(utt_id)
        out.append((utt_id, row[text_col].strip(), folder / name))
    return out


def load_items(data_dir: str | Path, split: str = "test", log=print) -> tuple[list[Item], str, dict | None]:
    """(items of the chosen split, split name for the report, slot labels or None).

    Data dirs use particion.tsv when present; manifest folders and data dirs without one use every row.
    """
    folder = Path(data_dir)
    if folder.is_file():
        raise EvalError(f"--data-dir {data_dir}: es un archivo. Indicá la carpeta del data dir (la que tiene "
                        f"{datos.TRANSCRIPTS} y {datos.AUDIO_DIR}/) o la de los wavs con {MANIFEST}.")
    if not folder.is_dir():
        raise EvalError(f"--data-dir {data_dir}: no existe esa carpeta.")
    if (folder / datos.TRANSCRIPTS).is_file():
        texts = datos.read_transcripts(folder)
        split_map = datos.read_split(folder)
        if split_map is None:
            log(f"Aviso: {folder} no tiene {datos.SPLIT}: se evalúan todas las frases ({len(texts)}).")
            chosen, split_name = list(texts), ALL_ROWS
        else:
            chosen, split_name = [i for i in texts if split_map.get(i) == split], split
            if not chosen:
                present = sorted(set(split_map.values()))
                raise EvalError(f"{folder / datos.SPLIT}: no hay frases en la partición {split!r} "
                                f"(hay: {', '.join(present) or 'ninguna'}). Elegí otra con --split.")
        items = [Item(i, texts[i], datos.audio_path(folder, i), datos.speaker_of(i), datos.gender_of(i)) for i in chosen]
        return items, split_name, datos.read_slots(folder)
    if (folder / MANIFEST).is_file():
        rows = read_manifest(folder)
        log(f"Carpeta con {MANIFEST}: se evalúan todas sus filas ({len(rows)}); hablante = prefijo de la fuente.")
        items = [Item(i, t, p, *_manifest_speaker(i)) for i, t, p in rows]
        return items, ALL_ROWS, datos.read_slots(folder)
    raise EvalError(
        f"--data-dir {data_dir}: no es un data dir (falta {datos.TRANSCRIPTS}) ni una carpeta de audios con {MANIFEST}. "
        f"Generá uno con `python sintetico.py --out {data_dir}` o `python preparar_datos.py`."
    )


def _usable(items: list[Item], limit: int | None, log) -> tuple[list[Item], datos.Skipped]:
    """Items with words to score and audio that exists, is readable and fits Whisper's 30 s window; the rest
    counted and reported, so `n` is exactly what the WER scores."""
    skipped, kept = datos.Skipped(), []
    for item in items:
        if limit is not None and len(kept) >= limit:
            break
        # jiwer cannot score an empty reference: it would be counted in `n` and left out of the WER.
        problem = (datos.EMPTY_TEXT if not normalize_text(item.text) else None) or audio_problem(item.path)
        if problem:  # a clip over 30 s would be cut by decoding: an unfair error
            skipped.add(problem, item.utt_id)
            continue
        kept.append(item)
    if skipped.counts:
        log(f"Aviso: se omitieron {sum(skipped.counts.values())} frase(s): {skipped.report()}")
    return kept, skipped


def usable_items(data_dir: str | Path, split: str = "test", limit: int | None = None,
                 log=print) -> tuple[list[Item], str, dict | None]:
    """load_items, less what cannot be scored (counted and logged); nothing left is an EvalError."""
    items, split_name, slot_labels = load_items(data_dir, split, log)
    items, skipped = _usable(items, limit, log)
    if not items:
        why = f" (se omitieron {sum(skipped.counts.values())}: {skipped.report()})" if skipped.counts else ""
        raise EvalError(f"--data-dir {data_dir}: no queda ninguna frase para evaluar{why}. Cada frase necesita un "
                        f"texto con palabras en {datos.TRANSCRIPTS} (o {MANIFEST}) y su audio legible, de hasta 30 s.")
    return items, split_name, slot_labels


# --- decoding and scoring ----------------------------------------------------------------------


def transcribe_items(model, items: list[Item], beam_size: int | None = None, batch_size: int = 8,
                     progress: bool = True) -> list[str]:
    """Real autoregressive decoding, language forced to Spanish, by a `motores` engine (or a bare Whisper).
    `beam_size` None or 1: greedy."""
    engine = motores.as_engine(model)
    hypotheses: list[str] = []
    bar = tqdm(total=len(items), desc="Transcribiendo", unit="frase", disable=not progress, file=sys.stderr)
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        hypotheses += engine.transcribe([load_audio(i.path) for i in batch],
                                        beam_size=beam_size if beam_size and beam_size > 1 else None)
        bar.update(len(batch))
    bar.close()
    return hypotheses


def utterance_wer(reference: str, hypothesis: str) -> float | None:
    """Per-utterance WER after the same normalisation as the corpus WER; None for an empty reference."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    return jiwer.process_words(ref, hyp).wer if ref else None


def alignment(reference: str, hypothesis: str, width: int = 110) -> str:
    """REF/HYP lines aligned word by word (jiwer), with S/D/I marks, on normalised text."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return f"REF: (vacía)\nHYP: {hyp}"
    text = jiwer.visualize_alignment(jiwer.process_words(ref, hyp), show_measures=False, skip_correct=False,
                                     line_width=width)
    return "\n".join(text.splitlines()[1:]).strip("\n")  # drop "=== SENTENCE 1 ==="; long ones wrap in blocks


def _norm_plate(plate: str | None) -> str | None:
    """Spacing and dashes do not make another plate: "AB 123-CD" == "AB123CD"."""
    return "".join(c for c in (plate or "").upper() if c.isalnum()) or None


def _arrival(labels: datos.SlotLabels) -> datetime.time | None:
    if not labels.arrival:
        return None
    hour, minute = (int(x) for x in labels.arrival.split(":"))
    return datetime.time(hour % 24, minute)


def _extract(text: str, arrival, failures: list[str], utt_id: str) -> extraccion.Slots:
    try:
        return extraccion.extract(text, arrival)
    except Exception as e:  # an extractor bug must cost this utterance, not the whole report
        failures.append(f"{utt_id}: {type(e).__name__}: {e}")
        return extraccion.Slots()


def _slot_hits(found: extraccion.Slots, labels: datos.SlotLabels) -> dict[str, bool]:
    hits = {
        "plate": _norm_plate(found.plate) == _norm_plate(labels.plate),
        "stay_minutes": found.stay_minutes == labels.stay_minutes,
        "covered": found.covered == labels.covered,
    }
    hits["all"] = all(hits.values())
    return hits


def _slots_dict(found: extraccion.Slots, hits: dict[str, bool]) -> dict:
    return {"plate": found.plate, "stay_minutes": found.stay_minutes, "covered": found.covered, "ok": hits}


def _accuracies(hit_rows: list[dict[str, bool]], with_plate: list[bool], yes_no: list[bool | None]) -> dict | None:
    """Accuracy per slot over all labelled answers, the plate's over those that say one (`plate_when_said`:
    an answer with no plate counts as a plate hit when nothing is found), and over the answers that say yes
    or no, whether that is read the same (`confirm_when_said`: `yes_no` is None where it says neither)."""
    if not hit_rows:
        return None
    out = {k: sum(h[k] for h in hit_rows) / len(hit_rows) for k in (*SLOT_NAMES, "all")}
    out["n"] = len(hit_rows)
    said = [h["plate"] for h, has in zip(hit_rows, with_plate, strict=True) if has]
    out["plate_when_said"] = sum(said) / len(said) if said else None
    out["n_with_plate"] = len(said)
    read = [ok for ok in yes_no if ok is not None]
    out["confirm_when_said"] = sum(read) / len(read) if read else None
    out["n_with_confirm"] = len(read)
    return out


def _clean(value):
    """NaN -> None, so the JSON is strict (readers in other languages reject NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def score(items: list[Item], hypotheses: list[str], slot_labels: dict | None, log=print) -> dict:
    """Everything of the report but `model`, `data_dir`, `split` and `baseline`."""
    refs = [i.text for i in items]
    rates = error_rates(refs, hypotheses)
    by_speaker: dict[str, dict] = {}
    hyp_hits, ref_hits, with_plate, failures, yes_no = [], [], [], [], []
    for item, hyp in zip(items, hypotheses, strict=True):
        entry = by_speaker.setdefault(item.speaker, {"gender": item.gender, "utterances": []})
        utt = {"id": item.utt_id, "reference": item.text, "hypothesis": hyp, "wer": utterance_wer(item.text, hyp)}
        labels = (slot_labels or {}).get(item.utt_id)
        if labels is not None:
            arrival = _arrival(labels)
            from_hyp = _extract(hyp, arrival, failures, item.utt_id)
            from_ref = _extract(item.text, arrival, failures, item.utt_id)
            with_plate.append(labels.plate is not None)
            said = extraccion.confirm(item.text)  # the reference is the truth: the kiosk asks "¿es correcto?"
            yes_no.append(None if said is None else extraccion.confirm(hyp) == said)
            hyp_hits.append(_slot_hits(from_hyp, labels))
            ref_hits.append(_slot_hits(from_ref, labels))
            utt["slots"] = _slots_dict(from_hyp, hyp_hits[-1])
            utt["slots_from_reference"] = _slots_dict(from_ref, ref_hits[-1])
        entry["utterances"].append(utt)
    for entry in by_speaker.values():
        utts = entry["utterances"]
        entry.update(n=len(utts), **error_rates([u["reference"] for u in utts], [u["hypothesis"] for u in utts]))
    if slot_labels is not None:
        unlabelled = len(items) - len(hyp_hits)
        if unlabelled:
            log(f"Aviso: {unlabelled} frase(s) no tienen fila en {datos.SLOTS}: no cuentan para los slots.")
    if failures:
        log(f"Aviso: extraccion.extract falló en {len(failures)} texto(s) (cuentan como error): {'; '.join(failures[:3])}")
    return {"n": len(items), **rates, "by_speaker": dict(sorted(by_speaker.items())),
            "slots": _accuracies(hyp_hits, with_plate, yes_no),
            "slots_from_reference": _accuracies(ref_hits, with_plate, [None if ok is None else True for ok in yes_no])}


def evaluate(model, data_dir: str | Path, split: str = "test", beam_size: int | None = BEAM_SIZE, batch_size: int = 8,
             limit: int | None = None, model_name: str | None = None, progress: bool = True, log=print) -> dict:
    """The report for one already-loaded model (a Whisper or a `motores` engine): exactly REPORT_KEYS, `baseline` None.

    Per-utterance hypotheses, WER and extracted slots are in by_speaker[s]["utterances"].
    """
    items, split_name, slot_labels = usable_items(data_dir, split, limit, log)
    hypotheses = transcribe_items(model, items, beam_size, batch_size, progress)
    scores = score(items, hypotheses, slot_labels, log)
    name = model_name or getattr(model, "spec", type(model).__name__)
    report = {"model": name, "data_dir": str(data_dir), "split": split_name, **scores, "baseline": None}
    return _clean({k: report[k] for k in REPORT_KEYS})


def attach_baseline(report: dict, baseline: dict) -> dict:
    """`report` with `baseline` set to the other model's report (all keys but its own `baseline`)."""
    report["baseline"] = {k: v for k, v in baseline.items() if k != "baseline"}
    return report


def load_model(spec: str):
    """The openai-whisper model, through pesos.load_whisper only (strict keys), on CUDA when there is one."""
    return motores.load_engine(spec, "openai").model


# --- presentation ------------------------------------------------------------------------------


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _diff(a, b) -> str:
    return "—" if a is None or b is None else f"{100 * (a - b):+.1f} pp"


def by_gender(report: dict) -> dict[str, dict]:
    """Gender -> n, WER, CER, from the utterances kept in by_speaker."""
    groups: dict[str, list[dict]] = {}
    for entry in report["by_speaker"].values():
        groups.setdefault(entry.get("gender") or "?", []).extend(entry["utterances"])
    out = {}
    for gender, utts in sorted(groups.items()):
        rates = error_rates([u["reference"] for u in utts], [u["hypothesis"] for u in utts])
        out[gender] = _clean({"n": len(utts), "wer": rates["wer"], "cer": rates["cer"]})
    return out


def worst_utterances(report: dict, count: int = WORST_N) -> list[dict]:
    utts = [u for e in report["by_speaker"].values() for u in e["utterances"] if u.get("wer") is not None]
    return sorted(utts, key=lambda u: (-u["wer"], u["id"]))[:count]


def _rows(report: dict) -> list[tuple[str, float | None, float | None]]:
    """(label, model value, baseline value) for the main table."""
    base = report.get("baseline") or {}
    rows = [("WER (normalizado)", report["wer"], base.get("wer")),
            ("CER (normalizado)", report["cer"], base.get("cer")),
            ("WER crudo", report["raw_wer"], base.get("raw_wer"))]
    for key, origin in (("slots", "audio"), ("slots_from_reference", "referencia")):
        if report.get(key):
            other = base.get(key) or {}
            rows += [(f"{SLOT_LABELS[s]} ({origin})", report[key].get(s), other.get(s))
                     for s in (*SLOT_NAMES, "all", "plate_when_said", "confirm_when_said")]
    return rows


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    fmt = lambda r: "  ".join(str(v).ljust(w) if c == 0 else str(v).rjust(w) for c, (v, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def _speaker_rows(report: dict) -> list[list[str]]:
    base = (report.get("baseline") or {}).get("by_speaker", {})
    rows = []
    for speaker, entry in report["by_speaker"].items():
        row = [speaker, entry.get("gender") or "?", str(entry["n"]), _pct(entry["wer"])]
        if report.get("baseline"):
            other = base.get(speaker, {}).get("wer")
            row += [_pct(other), _diff(entry["wer"], other)]
        rows.append(row)
    return rows


def format_table(report: dict, worst: int = 5) -> str:
    """The on-screen summary (Spanish): metrics, per speaker, per gender, the worst utterances aligned."""
    baseline = report.get("baseline")
    lines = [f"Modelo: {report['model']}" + (f"   comparado con: {baseline['model']}" if baseline else ""),
             f"Datos: {report['data_dir']} (partición: {report['split']}, {report['n']} frases)", ""]
    header = ["métrica", "modelo"] + (["base", "diferencia"] if baseline else [])
    rows = [[label, _pct(a)] + ([_pct(b), _diff(a, b)] if baseline else []) for label, a, b in _rows(report)]
    lines += [_grid(header, rows), ""]
    header = ["hablante", "género", "n", "WER"] + (["WER base", "diferencia"] if baseline else [])
    lines += [_grid(header, _speaker_rows(report)), ""]
    genders, base_genders = by_gender(report), by_gender(baseline) if baseline else {}
    header = ["género", "n", "WER", "CER"] + (["WER base", "diferencia"] if baseline else [])
    rows = []
    for gender, g in genders.items():
        other = base_genders.get(gender, {}).get("wer")
        rows.append([gender, str(g["n"]), _pct(g["wer"]), _pct(g["cer"])] + ([_pct(other), _diff(g["wer"], other)] if baseline else []))
    lines += [_grid(header, rows)]
    if worst:
        lines += ["", f"Peores frases del modelo (WER por frase, hasta {worst}):"]
        for u in worst_utterances(report, worst):
            lines += [f"  {u['id']}  WER {_pct(u['wer'])}", *("    " + line for line in alignment(u["reference"], u["hypothesis"]).splitlines())]
    return "\n".join(lines)


def format_markdown(report: dict, notes: list[str] = ()) -> str:
    baseline = report.get("baseline")
    md = ["# Reporte de ref_test.py", "",
          f"- Modelo: `{report['model']}`" + (f"; comparado con `{baseline['model']}`" if baseline else ""),
          f"- Datos: `{report['data_dir']}`, partición `{report['split']}`, {report['n']} frases", ""]
    if notes:
        md += ["## Avisos", "", *(f"- {n}" for n in notes), ""]

    def table(header, rows):
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows), ""]

    rows = [[label, _pct(a)] + ([_pct(b), _diff(a, b)] if baseline else []) for label, a, b in _rows(report)]
    md += ["## Resumen", "", *table(["métrica", "modelo"] + (["base", "diferencia"] if baseline else []), rows)]
    md += ["## Por hablante", "", *table(["hablante", "género", "n", "WER"] + (["WER base", "diferencia"] if baseline else []),
                                         _speaker_rows(report))]
    md += ["## Por género", "", *table(["género", "n", "WER", "CER"],
                                       [[g, str(v["n"]), _pct(v["wer"]), _pct(v["cer"])] for g, v in by_gender(report).items()])]
    md += [f"## Peores {WORST_N} frases (WER por frase)", ""]
    for u in worst_utterances(report):
        md += [f"**{u['id']}** — WER {_pct(u['wer'])}", "", "```", alignment(u["reference"], u["hypothesis"]), "```", ""]
    if report.get("slots"):
        md += ["## Slots por frase (errores)", ""]
        rows = []
        for e in report["by_speaker"].values():
            for u in e["utterances"]:
                if "slots" in u and not u["slots"]["ok"]["all"]:
                    s, r = u["slots"], u["slots_from_reference"]
                    rows.append([u["id"], f"{s['plate']} / {s['stay_minutes']} / {s['covered']}",
                                 f"{r['plate']} / {r['stay_minutes']} / {r['covered']}"])
        md += table(["id", "desde el audio (patente / minutos / techado)", "desde la referencia"], rows) if rows else ["Ninguno.", ""]
    return "\n".join(md)


def plot_speakers(report: dict, path: Path) -> Path:
    """Horizontal bars of WER per speaker, model and baseline side by side."""
    import matplotlib  # the file backend must be chosen before pyplot is imported

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speakers = list(report["by_speaker"])
    series = [(report["model"], report)] + ([(report["baseline"]["model"], report["baseline"])] if report.get("baseline") else [])
    height = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(speakers) * len(series) + 1.2)))
    for k, (name, rep) in enumerate(series):
        values = [100 * ((rep["by_speaker"].get(s) or {}).get("wer") or 0.0) for s in speakers]
        ax.barh([i + k * height for i in range(len(speakers))], values, height=height, label=name)
    ax.set_yticks([i + height * (len(series) - 1) / 2 for i in range(len(speakers))], speakers)
    ax.invert_yaxis()
    ax.set_xlabel("WER (%)")
    ax.set_title(f"WER por hablante — {Path(report['data_dir']).name} ({report['split']})")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def output_paths(report_path: str | Path) -> dict[str, Path]:
    """The JSON report and its Markdown and PNG siblings (same name, .md and .png)."""
    path = Path(report_path)
    return {"json": path, "md": path.with_suffix(".md"), "png": path.with_suffix(".png")}


def _unwritable(path: Path) -> str | None:
    """Why a file or folder cannot be created at `path` (checked before minutes of decoding), or None."""
    if path.exists():
        return None if os.access(path, os.W_OK) else f"no tenés permiso para escribir {path}"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} es un archivo, no una carpeta"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"no tenés permiso para escribir en la carpeta {parent}"
    return None


def output_problems(report_path: str, ct2_dir: str | Path | None = None) -> list[str]:
    """Every problem with where ref_test will write, in Spanish, so a bad path fails before the model loads."""
    problems = []
    paths = output_paths(report_path)
    if str(report_path).endswith(("/", os.sep)) or paths["json"].is_dir():
        problems.append(f"--report {report_path}: es una carpeta. Indicá un archivo, por ejemplo "
                        f"--report {Path(report_path) / 'ref_test.json'} (el .md y el .png se escriben al lado).")
    elif paths["json"].suffix.lower() in (".md", ".png"):
        problems.append(f"--report {report_path}: el .md y el .png se escriben al lado con el mismo nombre y lo "
                        f"pisarían. Indicá un .json, por ejemplo --report {paths['json'].with_suffix('.json')}.")
    else:
        for kind, path in paths.items():
            if path.is_dir():
                problems.append(f"--report {report_path}: {path} (el {kind} del reporte) es una carpeta. Movela o "
                                "elegí otro nombre con --report.")
            elif (why := _unwritable(path)) is not None:
                problems.append(f"--report {report_path}: {why}. Elegí otra ruta con --report.")
                break  # the same parent would be reported three times
    if ct2_dir is not None:
        ct2 = Path(ct2_dir)
        why = f"{ct2} existe y no es una carpeta" if ct2.exists() and not ct2.is_dir() else _unwritable(ct2)
        if why:
            problems.append(f"--ct2-dir {ct2_dir}: ahí se exporta el modelo a CTranslate2 y {why}. "
                            "Elegí otra carpeta con --ct2-dir.")
    return problems


def write_outputs(report: dict, path: str | Path, notes: list[str] = ()) -> dict[str, Path]:
    """JSON at `path`, Markdown and PNG beside it (same name, .md and .png)."""
    paths = output_paths(path)
    if report.get("baseline"):  # a caller may have set it to a whole report: keep the documented shape
        attach_baseline(report, report["baseline"])
    # Through a temporary file: an interrupted run never leaves half a report.
    datos.write_text_atomic(paths["json"], json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
    datos.write_text_atomic(paths["md"], format_markdown(report, notes))
    plot_speakers(report, paths["png"])
    return paths


def _save_elsewhere(report: dict) -> Path | None:
    """The JSON report in the temporary folder, when --report could not be written: the evaluation is kept."""
    try:
        handle, name = tempfile.mkstemp(prefix="ref_test-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, ensure_ascii=False, allow_nan=False)
        return Path(name)
    except OSError:
        return None


# --- command line ------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"se esperaba un entero, no {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"debe ser al menos 1, no {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishParser(
        prog="ref_test.py",
        description="Evalúa un modelo Whisper sobre audio de prueba: WER y CER (normalizados, números como dígitos), "
                    "WER crudo, por hablante y por género, las peores frases, y los slots del estacionamiento "
                    "(patente, estadía, techado) cuando el data dir tiene slots.tsv.",
        epilog="Ejemplo: python ref_test.py --checkpoint artifacts/last.ckpt --data-dir data/sintetico "
               "--compare-with base",
    )
    parser.add_argument("--checkpoint", required=True, metavar="MODELO",
                        help="modelo a evaluar: .ckpt de fine_tune.py, .pt exportado, nombre oficial (base…) o directorio CTranslate2")
    parser.add_argument("--data-dir", required=True, metavar="DIR",
                        help="data dir (audios/ + transcripciones.tsv, particion.tsv y slots.tsv opcionales) "
                             f"o carpeta de wavs con {MANIFEST} (filename, transcript)")
    parser.add_argument("--split", default="test", choices=datos.SPLITS, help="partición a evaluar si hay particion.tsv")
    parser.add_argument("--compare-with", default=None, metavar="MODELO",
                        help="otro modelo para comparar lado a lado (por ejemplo base)")
    parser.add_argument("--report", default="artifacts/ref_test.json", metavar="RUTA",
                        help="reporte JSON; al lado se escriben el .md y el .png")
    parser.add_argument("--engine", default="openai", choices=motores.ENGINES,
                        help="quién decodifica: openai (openai-whisper, PyTorch) o ctranslate2 (faster-whisper; int8 en "
                             "CPU, float16 en GPU; si el modelo no es un directorio CTranslate2 se exporta una vez a "
                             "--ct2-dir)")
    parser.add_argument("--ct2-dir", default=None, metavar="DIR",
                        help="con --engine ctranslate2, dónde se guarda (y se reusa) el modelo exportado a CTranslate2 "
                             "(por defecto: la carpeta ct2/ al lado de --report)")
    parser.add_argument("--beam-size", type=_positive, default=BEAM_SIZE, metavar="N",
                        help=f"búsqueda en haz de N hipótesis (por defecto {BEAM_SIZE}, como el comando whisper; "
                             "1: greedy, la mitad del tiempo y algo menos preciso)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="precisión al decodificar con --engine openai: fp32 (por defecto: los mismos números en "
                             "cualquier máquina), bf16, o auto (bf16 donde el hardware lo tiene: CPU con AMX o "
                             "AVX512-BF16, GPU con bf16; hasta ~1.9x más rápido, números algo distintos)")
    parser.add_argument("--gramatica-patente", type=int, choices=(0, 1), default=1, metavar="{1,0}",
                        help="1 (por defecto, --engine openai): una patente deletreada que no tiene ninguna forma válida "
                             "(AA999AA, AAA999, A999AAA, 999AAA) se decodifica de nuevo forzando esas formas; "
                             "0: el modelo tal cual")
    parser.add_argument("--batch-size", type=_positive, default=8, metavar="N", help="frases por lote al decodificar")
    parser.add_argument("--limit", type=_positive, default=None, metavar="N", help="evaluar solo las primeras N frases")
    parser.add_argument("--sin-progreso", action="store_true", help="no mostrar la barra de progreso")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    notes: list[str] = []

    def log(message: str) -> None:
        notes.append(message)
        print(message, flush=True)

    ct2_dir = Path(args.ct2_dir) if args.ct2_dir else Path(args.report).parent / "ct2"
    exports = args.engine == "ctranslate2" and not all(
        motores.is_ct2_dir(s) for s in (args.checkpoint, args.compare_with) if s)
    problems = output_problems(args.report, ct2_dir if exports else None)
    if problems:  # before minutes of decoding, not after
        print("\n".join(f"Error: {p}" for p in problems), file=sys.stderr)
        return 2
    try:  # a bad --data-dir, or one with nothing to score, fails before the slow load
        usable_items(args.data_dir, args.split, args.limit, log=lambda _m: None)
    except (EvalError, datos.DataDirError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    specs = [args.checkpoint] + ([args.compare_with] if args.compare_with else [])
    try:
        engines = []
        for spec in specs:  # both loaded first: a bad --compare-with fails before minutes of decoding
            print(f"Cargando {spec}…", flush=True)
            engines.append(motores.load_engine(spec, args.engine, precision=args.precision,
                                               plate_grammar=bool(args.gramatica_patente), cache_dir=ct2_dir,
                                               log=lambda m: print(m, flush=True)))
        log("Decodificación greedy (--beam-size 1)." if args.beam_size == 1 else
            f"Decodificación con búsqueda en haz de {args.beam_size} (--beam-size {args.beam_size}; 1: greedy).")
        contexts = {engine.audio_context for engine in engines}
        log("Contexto de audio: " + " / ".join(f"{c} s" if c != contexto.AUTO else "auto" for c in sorted(contexts))
            + " (el que guardó cada modelo al entrenarse; ver --audio-context de fine_tune.py).")
        if args.engine == "openai":
            dtype = engines[0].autocast
            grammar = "con" if args.gramatica_patente else "sin"
            log(f"Decodificación en {'bf16' if dtype is not None else 'fp32'} (--precision {args.precision}), "
                f"{grammar} la gramática de la patente (--gramatica-patente {args.gramatica_patente}).")
        reports = []
        for spec, engine in zip(specs, engines, strict=True):
            if len(specs) > 1:
                print(f"Evaluando {spec}…", flush=True)
            name = str(spec) if args.engine == "openai" else f"{spec} ({args.engine})"
            reports.append(evaluate(engine, args.data_dir, args.split, args.beam_size, args.batch_size, args.limit,
                                    model_name=name, progress=not args.sin_progreso,
                                    log=log if not reports else lambda m: None))  # notes once, not per model
    except (EvalError, datos.DataDirError, pesos.WeightsError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    report = reports[0]
    if len(reports) > 1:
        attach_baseline(report, reports[1])
    print()
    print(format_table(report), flush=True)  # on screen first: a failed write below does not lose it
    try:
        paths = write_outputs(report, args.report, notes)
    except OSError as e:
        print(f"\nError: no se pudo escribir el reporte en {e.filename or args.report} ({e.strerror or e}).",
              file=sys.stderr)
        kept = _save_elsewhere(report)
        if kept:
            print(f"La evaluación no se perdió: el reporte JSON quedó en {kept}. Copialo adonde quieras, o corré "
                  "de nuevo con otro --report.", file=sys.stderr)
        return 1
    print(f"\nReporte: {paths['json']} (también {paths['md'].name} y {paths['png'].name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
