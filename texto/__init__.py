"""Text, pure Python (no torch): numbers to digits, spoken letters and plate shapes, the three slots of
an answer, yes/no, the one text normaliser, and error rates."""
