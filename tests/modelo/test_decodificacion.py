"""modelo/decodificacion.py: batched decoding with whisper.transcribe's loop fallback, on a real tiny Whisper."""

import pytest
import torch
import whisper

from conftest import make_tiny_whisper
from modelo import decodificacion


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_whisper()


def test_repetition_loops_are_decoded_again_reproducibly(tiny):
    """A random tiny Whisper loops under greedy decoding; the fallback breaks the loop, every time the same."""
    tiny.eval()
    mel = torch.zeros(2, 80, 3000)
    options = whisper.DecodingOptions(language="es", without_timestamps=True, fp16=False)
    assert all(decodificacion.is_repetition_loop(r.text) for r in whisper.decode(tiny, mel, options))
    state = torch.get_rng_state()
    first = decodificacion.transcribe_batch(tiny, mel, "es")
    assert not any(decodificacion.is_repetition_loop(text) for text in first)
    assert decodificacion.transcribe_batch(tiny, mel, "es") == first
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is untouched
    assert len(decodificacion.transcribe_batch(tiny, mel, "es", beam_size=3)) == 2  # grouped decoding of a batch works
