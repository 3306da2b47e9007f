"""The project's one data-dir format: read it, write it, split it.

A data dir holds `audios/<id>.wav`, `transcripciones.tsv` (id TAB text, no header), and optionally
`particion.tsv` (id TAB train|val|test|excluido) and `slots.tsv` (header
`id plate stay_minutes covered arrival`, empty cell = none). Everything in the project reads and
writes it through this module. Pure Python (no torch), so data tools start instantly.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from texto.normalizar import fold

AUDIO_DIR = "audios"
TRANSCRIPTS = "transcripciones.tsv"
SPLIT = "particion.tsv"
SLOTS = "slots.tsv"
SPLITS = ("train", "val", "test")
# Utterances whose sentence also occurs in another split: kept out of every split, and counted.
EXCLUDED = "excluido"
SLOT_COLUMNS = ("id", "plate", "stay_minutes", "covered", "arrival")
EMPTY_TEXT = "transcripción vacía"  # the skip reason, shared by training and evaluation
# A sentence read in several splits stays where its readings, eval ones counted twice, weigh most.
# Measured on the real OpenSLR 61 transcripts (5,739 lines, 44 speakers, seed 0, 10%/10%), lines kept
# in val+test / excluded: weight 1 -> 479 / 723; 2 -> 667 / 829 (14%); 3 -> 787 / 995.
EVAL_WEIGHT = 2.0


class DataDirError(ValueError):
    """A user-facing problem with a data dir; the message is Spanish and names the file and line."""


@dataclass(frozen=True)
class SlotLabels:
    plate: str | None
    stay_minutes: int | None
    covered: bool | None
    arrival: str | None  # "HH:MM" or None


@dataclass
class Skipped:
    """Rows a dataset left out, by reason, with the first ids of each (reported, never silent)."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(self, reason: str, utt_id: str) -> None:
        self.counts[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 3:
            self.examples[reason].append(utt_id)

    def report(self) -> str:
        return "; ".join(f"{n} por {reason} (p. ej. {', '.join(self.examples[reason])})" for reason, n in self.counts.items())


def speaker_of(utt_id: str) -> str:
    """`arf_05679_01463815283` -> `arf_05679` (the first two fields, as in OpenSLR 61)."""
    parts = utt_id.split("_")
    return "_".join(parts[:2]) if len(parts) >= 3 else utt_id


def gender_of(utt_id: str) -> str | None:
    """'F' or 'M' from the id prefix (`arf`/`arm` in the real data, `snf`/`snm` in synthetic)."""
    prefix = utt_id.split("_", 1)[0]
    return {"f": "F", "m": "M"}.get(prefix[-1:]) if len(prefix) == 3 else None


def audio_path(data_dir: str | Path, utt_id: str) -> Path:
    return Path(data_dir) / AUDIO_DIR / f"{utt_id}.wav"


def text_problem(text: str) -> str | None:
    """EMPTY_TEXT when a transcript has no word to learn or score (empty, or only punctuation), else None."""
    return None if sentence_key(text) else EMPTY_TEXT


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write through a temporary file and os.replace: a crash leaves the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read_tsv_lines(path: Path):
    """Yield (line_number, fields) with clear errors for encoding problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataDirError(f"No existe {path}. ¿Es un data dir? Debe tener {TRANSCRIPTS} y {AUDIO_DIR}/.") from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DataDirError(f"{path}:{line}: el archivo no está en UTF-8. Convertilo con `iconv -t UTF-8`.") from None
    except OSError as e:  # a folder where the file should be, no permission...
        raise DataDirError(f"{path}: no se pudo leer ({e.strerror or e}). Revisá que sea un archivo de texto "
                           "que puedas leer.") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.split("\t")


def read_transcripts(data_dir: str | Path) -> dict[str, str]:
    """id -> text, in file order. Malformed lines and repeated ids are errors naming the line."""
    path = Path(data_dir) / TRANSCRIPTS
    rows: dict[str, str] = {}
    problems = []
    for number, fields in _read_tsv_lines(path):
        if len(fields) != 2 or not fields[0].strip():
            problems.append(f"{path}:{number}: se esperaba `id<TAB>texto` y hay {len(fields)} campo(s)")
            continue
        utt_id, text = fields[0].strip(), fields[1].strip()
        if utt_id in rows:
            problems.append(f"{path}:{number}: el id {utt_id} está repetido")
            continue
        rows[utt_id] = text
    if problems:
        raise DataDirError("\n".join(problems[:20] + [f"({len(problems)} problema(s) en total). Corregí esas líneas: "
                                                        "cada una es el id, un tab y el texto, sin ids repetidos."]))
    return rows


def write_transcripts(data_dir: str | Path, rows) -> None:
    lines = []
    for utt_id, text in rows:
        if "\t" in text or "\n" in text:
            raise ValueError(f"text of {utt_id} has a tab or newline: {text!r}")
        lines.append(f"{utt_id}\t{text}\n")
    write_text_atomic(Path(data_dir) / TRANSCRIPTS, "".join(lines))


def read_split(data_dir: str | Path) -> dict[str, str] | None:
    """id -> split from `particion.tsv`, or None when the data dir has none."""
    path = Path(data_dir) / SPLIT
    if not path.exists():
        return None
    split = {}
    for number, fields in _read_tsv_lines(path):
        if len(fields) != 2 or fields[1].strip() not in (*SPLITS, EXCLUDED):
            raise DataDirError(
                f"{path}:{number}: se esperaba `id<TAB>train|val|test|{EXCLUDED}`. "
                f"Corregí la línea o borrá {SPLIT} para que se genere de nuevo."
            )
        split[fields[0].strip()] = fields[1].strip()
    return split


def write_split(data_dir: str | Path, split: dict[str, str]) -> None:
    write_text_atomic(Path(data_dir) / SPLIT, "".join(f"{utt_id}\t{name}\n" for utt_id, name in split.items()))


def _parse_bool(value: str, where: str) -> bool | None:
    value = value.strip().lower()
    if value == "":
        return None
    if value in ("true", "1", "si", "sí"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise DataDirError(f"{where}: `covered` debe ser true, false o vacío, no {value!r}")


def read_slots(data_dir: str | Path) -> dict[str, SlotLabels] | None:
    """id -> SlotLabels from `slots.tsv`, or None when the data dir has none."""
    path = Path(data_dir) / SLOTS
    if not path.exists():
        return None
    lines = list(_read_tsv_lines(path))
    if not lines or tuple(c.strip() for c in lines[0][1]) != SLOT_COLUMNS:
        raise DataDirError(f"{path}:1: el encabezado debe ser {' '.join(SLOT_COLUMNS)} separado por tabs")
    labels = {}
    for number, fields in lines[1:]:
        where = f"{path}:{number}"
        fields = fields + [""] * (len(SLOT_COLUMNS) - len(fields))
        if len(fields) != len(SLOT_COLUMNS):
            raise DataDirError(f"{where}: se esperaban {len(SLOT_COLUMNS)} columnas y hay {len(fields)}")
        utt_id, plate, stay, covered, arrival = (c.strip() for c in fields)
        if stay and not stay.isdigit():
            raise DataDirError(f"{where}: `stay_minutes` debe ser un entero de minutos o vacío, no {stay!r}")
        if arrival and not (re.fullmatch(r"\d{1,2}:\d{2}", arrival) and int(arrival[:-3]) <= 24
                            and int(arrival[-2:]) <= 59):
            raise DataDirError(f"{where}: `arrival` debe ser una hora HH:MM (00:00 a 24:00) o vacío, no {arrival!r}")
        labels[utt_id] = SlotLabels(plate or None, int(stay) if stay else None, _parse_bool(covered, where), arrival or None)
    return labels


def write_slots(data_dir: str | Path, labels: dict[str, SlotLabels]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(SLOT_COLUMNS)
    for utt_id, s in labels.items():
        covered = "" if s.covered is None else str(s.covered).lower()
        stay = "" if s.stay_minutes is None else s.stay_minutes
        writer.writerow([utt_id, s.plate or "", stay, covered, s.arrival or ""])
    write_text_atomic(Path(data_dir) / SLOTS, buffer.getvalue())


def sentence_key(text: str) -> str:
    """Text compared for sentence overlap: case, accents and punctuation do not make a new sentence."""
    return " ".join(re.findall(r"\w+", fold(text)))


def make_split(texts: dict[str, str], val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0) -> dict[str, str]:
    """Assign each utterance to train/val/test, disjoint by speaker *and* by sentence.

    Speakers are shuffled (deterministically) within each gender and each is dealt to the split
    furthest below its share of that gender's utterances, so the female/male balance is kept.
    A sentence read in several splits stays only in the split where its readings weigh most
    (EVAL_WEIGHT); its other readings become `excluido` (counted by `split_summary`, never silent).
    """
    fractions = {"test": test_fraction, "val": val_fraction}
    fractions["train"] = 1.0 - val_fraction - test_fraction
    if min(fractions.values()) < 0:
        raise ValueError(f"val_fraction + test_fraction must be <= 1, got {val_fraction} + {test_fraction}")
    by_speaker: dict[str, list[str]] = defaultdict(list)
    for utt_id in texts:
        by_speaker[speaker_of(utt_id)].append(utt_id)
    rng = random.Random(seed)
    speaker_split: dict[str, str] = {}
    by_gender: dict[str | None, list[str]] = defaultdict(list)
    for speaker in sorted(by_speaker):
        by_gender[gender_of(by_speaker[speaker][0])].append(speaker)
    for gender in sorted(by_gender, key=str):
        speakers = by_gender[gender]
        rng.shuffle(speakers)
        total = sum(len(by_speaker[s]) for s in speakers)
        filled = Counter()
        for speaker in speakers:  # each speaker goes where the most utterances are still missing
            name = max(("train", "val", "test"), key=lambda n: fractions[n] * total - filled[n])
            speaker_split[speaker] = name
            filled[name] += len(by_speaker[speaker])
    # Small corpora (a few voices): make sure val and test get a speaker when there are enough.
    for name in ("val", "test"):
        if fractions[name] > 0 and name not in speaker_split.values():
            donors = [s for s in sorted(speaker_split) if speaker_split[s] == "train"]
            if len(donors) >= 2:  # never leave train without a speaker
                speaker_split[min(donors, key=lambda s: len(by_speaker[s]))] = name

    split = {utt_id: speaker_split[speaker_of(utt_id)] for utt_id in texts}
    readings: dict[str, Counter] = defaultdict(Counter)
    for utt_id, text in texts.items():
        readings[sentence_key(text)][split[utt_id]] += 1
    weight = {"train": 1.0, "val": EVAL_WEIGHT, "test": EVAL_WEIGHT}
    home = {
        key: max(counts, key=lambda name: (counts[name] * weight[name], name))
        for key, counts in readings.items()
    }
    for utt_id, text in texts.items():
        if split[utt_id] != home[sentence_key(text)]:
            split[utt_id] = EXCLUDED
    return split


def split_summary(texts: dict[str, str], split: dict[str, str], durations: dict[str, float] | None = None) -> dict:
    """Per split: utterances, speakers, hours, female/male, and the sentence overlap with other splits."""
    summary = {}
    sentences = {name: {sentence_key(texts[i]) for i in texts if split.get(i) == name} for name in SPLITS}
    for name in (*SPLITS, EXCLUDED):
        ids = [i for i in texts if split.get(i) == name]
        genders = Counter(gender_of(i) for i in ids)
        row = {
            "utterances": len(ids),
            "speakers": len({speaker_of(i) for i in ids}),
            "female": genders.get("F", 0),
            "male": genders.get("M", 0),
        }
        if durations is not None:
            row["hours"] = round(sum(durations.get(i, 0.0) for i in ids) / 3600, 3)
        if name in SPLITS:
            others = set().union(*(sentences[o] for o in SPLITS if o != name))
            row["sentence_overlap"] = len(sentences[name] & others)
        summary[name] = row
    summary["missing"] = sum(1 for i in texts if i not in split)
    return summary


def load_or_make_split(data_dir: str | Path, texts: dict[str, str], seed: int = 0, val_fraction: float = 0.1,
                       test_fraction: float = 0.1) -> tuple[dict[str, str], bool]:
    """The data dir's `particion.tsv` if present (reused as is), else a new split written there.

    Returns (split, created). Ids missing from an existing file are an error: a silent default
    would leak them into training.
    """
    split = read_split(data_dir)
    if split is not None:
        missing = [i for i in texts if i not in split]
        if missing:
            raise DataDirError(
                f"{Path(data_dir) / SPLIT}: faltan {len(missing)} id(s) de {TRANSCRIPTS} (por ejemplo {missing[0]}). "
                f"Borrá {SPLIT} para regenerarla o agregá esos ids."
            )
        return split, False
    split = make_split(texts, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    write_split(data_dir, split)
    return split, True
