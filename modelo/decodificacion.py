"""Real autoregressive decoding of a batch with openai-whisper: beam search batched, repetition loops
decoded again as whisper.transcribe does, and spelled plates of no valid shape decoded under the
plate's grammar (gramatica.py).

Shapes: mel (B, n_mels, 3000) or encoder output (B, 1500, d) -> B texts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Sequence

import torch
import whisper

from modelo import contexto, gramatica
from texto import letras
from texto.hipotesis import BARE_ANSWERS, PLATE, YES_NO, Hypothesis


def get_tokenizer(model: whisper.model.Whisper, language: str):
    return whisper.tokenizer.get_tokenizer(
        model.is_multilingual, num_languages=model.num_languages, language=language, task="transcribe"
    )


# whisper.transcribe's own remedy for repetition loops ("pg 90 el pg 90 el …" until the token limit):
# a text that zlib compresses more than 2.4x is a loop, decoded again by sampling at rising temperatures,
# best of 5. Its other trigger (mean log-prob < -1) is left out: on hard audio it would resample
# texts that are merely uncertain, and sampled texts vary from run to run.
LOOP_COMPRESSION_RATIO = 2.4
FALLBACK_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)
FALLBACK_BEST_OF = 5


def is_repetition_loop(text: str) -> bool:
    return whisper.utils.compression_ratio(text) > LOOP_COMPRESSION_RATIO


def retry_loops(texts: list[str], decode_again: Callable[[list[int], float], list[str]]) -> list[str]:
    """whisper.transcribe's schedule, for any engine: `decode_again(indices, temperature)` re-decodes the
    texts that loop, at each of FALLBACK_TEMPERATURES in turn, until none loops (the last try stays)."""
    texts = list(texts)
    loops = [i for i, text in enumerate(texts) if is_repetition_loop(text)]
    for temperature in FALLBACK_TEMPERATURES:
        if not loops:
            break
        for i, text in zip(loops, decode_again(loops, temperature), strict=True):
            texts[i] = text
        loops = [i for i in loops if is_repetition_loop(texts[i])]
    return texts


class _GroupedDecodingTask(whisper.decoding.DecodingTask):
    """whisper's DecodingTask with each clip's encoder output repeated once per beam (or best-of sample).

    openai-whisper repeats the tokens by the group size but not the audio features, so a batch of more
    than one clip decodes beams against the wrong audio (openai/whisper PR #2197); repeating them here is
    that fix, and lets beam search run batched instead of one clip at a time.
    """

    def _get_audio_features(self, mel: torch.Tensor) -> torch.Tensor:
        # Encoder output of any window (contexto.py) is used as it is; whisper's own check knows only 30 s.
        features = mel if mel.shape[-2] != self.model.dims.n_mels else super()._get_audio_features(mel)
        return features.repeat_interleave(self.n_group, dim=0)  # (B * n_group, positions, d)

    def _detect_language(self, audio_features: torch.Tensor, tokens: torch.Tensor):
        return super()._detect_language(audio_features[:: self.n_group], tokens)  # one answer per clip


def _decode(model: whisper.model.Whisper, mel: torch.Tensor, options: whisper.DecodingOptions) -> list:
    """whisper.decode of a batch (B, n_mels, frames) or its encoder output, beam search and best-of included."""
    return _GroupedDecodingTask(model, options).run(mel)


PLATE_BEAM = 8  # beam of the plate's constrained decoding: at most 8 steps, so a wide beam costs little


@torch.no_grad()
def decode_plate(model: whisper.model.Whisper, audio: torch.Tensor, options: whisper.DecodingOptions, before: str,
                 after: str, inside: Sequence[str] = ()) -> str:
    """The likeliest valid plate said between the texts `before` and `after` (gramatica.py), spelled
    ("P P E 2 9 7"): the best of a beam under the plate's grammar and of the plates `inside` the run.
    audio is one clip's encoder output (1, positions, d)."""
    constrained = dataclasses.replace(options, prefix=before or None, beam_size=PLATE_BEAM, best_of=None,
                                      temperature=0.0, sample_len=gramatica.MAX_SYMBOLS + 1)
    task = _GroupedDecodingTask(model, constrained)
    grammar = gramatica.PlateGrammar(task.tokenizer, task.sample_begin)
    task.logit_filters.append(grammar)
    context, rest = list(task.initial_tokens), task.tokenizer.encode(after) + [task.tokenizer.eot]

    def score(plate: list[int]) -> float:  # log p(plate + rest | context), teacher-forced, no mask
        tokens = torch.tensor([context + plate + rest], device=audio.device)  # (1, T)
        logprobs = model.decoder(tokens, audio)[0, len(context) - 1 : -1].float().log_softmax(-1)  # (T - len(context), V)
        return logprobs.gather(-1, tokens[0, len(context):, None]).sum().item()

    ranker = task.sequence_ranker = gramatica.PlateRanker(grammar, score)
    best = task.run(audio)[0].text.strip()
    scored = [(ranker.best_scores[0], best)] + [(score(task.tokenizer.encode(" " + p)), p) for p in inside]
    return max(scored)[1]


@torch.no_grad()
def hidden_letters(model: whisper.model.Whisper, audio: torch.Tensor, options: whisper.DecodingOptions, decoded: str,
                   text: str) -> str:
    """`text` (the decoded text `decoded`, its plates repaired), or a reading of `decoded` with a plate letter
    the word before it swallowed (gramatica.hidden_letter_readings) that the model, given
    gramatica.HIDDEN_LETTER_PRIOR, finds likelier. audio is one clip's encoder output (1, positions, d)."""
    readings = gramatica.hidden_letter_readings(decoded)
    if not readings:
        return text
    task = _GroupedDecodingTask(model, dataclasses.replace(options, beam_size=None, best_of=None))
    encode = task.tokenizer.encode
    scores = text_logprobs(model, audio, list(task.initial_tokens), [encode(" " + t) for t in [text, *readings]],
                           task.tokenizer.eot)
    best = max(range(len(readings)), key=lambda k: scores[k + 1])
    return readings[best] if scores[best + 1] > scores[0] - gramatica.HIDDEN_LETTER_PRIOR else text


def _sample_len(model: whisper.model.Whisper, mel: torch.Tensor) -> int:
    """contexto.max_tokens for the window of a mel (B, n_mels, frames) or encoder output (B, frames // 2, d)."""
    return contexto.max_tokens(mel.shape[-1] if mel.shape[-2] == model.dims.n_mels else 2 * mel.shape[-2])


@contextlib.contextmanager
def _encoded(model: whisper.model.Whisper, mel: torch.Tensor, autocast: torch.dtype | None):
    """Eval mode and `autocast` for the block; yields the encoder output (B, frames // 2, d) in fp32 of a mel
    (B, n_mels, frames) or of an encoder output itself."""
    was_training = model.training
    model.eval()
    mel = mel.to(next(model.parameters()).device)
    # nullcontext, not enabled=False: inside Lightning's validation an outer autocast must stay on
    mixed = torch.autocast(mel.device.type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    try:
        with mixed:
            features = mel
            if mel.shape[-2] == model.dims.n_mels:
                features = model.encoder(mel)  # (B, frames // 2, d), once for the first pass and the retries
            yield features.float()  # whisper's DecodingTask takes fp32 features when fp16=False
    finally:
        model.train(was_training)


@contextlib.contextmanager
def _seeded(device: torch.device):
    """Seeded and forked: the same sampled text on every run, and the caller's random stream untouched."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        yield


@torch.no_grad()
def transcribe_batch(model: whisper.model.Whisper, mel: torch.Tensor, language: str, beam_size: int | None = None,
                     autocast: torch.dtype | None = None, plate_grammar: bool = True) -> list[str]:
    """Real autoregressive decoding of a batch; mel (B, n_mels, frames) or encoder output (B, frames // 2, d),
    for a window of any length up to 30 s (3000 frames; see contexto.py).

    Language is fixed, no timestamps; repetition loops are decoded again as whisper.transcribe does
    (see FALLBACK_TEMPERATURES). With `plate_grammar`, a spelled plate that fits no plate shape is
    decoded again under the shapes (gramatica.py). `autocast`: the dtype the encoder and decoder run
    in (None: as the caller runs them). The texts come back without special tokens, with spelled
    capitals joined back ("D X S 660" -> "DXS 660", see letras.spell_capitals).
    """
    options = whisper.DecodingOptions(language=language, task="transcribe", without_timestamps=True,
                                      fp16=False, beam_size=beam_size, sample_len=_sample_len(model, mel))

    def sample(indices: list[int], temperature: float) -> list[str]:
        retry = dataclasses.replace(options, temperature=temperature, beam_size=None, best_of=FALLBACK_BEST_OF)
        return [r.text.strip() for r in _decode(model, features[indices], retry)]

    with _encoded(model, mel, autocast) as features:
        texts = [r.text.strip() for r in _decode(model, features, options)]
        with _seeded(features.device):
            texts = retry_loops(texts, sample)
        if plate_grammar:
            texts = [hidden_letters(model, features[i : i + 1], options, text, gramatica.repair_plates(
                text, functools.partial(decode_plate, model, features[i : i + 1], options))) for i, text in enumerate(texts)]
    return [letras.join_spelled_capitals(text) for text in texts]


class _EveryCandidate(whisper.decoding.SequenceRanker):
    """Picks as `inner` does, and keeps every finished candidate of each clip, (tokens, sum of log-probs), for
    the n-best."""

    def __init__(self, inner: whisper.decoding.SequenceRanker):
        self.inner = inner
        self.candidates: list[list[tuple[list[int], float]]] = []

    def rank(self, tokens: list[list[torch.Tensor]], sum_logprobs: list[list[float]]) -> list[int]:
        self.candidates = [[(t.tolist(), lp) for t, lp in zip(ts, lps, strict=True)]
                           for ts, lps in zip(tokens, sum_logprobs, strict=True)]
        return self.inner.rank(tokens, sum_logprobs)


def _beam_candidates(model: whisper.model.Whisper, features: torch.Tensor, options: whisper.DecodingOptions,
                     plate_filter: bool = False) -> tuple[whisper.decoding.DecodingTask, list[list[tuple[list[int], float]]]]:
    """Every finished beam of each clip, (text tokens, sum of log-probs); with `plate_filter` under
    gramatica.PlateFromFirstSymbol (its sums are then of the masked distribution)."""
    task = _GroupedDecodingTask(model, options)
    if plate_filter:
        task.logit_filters.append(gramatica.PlateFromFirstSymbol(gramatica.PlateGrammar(task.tokenizer,
                                                                                        task.sample_begin)))
    ranker = task.sequence_ranker = _EveryCandidate(task.sequence_ranker)
    task.run(features)
    return task, ranker.candidates


def _logprob_sums(model: whisper.model.Whisper, audio: torch.Tensor, context: list[int], candidates: list[list[int]],
                  eot: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(candidate + end-of-text | context, audio), its number of tokens) per candidate, no mask:
    teacher-forced, all candidates in one decoder pass. audio is one clip's encoder output (1, positions, d)."""
    lengths = torch.tensor([len(c) + 1 for c in candidates], device=audio.device)
    width = int(lengths.max())
    tokens = torch.tensor([context + c + [eot] * (width - len(c)) for c in candidates], device=audio.device)  # (N, T)
    logits = model.decoder(tokens, audio.expand(len(candidates), -1, -1))  # (N, T, V)
    logprobs = logits[:, len(context) - 1 : -1].float().log_softmax(-1)  # (N, width, V)
    picked = logprobs.gather(-1, tokens[:, len(context):, None])[..., 0]  # (N, width)
    mask = torch.arange(width, device=audio.device)[None, :] < lengths[:, None]
    return (picked * mask).sum(-1), lengths


def text_logprobs(model: whisper.model.Whisper, audio: torch.Tensor, context: list[int],
                  candidates: list[list[int]], eot: int) -> list[float]:
    """log p(candidate + end-of-text | context, audio) under the model (see _logprob_sums)."""
    return _logprob_sums(model, audio, context, candidates, eot)[0].tolist()


def mean_logprobs(model: whisper.model.Whisper, audio: torch.Tensor, context: list[int],
                  candidates: list[list[int]], eot: int, prior: float = 0.0) -> list[float]:
    """log p(candidate + end-of-text | context, audio) per token under the model (see _logprob_sums), with
    `prior` nats added to each total first."""
    sums, lengths = _logprob_sums(model, audio, context, candidates, eot)
    return ((sums + prior) / lengths).tolist()


PLATE_NBEST_BEAM = 5  # the plate question's beam: its candidates are all the plates there are to rank


@torch.no_grad()
def transcribe_nbest(model: whisper.model.Whisper, mel: torch.Tensor, language: str, n_best: int,
                     beam_size: int | None = None, question: str | None = None, prompt: str | None = None,
                     autocast: torch.dtype | None = None, plate_grammar: bool = True) -> list[list[Hypothesis]]:
    """Up to `n_best` hypotheses per clip, best first, distinct texts, scored by mean log-prob per token (as
    whisper's avg_logprob); mel as in transcribe_batch. The beam is at least `n_best` wide.

    question=PLATE: the candidates of a beam under the plate's grammar from its first symbol
    (gramatica.PlateFromFirstSymbol), scored by the model without the mask, kept when they hold a plate,
    one per plate (gramatica.plates_or_texts: the best text first when it holds none). Otherwise the beam's
    candidates: repetition loops dropped (a clip left with none is sampled again, as transcribe_batch does),
    spelled plates of no valid shape repaired (`plate_grammar`). question=YES_NO: those, then each of
    hipotesis.BARE_ANSWERS scored teacher-forced (forced=True), in that order.
    `prompt`: previous text the decoder is given (whisper's prompt), e.g. matched to the question.
    """
    width = max(beam_size or 1, n_best, PLATE_NBEST_BEAM if question == PLATE else 1)
    options = whisper.DecodingOptions(language=language, task="transcribe", without_timestamps=True, fp16=False,
                                      beam_size=width if width > 1 else None, prompt=prompt,
                                      sample_len=_sample_len(model, mel))
    with _encoded(model, mel, autocast) as features:
        if question == PLATE:
            return [_plates(model, features[i : i + 1], options, n_best) for i in range(len(features))]
        task, candidates = _beam_candidates(model, features, options)
        hypotheses = [[Hypothesis(task.tokenizer.decode(tokens).strip(), lp / (len(tokens) + 1))
                       for tokens, lp in clip] for clip in candidates]
        hypotheses = [[h for h in clip if not is_repetition_loop(h.text)] for clip in hypotheses]
        _sample_again(model, features, options, hypotheses)
        if plate_grammar:
            hypotheses = [[dataclasses.replace(h, text=gramatica.repair_plates(
                h.text, functools.partial(decode_plate, model, features[i : i + 1], options))) for h in clip]
                for i, clip in enumerate(hypotheses)]
        hypotheses = [gramatica.distinct_texts([dataclasses.replace(h, text=letras.join_spelled_capitals(h.text))
                                                for h in clip], n_best) for clip in hypotheses]
        if question == YES_NO:  # after "Decí sí o no": the two answers scored too, for the dialogue to choose
            bare = [task.tokenizer.encode(" " + t) for t in BARE_ANSWERS]
            for i, clip in enumerate(hypotheses):
                scores = mean_logprobs(model, features[i : i + 1], list(task.initial_tokens), bare, task.tokenizer.eot)
                clip += [Hypothesis(t, s, forced=True) for t, s in zip(BARE_ANSWERS, scores, strict=True)]
    return hypotheses


def _sample_again(model: whisper.model.Whisper, features: torch.Tensor, options: whisper.DecodingOptions,
                  hypotheses: list[list[Hypothesis]]) -> None:
    """A clip whose every candidate looped gets retry_loops' schedule, sampled, as its one hypothesis (the
    last try stays, as in transcribe_batch)."""
    remaining = [i for i, clip in enumerate(hypotheses) if not clip]
    with _seeded(features.device):
        for temperature in FALLBACK_TEMPERATURES:
            if not remaining:
                break
            retry = dataclasses.replace(options, temperature=temperature, beam_size=None, best_of=FALLBACK_BEST_OF)
            for i, r in zip(remaining, _decode(model, features[remaining], retry), strict=True):
                hypotheses[i] = [Hypothesis(r.text.strip(), r.avg_logprob)]
            remaining = [i for i in remaining if is_repetition_loop(hypotheses[i][0].text)]


def _plates(model: whisper.model.Whisper, audio: torch.Tensor, options: whisper.DecodingOptions,
            n_best: int) -> list[Hypothesis]:
    """The plate question's n-best of one clip (encoder output (1, positions, d)): distinct valid plates.

    One beam under gramatica.PlateFromFirstSymbol: text the model writes without spelling ("SPF-456") is left
    free, so its plates come out as a free beam's would; spelled symbols keep to the shapes."""
    task, candidates = _beam_candidates(model, audio, options, plate_filter=True)
    # The free greedy answer competes too: base writes "PDF 456" as whole words, which the spelled candidates
    # of the filtered beam are not, and it may be the right plate (a test found base's first proposal worse without it).
    free = _decode(model, audio, dataclasses.replace(options, beam_size=None, best_of=None))[0].tokens
    tokens = list({tuple(t): None for t in [free, *(t for t, _ in candidates[0])]})
    scores = mean_logprobs(model, audio, list(task.initial_tokens), [list(t) for t in tokens], task.tokenizer.eot)
    spelled = [task.tokenizer.decode(list(t)).strip() for t in tokens]
    hypotheses = [Hypothesis(letras.join_spelled_capitals(text), score) for text, score in zip(spelled, scores, strict=True)
                  if not is_repetition_loop(text)]
    best = max(range(len(spelled)), key=scores.__getitem__)
    readings = gramatica.hidden_letter_readings(spelled[best])
    if readings:  # the best answer's plate with a letter the word before it swallowed, as in transcribe_batch
        means = mean_logprobs(model, audio, list(task.initial_tokens), [task.tokenizer.encode(" " + r) for r in readings],
                              task.tokenizer.eot, prior=gramatica.HIDDEN_LETTER_PRIOR)
        hypotheses += [Hypothesis(letras.join_spelled_capitals(r), mean) for r, mean in zip(readings, means, strict=True)]
    return gramatica.plates_or_texts(hypotheses, n_best)
