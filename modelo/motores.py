"""Speech-to-text engines behind one interface: openai-whisper (PyTorch) and faster-whisper (CTranslate2).

ref_test, the assistant and bench load a model with `load_engine(spec, engine)` and call
`engine.transcribe(audios)`; which library does the decoding is a flag, not a code path of each tool.
Both decode the same way: Spanish forced, no timestamps, greedy unless `beam_size`, batched.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ctranslate2
import numpy as np
import torch
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from modelo import contexto, gramatica, pesos
from modelo.audio import SAMPLE_RATE, log_mel
from modelo.decodificacion import (
    FALLBACK_BEST_OF,
    FALLBACK_TEMPERATURES,
    PLATE_NBEST_BEAM,
    is_repetition_loop,
    retry_loops,
    transcribe_batch,
    transcribe_nbest,
)
from modelo.precision import cpu_threads, decode_dtype, default_device
from texto import letras
from texto.hipotesis import BARE_ANSWERS, PLATE, QUESTIONS, YES_NO, Hypothesis

ENGINES = ("openai", "ctranslate2")
CACHE_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "ct2"
# (a shorter window gets proportionally fewer: contexto.max_tokens)
# Previous text given to the decoder for each question (whisper's prompt), e.g. {PLATE: "Patente:"}. None by
# default: on base, CTranslate2 int8, 30 plates spelled in the held-out espeak-ng voices, "Patente:" got the
# first plate right 3 times against 5 without it.
QUESTION_PROMPTS: dict[str, str] = {}
CT2_GRAMMAR_BEAM = 4  # the plate grammar by prefix (CTranslate2Engine._grammar_plates): each step is one generate


def check_nbest(n_best: int, question: str | None) -> None:
    if n_best < 1:
        raise ValueError(f"n_best tiene que ser al menos 1, no {n_best}.")
    if question is not None and question not in QUESTIONS:
        raise ValueError(f"pregunta desconocida {question!r}: usá una de {', '.join(QUESTIONS)}.")


@dataclass
class OpenAIEngine:
    """openai-whisper's own decoder on a model loaded through `pesos.load_whisper` (strict keys)."""

    model: object  # whisper.model.Whisper
    spec: str
    language: str = "es"
    name: str = "openai"
    precision: str = "fp32"  # PRECISIONS: fp32 gives the same numbers on any hardware; auto is bf16 where it is native
    plate_grammar: bool = True  # a spelled plate of no valid shape is decoded again under the shapes (gramatica.py)
    prompts: dict[str, str] = field(default_factory=lambda: dict(QUESTION_PROMPTS))  # question -> previous text
    autocast: object = field(init=False, repr=False)  # the dtype decoding runs in (None: fp32)

    def __post_init__(self):  # a bad precision fails here, at load, not at the first batch
        self.autocast = decode_dtype(self.precision, next(self.model.parameters()).device)

    @property
    def audio_context(self) -> str:
        return contexto.of(self.model)

    def transcribe(self, audios: list[np.ndarray], beam_size: int | None = None, *, n_best: int = 1,
                   question: str | None = None) -> list[str] | list[list[Hypothesis]]:
        """16 kHz mono float32 clips (each ≤ 30 s) -> texts, batched greedy (or beam) decoding, each clip in
        the window of the model's audio context (contexto.py).

        With `n_best` > 1 or a `question` (hipotesis.QUESTIONS): a list of Hypothesis per clip instead, at most
        n_best, best first (decodificacion.transcribe_nbest); on PLATE, distinct valid plates; on YES_NO,
        hipotesis.BARE_ANSWERS scored teacher-forced follow (forced=True)."""
        check_nbest(n_best, question)
        nbest = n_best > 1 or question is not None

        def window(clips: list[np.ndarray], seconds: int) -> list:
            mel = torch.stack([log_mel(a, self.model.dims.n_mels, seconds) for a in clips])  # (B, n_mels, 100 * seconds)
            if nbest:
                return transcribe_nbest(self.model, mel, self.language, n_best, beam_size=beam_size, question=question,
                                        prompt=self.prompts.get(question), autocast=self.autocast,
                                        plate_grammar=self.plate_grammar)
            return transcribe_batch(self.model, mel, self.language, beam_size=beam_size, autocast=self.autocast,
                                    plate_grammar=self.plate_grammar)

        return by_window(audios, self.audio_context, window)


@dataclass
class CTranslate2Engine:
    """faster-whisper's CTranslate2 model, decoding a batch of separate clips in one `generate` call.

    faster-whisper's own `transcribe` takes one long recording (and its batched pipeline cuts that one
    recording with VAD); our clips are already short answers, so they go to the model as one batch,
    with the prompt and suppressed tokens that faster-whisper itself would use.
    """

    model: object  # faster_whisper.WhisperModel
    spec: str
    language: str = "es"
    name: str = "ctranslate2"
    directory: Path | None = None  # the CTranslate2 directory loaded (an export of `spec` if it was not one)
    audio_context: str = contexto.FULL  # what the export recorded (contexto.py); CTranslate2 takes short windows
    prompts: dict[str, str] = field(default_factory=lambda: dict(QUESTION_PROMPTS))  # question -> previous text
    # The plate grammar by prefix (_grammar_plates) when the wide beam gives too few plates. Off: on base and
    # 30 plates spelled in the held-out voices it found no right plate more (5/30 either way) and doubled the
    # wait (p50 2.7 -> 5.5 s, 2 busy cores); it is for a model that spells plates and drops a symbol.
    plate_prefix: bool = False
    _tokenizer: object = field(init=False, repr=False)

    def __post_init__(self):
        self._tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                                    language=self.language)
        self._prompt = self.model.get_prompt(self._tokenizer, [], without_timestamps=True)
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def features(self, audio: np.ndarray, seconds: int = contexto.FULL_SECONDS) -> np.ndarray:
        """(n_mels, 100 * seconds) log-mel of the clip padded to its window, as openai-whisper computes it (pad,
        then mel)."""
        padded = np.zeros(contexto.samples(seconds), dtype=np.float32)
        padded[: min(len(audio), len(padded))] = audio[: len(padded)]
        return self.model.feature_extractor(padded, padding=0)[:, : contexto.mel_frames(seconds)]

    def transcribe(self, audios: list[np.ndarray], beam_size: int | None = None, *, n_best: int = 1,
                   question: str | None = None) -> list[str] | list[list[Hypothesis]]:
        """16 kHz mono float32 clips (each ≤ 30 s) -> texts, batched greedy (or beam) decoding, each clip in
        the window of the export's audio context (contexto.py).

        With `n_best` > 1 or a `question` (hipotesis.QUESTIONS): a list of Hypothesis per clip instead, at most
        n_best, best first, scored by CTranslate2 (mean log-prob per token). CTranslate2 has no hook for a logit
        filter, so on PLATE a wider beam's hypotheses are ranked and kept when they hold a plate, one per plate
        (none holding one: the texts, gramatica.plates_or_texts). On YES_NO, hipotesis.BARE_ANSWERS scored
        teacher-forced follow (forced=True)."""
        check_nbest(n_best, question)
        if n_best > 1 or question is not None:
            return by_window(audios, self.audio_context, lambda clips, seconds: self._nbest(
                clips, seconds, n_best, beam_size, question))

        def window(clips: list[np.ndarray], seconds: int) -> list[str]:
            encoded = self._encode(clips, seconds)

            def sample(indices: list[int], temperature: float) -> list[str]:  # openai's schedule, in CTranslate2's terms
                return [h[0].text for h in self._generate(encoded[indices], sampling_temperature=temperature,
                                                          sampling_topk=0, num_hypotheses=FALLBACK_BEST_OF)]

            texts = [h[0].text for h in self._generate(encoded, beam_size=beam_size or 1)]
            ctranslate2.set_random_seed(0)  # the same fallback text on every run
            return retry_loops(texts, sample)

        return [letras.join_spelled_capitals(text) for text in by_window(audios, self.audio_context, window)]

    def _nbest(self, clips: list[np.ndarray], seconds: int, n_best: int, beam_size: int | None,
               question: str | None) -> list[list[Hypothesis]]:
        """One window's n-best (see transcribe): the beam's hypotheses, loops dropped (a clip left with none is
        sampled again, as in transcribe); on PLATE, a beam of PLATE_NBEST_BEAM, all kept, ranked by plate."""
        wide = question == PLATE
        width = max(beam_size or 1, n_best, PLATE_NBEST_BEAM if wide else 1)
        prompt = self.prompts.get(question)
        encoded = self._encode(clips, seconds)
        found = self._generate(encoded, prompt, beam_size=width, num_hypotheses=width if wide else n_best)
        found = [[h for h in clip if not is_repetition_loop(h.text)] for clip in found]
        remaining = [i for i, clip in enumerate(found) if not clip]
        ctranslate2.set_random_seed(0)
        for temperature in FALLBACK_TEMPERATURES:
            if not remaining:
                break
            sampled = self._generate(encoded[remaining], prompt, sampling_temperature=temperature, sampling_topk=0,
                                     num_hypotheses=FALLBACK_BEST_OF)
            for i, clip in zip(remaining, sampled, strict=True):
                found[i] = clip[:1]
            remaining = [i for i in remaining if is_repetition_loop(found[i][0].text)]
        joined = [[Hypothesis(letras.join_spelled_capitals(h.text), h.score) for h in clip] for clip in found]
        if not wide:
            texts = [gramatica.distinct_texts(clip, n_best) for clip in joined]
            if question == YES_NO:  # after "Decí sí o no": the two answers scored too, for the dialogue to choose
                for i, clip in enumerate(texts):
                    clip += [Hypothesis(t, s, forced=True)
                             for t, s in zip(BARE_ANSWERS, self._forced(encoded[i : i + 1], prompt, BARE_ANSWERS),
                                             strict=True)]
            return texts
        for i, clip in enumerate(found):  # the best answer's plate with a letter the word before it swallowed
            readings = gramatica.hidden_letter_readings(clip[0].text) if clip else []
            scores = self._forced(encoded[i : i + 1], prompt, readings, prior=gramatica.HIDDEN_LETTER_PRIOR)
            joined[i] += [Hypothesis(letras.join_spelled_capitals(r), s) for r, s in zip(readings, scores, strict=True)]
        plates = [gramatica.plates_or_texts(clip, n_best) for clip in joined]
        for i, clip in enumerate(found):  # too few plates: the grammar's, from where the best one starts spelling
            if self.plate_prefix and clip and len(plates[i]) < n_best:
                more = [Hypothesis(letras.join_spelled_capitals(h.text), h.score)
                        for h in self._grammar_plates(encoded[i : i + 1], prompt, clip[0].text)]
                plates[i] = gramatica.plates_or_texts(joined[i] + more, n_best)
        return plates

    def _grammar_plates(self, encoded: np.ndarray, prompt: str | None, best: str) -> list[Hypothesis]:
        """The plate grammar by prefix, CTranslate2 having no logits hook: from the first spelled symbol of `best`
        (" M" in "La patente es M, J, A…"), a beam of CT2_GRAMMAR_BEAM over the symbols, each step one
        `generate` whose prefix is each beam's symbols so far, its next-token logits masked to the shapes
        (gramatica.PlateGrammar); each complete plate is then decoded on to the end, greedily, and scored by
        the model's own log-probs of the whole text (teacher-forced, no mask). [] if `best` spells nothing.
        encoded: the clip's encoder output (1, positions, d). Each step pays the cross-attention of every beam
        again, hence a narrow beam, and only when the wide beam gave too few plates."""
        grammar = gramatica.PlateGrammar(self._tokenizer, 0)
        start = self._prompt_tokens(prompt)
        said = self._tokenizer.encode(" " + best)
        first = next((i for i, t in enumerate(said) if t in grammar.kind), None)
        if first is None:
            return []
        context = start + said[:first]

        def run(prefixes: list[list[int]], more: int) -> list:  # generate after each prefix, logits included
            longest = max(len(p) for p in prefixes) - len(start)  # text tokens; CTranslate2 writes max_length / 2
            return self.model.model.generate(ctranslate2.StorageView.from_array(np.repeat(encoded, len(prefixes), 0)),
                                             prefixes, beam_size=1, max_length=2 * (longest + more),
                                             return_logits_vocab=True, suppress_blank=False)

        beams, complete = [([], 0.0)], []
        while beams:
            grown = []
            for (symbols, logp), result in zip(beams, run([context + s for s, _ in beams], 1), strict=True):
                logprobs = torch.from_numpy(np.asarray(result.logits[0][len(context) + len(symbols) - len(start)]))
                logprobs = logprobs.float().log_softmax(-1)
                for kind in grammar.allowed(grammar.pattern(symbols)):
                    if kind == "eot":
                        complete.append(symbols)
                    else:
                        grown += [(symbols + [t], logp + logprobs[t].item()) for t in grammar.ids[kind].tolist()]
            beams = sorted(grown, key=lambda b: -b[1])[:CT2_GRAMMAR_BEAM]
        if not complete:
            return []
        hypotheses = []
        for result in run([context + s for s in complete], gramatica.MAX_SYMBOLS + 32):
            tokens = list(result.sequences_ids[0])  # the text tokens after the prompt, prefix included
            steps = [torch.from_numpy(np.asarray(x)).float().log_softmax(-1) for x in result.logits[0]]
            picked = [lp[t].item() for lp, t in zip(steps, tokens + [self._tokenizer.eot], strict=False)]
            text = self._tokenizer.decode(tokens).strip()
            if not is_repetition_loop(text):  # free after the plate, a model may go on "S S S S …"
                hypotheses.append(Hypothesis(text, sum(picked) / max(len(picked), 1)))
        return hypotheses

    def _forced(self, encoded: np.ndarray, prompt: str | None, texts: Sequence[str], prior: float = 0.0) -> list[float]:
        """Each text's score under the model, teacher-forced, as CTranslate2 scores what it decodes (the log-probs
        of the text and its end, summed, with `prior` nats added, over the text's length): one `generate` with
        each text as the prefix, its logits read back. encoded: one clip's (1, positions, d)."""
        if not texts:
            return []
        start = self._prompt_tokens(prompt)
        candidates = [self._tokenizer.encode(" " + t) for t in texts]
        results = self.model.model.generate(
            ctranslate2.StorageView.from_array(np.repeat(encoded, len(candidates), 0)),
            [start + c for c in candidates], beam_size=1, max_length=2 * (max(map(len, candidates)) + 2),
            return_logits_vocab=True, suppress_blank=False)
        scores = []
        for tokens, result in zip(candidates, results, strict=True):
            steps = result.logits[0]  # one per text token after the prompt, the prefix's included
            wanted = tokens + [self._tokenizer.eot]
            scores.append((sum(torch.from_numpy(np.asarray(steps[k])).float().log_softmax(-1)[t].item()
                               for k, t in enumerate(wanted)) + prior) / len(tokens))
        return scores

    def _prompt_tokens(self, prompt: str | None) -> list[int]:
        """The start of the decoder's input: the task's special tokens, after the previous text if any."""
        if not prompt:
            return list(self._prompt)
        previous = self._tokenizer.encode(" " + prompt.strip())
        return list(self.model.get_prompt(self._tokenizer, previous, without_timestamps=True))

    def _encode(self, audios: list[np.ndarray], seconds: int) -> np.ndarray:
        """One window's clips -> encoder output (B, positions, d) in host memory, once for every generate."""
        features = np.ascontiguousarray(np.stack([self.features(a, seconds) for a in audios]))
        return np.asarray(self.model.model.encode(ctranslate2.StorageView.from_array(features), to_cpu=True))

    def _generate(self, encoded: np.ndarray, prompt: str | None = None, **options) -> list[list[Hypothesis]]:
        """One `generate` for the batch (encoder output (B, positions, d)) -> each clip's hypotheses, best first,
        as text with CTranslate2's score (sum of log-probs / length). `prompt`: previous text for the decoder."""
        tokens = self._prompt_tokens(prompt)
        results = self.model.model.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded)),
                                            [list(tokens) for _ in encoded],
                                            max_length=2 * contexto.max_tokens(2 * encoded.shape[1]),  # it writes half
                                            suppress_blank=True, suppress_tokens=self._suppress, return_scores=True,
                                            **options)
        return [[Hypothesis(self._tokenizer.decode(ids).strip(), score) for ids, score in
                 zip(r.sequences_ids, r.scores, strict=True)] for r in results]


def by_window(audios: list[np.ndarray], setting: str, transcribe: Callable[[list[np.ndarray], int], list]) -> list:
    """`transcribe(clips, seconds)` once per decoding window of the context (one window at 30 s), the results
    (texts or n-best lists) back in the order of `audios`."""
    texts: list = [""] * len(audios)
    for seconds, indices in contexto.by_window(setting, [len(a) / SAMPLE_RATE for a in audios]).items():
        for i, text in zip(indices, transcribe([audios[i] for i in indices], seconds), strict=True):
            texts[i] = text
    return texts


def as_engine(model_or_engine, language: str = "es"):
    """An engine as it is; a bare openai-whisper model (what the demo holds) wrapped in OpenAIEngine."""
    if isinstance(model_or_engine, OpenAIEngine | CTranslate2Engine):
        return model_or_engine
    return OpenAIEngine(model_or_engine, type(model_or_engine).__name__, language)


def is_ct2_dir(spec: str | Path) -> bool:
    path = Path(spec)
    return path.is_dir() and (path / "model.bin").is_file() and (path / "tokenizer.json").is_file()


def ct2_dir_for(spec: str, quantization: str, cache_dir: Path = CACHE_DIR, log=print) -> Path:
    """A CTranslate2 directory for `spec`: itself if it is one, else an export cached by file identity.

    The cache key is the file's path, size and modification time (or the model name), so a retrained
    checkpoint at the same path gets a fresh export.
    """
    if is_ct2_dir(spec):
        return Path(spec)
    path = Path(spec)
    identity = f"{path.resolve()}|{path.stat().st_size}|{path.stat().st_mtime_ns}" if path.is_file() else str(spec)
    out = Path(cache_dir) / f"{hashlib.sha256(f'{identity}|{quantization}'.encode()).hexdigest()[:16]}-{quantization}"
    if not is_ct2_dir(out):
        log(f"{spec} no es un directorio CTranslate2: lo exporto una vez a {out} ({quantization}).")
        pesos.save_ct2_dir(pesos.load_whisper(spec), out, quantization)
    return out


def load_engine(spec: str, engine: str = "openai", device: str | None = None, language: str = "es", *,
                compute_type: str | None = None, precision: str = "fp32", plate_grammar: bool = True,
                cache_dir: Path = CACHE_DIR, log=None):
    """A model name, `.pt`, Lightning `.ckpt` or CTranslate2 dir -> an engine with `.transcribe(audios)`.

    openai: decodes in `precision` (see decode_dtype), with the plate's grammar unless `plate_grammar`
    is False. ctranslate2: int8 on CPU and float16 on CUDA unless `compute_type` says otherwise; it has
    no hook for a logit filter, so it decodes without the plate's grammar. Any problem loading the model is a `pesos.WeightsError`
    with a Spanish message.
    """
    if engine not in ENGINES:
        raise ValueError(f"motor desconocido {engine!r}: usá uno de {', '.join(ENGINES)}.")
    log = log or (lambda message: print(message, file=sys.stderr))
    try:
        if engine == "openai":
            return OpenAIEngine(pesos.load_whisper(spec, device=device or default_device()), str(spec), language,
                                precision=precision, plate_grammar=plate_grammar)
        device = device or ("cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu")
        compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        directory = ct2_dir_for(str(spec), "int8" if compute_type.startswith("int8") else "float16", Path(cache_dir), log)
        model = WhisperModel(str(directory), device=device, compute_type=compute_type, cpu_threads=cpu_threads())
        return CTranslate2Engine(model, str(spec), language, directory=directory,
                                 audio_context=pesos.ct2_audio_context(directory))
    except pesos.WeightsError:
        raise
    except (RuntimeError, TypeError, KeyError, ValueError, OSError) as e:  # e.g. shapes, or a model CTranslate2 rejects
        raise pesos.WeightsError(f"{spec}: no se pudo cargar como Whisper ({type(e).__name__}: {e}).") from None
