"""Drivers' answers spoken by espeak-ng for the assistant's tests, in the form Whisper base understands.

Base is not fine-tuned and mishears espeak's spelled plates when the letters run together ("pe de efe"
becomes "PBFF"). With a pause between letters (SSML breaks) and a short frame around them it writes
them right ("la patente es pdf456"), so the scripted sessions use that form. Searched by hand over a
few voices, rates and phrasings on this machine (es-419 at 160 words/min was the most reliable).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from texto.letras import LETTER_NAMES

PAUSE = '<break time="350ms"/>'


def spell(block: str) -> str:
    """"PDF456" -> "pe <pausa> de <pausa> efe <pausa> cuatro …"."""
    digits = "cero uno dos tres cuatro cinco seis siete ocho nueve".split()
    return f" {PAUSE} ".join(digits[int(c)] if c.isdigit() else LETTER_NAMES[c][0] for c in block)


def say(ssml: str, path: Path, before_s: float = 1.0, after_s: float = 1.5, speed: int = 160) -> Path:
    """Writes `ssml` spoken by espeak-ng as 16 kHz mono, with silence around it (a kiosk's fake
    microphone loops the file, and the page waits for a silence before it listens)."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("faltan espeak-ng o sox: `make system` los instala")
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-m", "-v", "es-419", "-s", str(speed), "-w", str(raw), f"<speak>{ssml}</speak>"],
                   check=True)
    # -R: sox dithers with a fixed seed. Its random dither made each run's clip a little different, and base's
    # CTranslate2 int8 then wrote the test plate as "SPF-456" or "www.pf456" (the n-best tests' rare failures).
    subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", str(path), "pad", str(before_s), str(after_s)],
                   check=True)
    raw.unlink()
    return path
