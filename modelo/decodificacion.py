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

from modelo import gramatica
from texto import letras


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
                                      fp16=False, beam_size=beam_size)
    was_training = model.training
    model.eval()
    mel = mel.to(next(model.parameters()).device)
    # nullcontext, not enabled=False: inside Lightning's validation an outer autocast must stay on
    mixed = torch.autocast(mel.device.type, dtype=autocast) if autocast is not None else contextlib.nullcontext()

    def sample(indices: list[int], temperature: float) -> list[str]:
        retry = dataclasses.replace(options, temperature=temperature, beam_size=None, best_of=FALLBACK_BEST_OF)
        return [r.text.strip() for r in _decode(model, features[indices], retry)]

    try:
        with mixed:
            features = mel
            if mel.shape[-2] == model.dims.n_mels:
                features = model.encoder(mel)  # (B, frames // 2, d), once for the first pass and the retries
            features = features.float()  # whisper's DecodingTask takes fp32 features when fp16=False
            texts = [r.text.strip() for r in _decode(model, features, options)]
            # Seeded and forked: the same text on every run, and the caller's random stream untouched.
            with torch.random.fork_rng(devices=[mel.device] if mel.device.type == "cuda" else []):
                torch.manual_seed(0)
                texts = retry_loops(texts, sample)
            if plate_grammar:
                texts = [gramatica.repair_plates(text, functools.partial(decode_plate, model, features[i : i + 1], options))
                         for i, text in enumerate(texts)]
    finally:
        model.train(was_training)
    return [letras.join_spelled_capitals(text) for text in texts]
