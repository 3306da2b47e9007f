"""Tests for extraccion.py (slot extraction from a transcribed answer)."""


from extraccion import Slots, confirm, extract


def test_smoke():
    assert extract("AB 123 CD, dos horas, techado") == Slots("AB123CD", 120, True)
    assert confirm("sí") is True
