"""Speech in and out of the assistant's front ends: the prompts spoken by espeak-ng, and the end of a
driver's answer found in a live microphone stream."""

from __future__ import annotations

import subprocess

import numpy as np

SAMPLE_RATE = 16000
VOICE = "es-419"  # espeak-ng voice the front ends speak the prompts with


def speak(text: str) -> None:
    """Says `text` through the speakers."""
    # espeak-ng plays the audio itself; a machine without speakers only loses the voice, not the session.
    subprocess.run(["espeak-ng", "-v", VOICE, "-s", "160", text], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def speech_wav(text: str) -> bytes:
    """The prompt as a WAV, synthesised by espeak-ng."""
    out = subprocess.run(["espeak-ng", "-v", VOICE, "-s", "160", "--stdout", text],
                         capture_output=True, check=True, timeout=30)
    return out.stdout


class Endpointer:
    """Where an utterance ends in a live stream: speech is energy above the noise floor measured in the
    first chunks; the answer ends after `silence_s` of quiet following speech, or at `max_s`.

    Hand-written because it is a dozen lines and a VAD library (webrtcvad, silero) would add a
    compiled dependency or a model download for a kiosk that only needs start and end of one answer.
    """

    def __init__(self, rate: int = SAMPLE_RATE, silence_s: float = 0.8, max_s: float = 12.0, noise_chunks: int = 3):
        self.rate, self.silence_s, self.max_s, self.noise_chunks = rate, silence_s, max_s, noise_chunks
        self.chunks: list[np.ndarray] = []
        self.noise: list[float] = []
        self.heard = False
        self.quiet_s = 0.0

    def feed(self, chunk: np.ndarray) -> bool:
        """Adds one chunk of float32 samples; True when the answer is over."""
        self.chunks.append(chunk)
        level = float(np.sqrt(np.mean(chunk ** 2))) if len(chunk) else 0.0
        if len(self.noise) < self.noise_chunks:
            self.noise.append(level)
            return False
        loud = level > max(0.01, 3 * float(np.median(self.noise)))
        self.heard = self.heard or loud
        self.quiet_s = 0.0 if loud else self.quiet_s + len(chunk) / self.rate
        total_s = sum(len(c) for c in self.chunks) / self.rate
        return (self.heard and self.quiet_s >= self.silence_s) or total_s >= self.max_s

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)


def record_answer() -> np.ndarray:
    """One answer from the default microphone, until the driver stops talking."""
    import sounddevice as sd  # needs the PortAudio library, only on a machine with a microphone

    ender = Endpointer()
    with sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=SAMPLE_RATE // 10) as stream:
        while True:
            chunk, _ = stream.read(SAMPLE_RATE // 10)
            if ender.feed(chunk[:, 0]):
                return ender.audio()
