"""Corpora: the one data-dir format and its leak-free split, synthetic answers spoken by espeak-ng,
OpenSLR 61 preparation, and the general phrase lists. No torch."""
