"""Whisper without Lightning: audio in, batched decoding with its fallbacks, the plate's grammar,
weights I/O and surgery, and the two engines (openai-whisper, CTranslate2) behind one interface."""
