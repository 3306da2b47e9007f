"""datos.py: the data-dir format and the leak-free split, on the real OpenSLR 61 transcripts."""

from collections import Counter

import pytest

from conftest import SHARED
from corpus import datos


def _real_transcripts() -> dict[str, str]:
    folder = SHARED / "slr61"
    if not folder.exists():
        pytest.skip(f"{folder} no está (viene en ../shared)")
    texts = {}
    for name in ("line_index_female.tsv", "line_index_male.tsv"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            utt_id, text = line.split("\t")
            texts[utt_id] = text
    return texts


def test_real_split_has_no_speaker_or_sentence_leak():
    texts = _real_transcripts()
    split = datos.make_split(texts, seed=0)
    assert split == datos.make_split(texts, seed=0)  # deterministic
    speakers = {name: {datos.speaker_of(i) for i, s in split.items() if s == name} for name in datos.SPLITS}
    assert not (speakers["train"] & speakers["val"]) and not (speakers["train"] & speakers["test"])
    assert not (speakers["val"] & speakers["test"])
    summary = datos.split_summary(texts, split)
    assert all(summary[name]["sentence_overlap"] == 0 for name in datos.SPLITS)
    assert summary["missing"] == 0
    counts = Counter(split.values())
    assert sum(counts.values()) == len(texts)  # excluded rows are labelled and counted, not dropped
    assert counts["train"] > 0.65 * len(texts) and counts["val"] > 200 and counts["test"] > 200
    for name in ("val", "test"):  # both genders in each evaluation split
        assert summary[name]["female"] > 0 and summary[name]["male"] > 0


def test_small_corpus_still_gets_val_and_test_speakers():
    texts = {f"snf_voz{v}_{i:03d}": f"frase {v} {i}" for v in range(5) for i in range(4)}
    counts = Counter(datos.make_split(texts).values())
    assert counts["train"] >= 4 and counts["val"] >= 4 and counts["test"] >= 4


def test_split_file_is_reused_and_incomplete_file_is_an_error(tmp_path):
    texts = {f"snm_voz{v}_{i:03d}": f"frase {v} {i}" for v in range(5) for i in range(4)}
    split, created = datos.load_or_make_split(tmp_path, texts)
    assert created and datos.read_split(tmp_path) == split
    again, created = datos.load_or_make_split(tmp_path, texts)
    assert not created and again == split
    texts["snm_nueva_000"] = "otra frase"
    with pytest.raises(datos.DataDirError, match="faltan 1 id"):
        datos.load_or_make_split(tmp_path, texts)


def test_transcripts_errors_name_file_and_line(tmp_path):
    (tmp_path / "transcripciones.tsv").write_text("a_b_1\thola\nsin tab\na_b_1\trepetido\n", encoding="utf-8")
    with pytest.raises(datos.DataDirError) as error:
        datos.read_transcripts(tmp_path)
    assert "transcripciones.tsv:2" in str(error.value) and "transcripciones.tsv:3" in str(error.value)
    (tmp_path / "transcripciones.tsv").write_bytes("a_b_1\tcañón\n".encode("latin-1"))
    with pytest.raises(datos.DataDirError, match="no está en UTF-8"):
        datos.read_transcripts(tmp_path)
    with pytest.raises(datos.DataDirError, match="No existe"):
        datos.read_transcripts(tmp_path / "otra")


def test_slots_round_trip_and_bad_cells(tmp_path):
    labels = {"snf_a_1": datos.SlotLabels("AB123CD", 90, True, None),
              "snf_a_2": datos.SlotLabels(None, 180, None, "14:00"),
              "snf_a_3": datos.SlotLabels(None, None, False, None)}
    datos.write_slots(tmp_path, labels)
    assert datos.read_slots(tmp_path) == labels
    (tmp_path / "slots.tsv").write_text("id\tplate\tstay_minutes\tcovered\tarrival\nx_y_1\tAB123CD\tdos\t\t\n")
    with pytest.raises(datos.DataDirError, match="slots.tsv:2"):
        datos.read_slots(tmp_path)


def test_ids_give_speaker_and_gender():
    assert datos.speaker_of("arf_05679_01463815283") == "arf_05679"
    assert datos.gender_of("arf_05679_01463815283") == "F" and datos.gender_of("arm_1_2") == "M"
    assert datos.gender_of("snm_es419-m2_00001") == "M" and datos.gender_of("esw_1_2") is None


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    rows = [("snf_a_1", "uno"), ("snf_a_2", "dos"), ("snf_a_3", "tres")]
    datos.write_transcripts(tmp_path, rows)
    before = (tmp_path / datos.TRANSCRIPTS).read_bytes()
    with pytest.raises(ValueError, match="tab or newline"):  # the second row cannot be written
        datos.write_transcripts(tmp_path, [("snf_a_1", "uno"), ("snf_a_2", "dos\tmal")])
    assert (tmp_path / datos.TRANSCRIPTS).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [datos.TRANSCRIPTS]  # no temporary file left
    datos.write_split(tmp_path, {"snf_a_1": "train"})
    datos.write_slots(tmp_path, {"snf_a_1": datos.SlotLabels("AB123CD", None, None, None)})
    assert datos.read_split(tmp_path) == {"snf_a_1": "train"} and datos.read_slots(tmp_path)["snf_a_1"].plate == "AB123CD"


def test_empty_transcripts_are_a_named_problem():
    for text in ("", "   ", "¿?", "..."):
        assert datos.text_problem(text) == datos.EMPTY_TEXT == "transcripción vacía", text
    for text in ("hola", "12", "D X S 6 6 0"):
        assert datos.text_problem(text) is None, text


def test_unreadable_files_and_impossible_hours_are_spanish_errors(tmp_path):
    (tmp_path / datos.TRANSCRIPTS).mkdir()
    with pytest.raises(datos.DataDirError, match="transcripciones.tsv: no se pudo leer"):
        datos.read_transcripts(tmp_path)
    for hour in ("25:00", "12:60", "7:99"):
        (tmp_path / "slots.tsv").write_text(f"id\tplate\tstay_minutes\tcovered\tarrival\nx_y_1\t\t\t\t{hour}\n")
        with pytest.raises(datos.DataDirError, match="slots.tsv:2: `arrival` debe ser una hora"):
            datos.read_slots(tmp_path)
    (tmp_path / "slots.tsv").write_text("id\tplate\tstay_minutes\tcovered\tarrival\nx_y_1\t\t\t\t24:00\n")
    assert datos.read_slots(tmp_path)["x_y_1"].arrival == "24:00"
