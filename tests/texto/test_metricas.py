"""texto/metricas.py and texto/normalizar.py: WER on normalised text, the same normaliser as whisper's."""

from hypothesis import given, settings
from hypothesis import strategies as st

from texto import metricas
from texto.normalizar import comparable, fold


def test_wer_counts_number_words_as_digits_and_strips_punctuation():
    rates = metricas.error_rates(["Me quedo doce horas, ¿sí?"], ["me quedo 12 horas si"])
    assert rates["wer"] == 0.0 and rates["raw_wer"] > 0


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_comparable_is_whispers_basic_normalizer(text):
    """Written here so text code needs no torch; held equal to openai-whisper's on any text."""
    from whisper.normalizers import BasicTextNormalizer  # imports torch: only in this test

    assert comparable(text) == BasicTextNormalizer(remove_diacritics=True)(text)


def test_fold_keeps_what_it_is_asked_to_keep():
    assert fold("Dieciséis AÑOS") == "dieciseis anos"
    assert fold("Año PATÉNTE", keep="ñÑ", lower=False) == "Año PATENTE"
    assert fold("x²") == "x2"
