"""What training and evaluation share: Config, audio loading, the dataset, the collator, the model module.

Data flow (shapes where tensors cross functions):
  wav --load_audio--> (samples,) float32 16 kHz --log_mel--> (n_mels, 3000)
  text --tokenize--> dec_input (T,) = SOT sequence + text tokens; labels (T,) = dec_input[1:] + EOT
  batch: mel (B, n_mels, 3000), dec_input (B, T) padded with EOT, labels (B, T) padded with -100
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jiwer
import numpy as np
import pytorch_lightning as pl
import soundfile as sf
import soxr
import torch
import torch.nn.functional as F
import whisper
from torch.utils.data import Dataset
from whisper.audio import CHUNK_LENGTH, N_SAMPLES, SAMPLE_RATE
from whisper.normalizers import BasicTextNormalizer

import aumentos
import datos
import empaquetado
import extraccion
import gramatica
import numeros
import pesos

FREEZE_POLICIES = ("encoder", "conv", "none")


@dataclass
class Config:
    """Every hyper-parameter, path and policy of a run; saved with every checkpoint."""

    # Names of the original design.
    learning_rate: float = 1e-5  # 5e-4 (the original) diverges and erases what base knew; see README
    weight_decay: float = 0.01
    adam_epsilon: float = 1e-8
    warmup_steps: int = -1  # -1: a tenth of the total optimizer steps
    batch_size: int = 8
    num_worker: int = 2
    num_train_epochs: int = 10
    gradient_accumulation_steps: int = 1
    sample_rate: int = SAMPLE_RATE
    # Added.
    model_name: str = "base"
    data_dir: str = "data"
    artifacts_dir: str = "artifacts"
    log_dir: str = "tensor_logs"
    max_steps: int = -1  # -1: no limit, num_train_epochs decides
    # Wall-clock budget for fit (encoder cache + steps), 0: none. After a few steps the step count is
    # lowered to what fits, so a slow machine trains fewer steps but the schedule still ends at zero.
    max_minutes: float = 0.0
    seed: int = 1234
    language: str = "es"
    freeze: str = "encoder"  # encoder: whole encoder + token embedding; conv: conv front end + embedding
    # With freeze=encoder: the top N encoder blocks (and ln_post) train too, adapting the acoustics to
    # new voices; the cache then holds what enters them, so each step pays only for those N blocks.
    train_encoder_blocks: int = 0
    precision: str = "auto"  # auto: bf16-mixed or 16-mixed on CUDA, 32-true on CPU
    gradient_clip_val: float = 1.0
    cache_encoder: int = 1  # 1: encoder outputs computed once and kept on disk (only with --freeze encoder)
    group_by_length: int = 1  # 1: training batches of similar token length (little decoder padding)
    # Training answers of one speaker joined into windows of up to this many seconds (0: one per clip);
    # see empaquetado.py. Validation is never packed.
    pack_seconds: float = 0.0
    # Training-only augmentation (any of them turns the encoder cache off for training).
    specaugment: int = 0  # 1: SpecAugment frequency and time masks on the log-mel
    speed_perturb: str = ""  # "0.9,1.1": speed factor drawn uniformly in that range; "": off
    noise_snr: float = 0.0  # white noise at this SNR in dB; 0: off
    # Against forgetting (0 = off): KL towards the pretrained decoder's next-token distribution on the
    # same teacher-forced inputs, and an L2 pull of the trained weights towards their starting values.
    distill_weight: float = 0.0
    l2sp_weight: float = 0.0
    # Weight-space ensembling (WiSE-FT, Wortsman et al. 2022): the exported models are
    # (1 - w) * fine-tuned + w * pretrained. Most of the gain stays, most of what base knew comes back.
    merge_pretrained: float = 0.0
    # Task-vector trimming (the "trim" step of TIES-Merging, Yadav et al. 2023): in the exported models
    # only this fraction of each tensor's changes, the largest by |fine-tuned - pretrained|, survives; the
    # rest goes back to pretrained. Measured on the demo it keeps more of the plates than WiSE-FT for the
    # same forgetting (README). 1: keep every change.
    keep_delta: float = 1.0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    val_decode_max: int = 200  # utterances decoded for WER/CER at each validation (decoding is slow)
    accelerator: str = "auto"
    devices: str = "1"
    strategy: str = "auto"
    log_every_n_steps: int = 5

    def to_dict(self) -> dict:
        return asdict(self)


# --- audio and text ----------------------------------------------------------------------------


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file soundfile reads, any rate and channel count -> (samples,) mono float32 at sample_rate."""
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise datos.DataDirError(f"{path}: no se pudo leer el audio ({e}). ¿Es un wav/flac válido?") from None
    audio = audio.mean(axis=1)
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate).astype(np.float32)
    return audio


def log_mel(audio: np.ndarray, n_mels: int) -> torch.Tensor:
    """(samples,) -> (n_mels, 3000): padded or trimmed to Whisper's 30 s window."""
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(audio), N_SAMPLES), n_mels)


_normalizer = BasicTextNormalizer(remove_diacritics=True)


def normalize_text(text: str) -> str:
    """Text as WER sees it: numbers as digits ("doce" == "12"), no case, punctuation or accents."""
    return _normalizer(numeros.to_digits(text)).strip()


def error_rates(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus WER and CER (after normalize_text) plus raw WER (texts as they are)."""
    pairs = [(normalize_text(r), normalize_text(h), r, h) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [p for p in pairs if p[0]]  # jiwer cannot score an empty reference
    if not pairs:
        return {"wer": float("nan"), "cer": float("nan"), "raw_wer": float("nan")}
    refs, hyps, raw_refs, raw_hyps = (list(x) for x in zip(*pairs, strict=True))
    return {
        "wer": jiwer.wer(refs, hyps),
        "cer": jiwer.cer(refs, hyps),
        "raw_wer": jiwer.wer([r.strip() or "-" for r in raw_refs], [h.strip() for h in raw_hyps]),
    }


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
        return super()._get_audio_features(mel).repeat_interleave(self.n_group, dim=0)  # (B * n_group, 1500, d)

    def _detect_language(self, audio_features: torch.Tensor, tokens: torch.Tensor):
        return super()._detect_language(audio_features[:: self.n_group], tokens)  # one answer per clip


def _decode(model: whisper.model.Whisper, mel: torch.Tensor, options: whisper.DecodingOptions) -> list:
    """whisper.decode of a batch (B, n_mels, 3000), beam search and best-of included."""
    return _GroupedDecodingTask(model, options).run(mel)


@functools.cache
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matrix products in hardware (measured here with AMX: the encoder 2.7x and a
    decoder step 1.4x faster than fp32). Without them torch emulates bf16, slower than fp32."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # private helpers; an older or newer torch may lack them
        return False


def has_native_bf16(device: torch.device | str) -> bool:
    """bf16 in hardware on this device: a bf16 GPU, or a CPU with AMX / AVX512-BF16 (training and decoding
    pick their `auto` precision from it)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()


PLATE_BEAM = 8  # beam of the plate's constrained decoding: at most 8 steps, so a wide beam costs little


@torch.no_grad()
def decode_plate(model: whisper.model.Whisper, audio: torch.Tensor, options: whisper.DecodingOptions, before: str,
                 after: str, inside: Sequence[str] = ()) -> str:
    """The likeliest valid plate said between the texts `before` and `after` (gramatica.py), spelled
    ("P P E 2 9 7"): the best of a beam under the plate's grammar and of the plates `inside` the run.
    audio is one clip's encoder output (1, 1500, d)."""
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
    """Real autoregressive decoding of a batch; mel (B, n_mels, 3000) or encoder output (B, 1500, d).

    Language is fixed, no timestamps; repetition loops are decoded again as whisper.transcribe does
    (see FALLBACK_TEMPERATURES). With `plate_grammar`, a spelled plate that fits no plate shape is
    decoded again under the shapes (gramatica.py). `autocast`: the dtype the encoder and decoder run
    in (None: as the caller runs them). The texts come back without special tokens, with spelled
    capitals joined back ("D X S 660" -> "DXS 660", see extraccion.spell_capitals).
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
            if mel.shape[-2:] != (model.dims.n_audio_ctx, model.dims.n_audio_state):
                features = model.encoder(mel)  # (B, 1500, d), once for the first pass and the retries
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
    return [extraccion.join_spelled_capitals(text) for text in texts]


# --- dataset -----------------------------------------------------------------------------------


def audio_problem(path: Path) -> str | None:
    """Why a clip cannot be used whole (missing, unreadable, longer than Whisper's 30 s window), or None.

    Reads only the header, so checking a whole corpus is fast. Training and evaluation share it.
    """
    if not path.is_file():
        return "audio faltante"
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return "audio ilegible"
    if info.frames / info.samplerate > CHUNK_LENGTH:
        return f"audio de más de {CHUNK_LENGTH} s"
    return None


@dataclass
class Skipped:
    """Rows a dataset left out, by reason, with the first ids of each (reported, never silent)."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(self, reason: str, utt_id: str) -> None:
        self.counts[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 3:
            self.examples[reason].append(utt_id)

    def report(self) -> str:
        return "; ".join(f"{n} por {reason} (p. ej. {', '.join(self.examples[reason])})" for reason, n in self.counts.items())


@dataclass(frozen=True)
class Clip:
    """What the encoder hears for one item: one recording, or several of one speaker joined by silences."""

    paths: tuple[Path, ...]
    gaps: tuple[float, ...] = ()  # seconds of silence before each recording after the first

    def load(self, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """(samples,) float32 mono at sample_rate."""
        parts = [load_audio(self.paths[0], sample_rate)]
        for path, gap in zip(self.paths[1:], self.gaps, strict=True):
            parts += [np.zeros(round(gap * sample_rate), np.float32), load_audio(path, sample_rate)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def key(self) -> str:
        """The audio's content, not its names: a re-recorded clip gets a new encoder-cache entry."""
        digests = [hashlib.sha1(path.read_bytes()).hexdigest() for path in self.paths]
        if len(digests) == 1:
            return digests[0]
        joined = ",".join(digests) + ";" + ",".join(f"{gap:.3f}" for gap in self.gaps)
        return hashlib.sha1(joined.encode()).hexdigest()


class SpeechDataset(Dataset):
    """One split of a data dir: log-mel, decoder input and labels for each usable row.

    Rows whose audio is missing or over 30 s, or whose tokens exceed the decoder's context, are
    skipped and counted in `self.skipped`. With `pack_seconds` (training only), the rows of one
    speaker are joined into windows of up to that many seconds (empaquetado.py); an item is then a
    window, with its texts joined. With an encoder cache (cache_encoder.EncoderCache, built
    beforehand), items carry the encoder output as "features" instead of the log-mel. With `augment`
    (aumentos.Augmentation; training only), each read of a clip is perturbed anew.
    """

    def __init__(self, data_dir: str | Path, split: str, tokenizer, n_mels: int, n_text_ctx: int = 448,
                 split_map: dict[str, str] | None = None, sample_rate: int = SAMPLE_RATE,
                 pack_seconds: float = 0.0, seed: int = 0):
        self.data_dir, self.split, self.n_mels, self.sample_rate = Path(data_dir), split, n_mels, sample_rate
        self.tokenizer = tokenizer
        self.cache = None
        self._cache_keys: list[str] = []
        self.augment: aumentos.Augmentation | None = None
        texts = datos.read_transcripts(data_dir)
        if split_map is None:
            split_map, _ = datos.load_or_make_split(data_dir, texts)
        self.skipped = Skipped()
        prefix = list(tokenizer.sot_sequence_including_notimestamps)
        rows: list[tuple[str, str, list[int]]] = []  # (id, text, text tokens)
        for utt_id, text in texts.items():
            if split_map.get(utt_id) != split:
                continue
            problem = audio_problem(datos.audio_path(data_dir, utt_id))
            if problem:
                self.skipped.add(problem, utt_id)
                continue
            tokens = tokenizer.encode(" " + extraccion.spell_capitals(text))  # one token per plate symbol
            if len(prefix) + len(tokens) + 1 > n_text_ctx:
                self.skipped.add(f"texto de más de {n_text_ctx} tokens", utt_id)
                continue
            rows.append((utt_id, text, tokens))
        self.utterances = len(rows)
        paths = [datos.audio_path(data_dir, utt_id) for utt_id, _, _ in rows]
        if pack_seconds:
            seconds = [sf.info(str(path)).duration for path in paths]
            # Tokens add up when texts are joined with a space: BPE never merges across one.
            windows = empaquetado.pack([datos.speaker_of(r[0]) for r in rows], seconds, [len(r[2]) for r in rows],
                                       pack_seconds, n_text_ctx - len(prefix) - 1, seed)
        else:
            windows = [empaquetado.Window((i,), ()) for i in range(len(rows))]
        # (id, text, decoder input, clip): ids and texts of a window joined with "+" and " ".
        self.items: list[tuple[str, str, list[int], Clip]] = [
            ("+".join(rows[i][0] for i in w.members), " ".join(rows[i][1] for i in w.members),
             prefix + [t for i in w.members for t in rows[i][2]], Clip(tuple(paths[i] for i in w.members), w.gaps))
            for w in windows
        ]

    def __len__(self) -> int:
        return len(self.items)

    def token_lengths(self) -> list[int]:
        return [len(tokens) for _, _, tokens, _ in self.items]

    def clips(self) -> list[Clip]:
        return [clip for _, _, _, clip in self.items]

    def use_cache(self, cache) -> None:
        """Serve encoder outputs from `cache` (every clip must already be in it)."""
        if self.augment:
            raise ValueError("an augmented dataset cannot use the encoder cache: its encoder input changes")
        self._cache_keys = [clip.key() for clip in self.clips()]
        missing = sum(k not in cache for k in self._cache_keys)
        if missing:
            raise ValueError(f"{missing} clips of split {self.split} are not in the encoder cache; build it first")
        self.cache = cache

    def __getitem__(self, index: int) -> dict:
        utt_id, text, tokens, clip = self.items[index]
        item = {"id": utt_id, "text": text, "dec_input": tokens, "labels": tokens[1:] + [self.tokenizer.eot]}
        if self.cache is not None:
            item["features"] = self.cache.get(self._cache_keys[index])  # (n_audio_ctx, n_audio_state)
            return item
        audio = clip.load(self.sample_rate)
        if not self.augment:
            item["mel"] = log_mel(audio, self.n_mels)
            return item
        # Drawn from torch's generator: seeded by seed_everything, and per worker and rank by the DataLoader.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
        audio = self.augment.audio(audio, rng)
        item["mel"] = self.augment.mel(log_mel(audio, self.n_mels), len(audio), rng)
        return item


class WhisperDataCollatorWithPadding:
    """Stacks mels; pads labels with -100 (ignored by the loss) and decoder input with the tokenizer's EOT."""

    def __init__(self, eot: int):
        self.eot = eot

    def __call__(self, features: list[dict]) -> dict:
        width = max(len(f["dec_input"]) for f in features)
        dec_input = torch.full((len(features), width), self.eot, dtype=torch.long)
        labels = torch.full((len(features), width), -100, dtype=torch.long)
        for row, f in enumerate(features):
            dec_input[row, : len(f["dec_input"])] = torch.tensor(f["dec_input"])
            labels[row, : len(f["labels"])] = torch.tensor(f["labels"])
        audio = "features" if "features" in features[0] else "mel"
        return {
            audio: torch.stack([f[audio] for f in features]),  # mel (B, n_mels, 3000) or features (B, 1500, d)
            "dec_input": dec_input,  # (B, T)
            "labels": labels,  # (B, T)
            "ids": [f["id"] for f in features],
            "texts": [f["text"] for f in features],
        }


# --- model -------------------------------------------------------------------------------------

def encode_prefix(encoder, mel: torch.Tensor, blocks: int) -> torch.Tensor:
    """mel (B, n_mels, 3000) -> hidden state after the first `blocks` blocks (B, 1500, d).

    With every block it is `encoder(mel)` (ln_post included). Mirrors whisper's AudioEncoder.forward,
    which has no hook to stop half-way.
    """
    if blocks == len(encoder.blocks):
        return encoder(mel)
    x = F.gelu(encoder.conv2(F.gelu(encoder.conv1(mel)))).permute(0, 2, 1)
    x = (x + encoder.positional_embedding).to(x.dtype)
    for block in encoder.blocks[:blocks]:
        x = block(x)
    return x


def encode_suffix(encoder, hidden: torch.Tensor, blocks: int) -> torch.Tensor:
    """What encode_prefix(…, blocks) left to do: the remaining blocks and ln_post -> (B, 1500, d)."""
    if blocks == len(encoder.blocks):
        return hidden
    for block in encoder.blocks[blocks:]:
        hidden = block(hidden)
    return encoder.ln_post(hidden)


# openai-whisper's LayerNorm names: no weight decay on them (nor on any bias).
_NO_DECAY = ("attn_ln", "cross_attn_ln", "mlp_ln", "ln", "ln_post")


@torch.no_grad()
def merge_with_pretrained(model: whisper.model.Whisper, pretrained: whisper.model.Whisper, weight: float) -> None:
    """In place: every floating tensor becomes (1 - weight) * fine-tuned + weight * pretrained."""
    reference = pretrained.state_dict()
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            tensor.lerp_(reference[name].to(tensor.device, tensor.dtype), weight)


@torch.no_grad()
def trim_to_pretrained(model: whisper.model.Whisper, pretrained: whisper.model.Whisper, keep: float) -> None:
    """In place: per floating tensor, only the `keep` fraction of entries that moved most from pretrained
    keep their change; the others become pretrained again. Hand-written (a few lines) because the library
    that has it, peft's merge_utils, would bring transformers and accelerate along."""
    if keep >= 1:
        return
    reference = pretrained.state_dict()
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        start = reference[name].to(tensor.device, tensor.dtype)
        moved = (tensor - start).abs()  # frozen tensors: all zero, nothing to trim
        if moved.numel() < 10 or not moved.any():  # scalars and tiny tensors: too few entries to rank
            continue
        threshold = moved.flatten().float().kthvalue(max(1, int(moved.numel() * (1 - keep)))).values
        tensor.copy_(torch.where(moved >= threshold, tensor, start))


def against_forgetting(model: whisper.model.Whisper, pretrained: whisper.model.Whisper, keep_delta: float,
                       merge_pretrained: float) -> None:
    """In place, the export-time remedies in their one order (fine_tune.py and exportar.py): trim, then mix."""
    trim_to_pretrained(model, pretrained, keep_delta)
    merge_with_pretrained(model, pretrained, merge_pretrained)


def apply_freeze_policy(model: whisper.model.Whisper, policy: str, train_encoder_blocks: int = 0) -> None:
    """encoder: the whole encoder and the token embedding are frozen (default), except its top
    `train_encoder_blocks` blocks and ln_post when asked; conv: only the encoder's convolutional front
    end and the token embedding (the original design); none: everything trains. The decoder always trains."""
    if policy not in FREEZE_POLICIES:
        raise ValueError(f"freeze must be one of {FREEZE_POLICIES}, got {policy!r}")
    n_layer = model.dims.n_audio_layer
    if not 0 <= train_encoder_blocks <= n_layer:
        raise ValueError(f"train_encoder_blocks must be between 0 and {n_layer} (the encoder's blocks), got {train_encoder_blocks}")
    for p in model.parameters():
        p.requires_grad = True
    frozen = [model.decoder.token_embedding]
    if policy == "encoder":
        frozen.append(model.encoder)
    elif policy == "conv":
        frozen += [model.encoder.conv1, model.encoder.conv2]
    if policy != "none":
        for module in frozen:
            for p in module.parameters():
                p.requires_grad = False
    if policy == "encoder" and train_encoder_blocks:
        for module in [*model.encoder.blocks[n_layer - train_encoder_blocks :], model.encoder.ln_post]:
            module.requires_grad_(True)


def frozen_encoder_blocks(config: Config, model: whisper.model.Whisper) -> int:
    """How many encoder blocks never change in this run (what the encoder cache may hold)."""
    return model.dims.n_audio_layer - config.train_encoder_blocks if config.freeze == "encoder" else 0


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        parts = name.split(".")
        (no_decay if parts[-1] == "bias" or any(part in _NO_DECAY for part in parts) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class WhisperModelModule(pl.LightningModule):
    def __init__(self, config: Config | dict, model: whisper.model.Whisper | None = None):
        super().__init__()
        self.config = config if isinstance(config, Config) else Config(**config)
        self.save_hyperparameters({"config": self.config.to_dict()})
        self.model = model if model is not None else pesos.load_whisper(self.config.model_name)
        apply_freeze_policy(self.model, self.config.freeze, self.config.train_encoder_blocks)
        self._frozen_blocks = frozen_encoder_blocks(self.config, self.model)
        self.tokenizer = get_tokenizer(self.model, self.config.language)
        # DDP broadcasts every buffer from rank 0 at start and cannot send sparse ones; whisper's
        # alignment_heads is sparse, and the same on every rank anyway.
        self._ddp_params_and_buffers_to_ignore = ["model.alignment_heads"]
        # Frozen copies of what the model knew, only when a remedy against forgetting asks for them.
        # Kept in a plain dict so they stay out of the checkpoint's state_dict (weights under `model.` only).
        self._frozen: dict = {}
        if self.config.distill_weight:
            self._frozen["teacher"] = copy.deepcopy(self.model.decoder).eval().requires_grad_(False)
        if self.config.l2sp_weight:
            self._frozen["start"] = {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}
        self._val_pairs: list[tuple[str, str, str]] = []
        self._decoded = 0
        self._batch_started = None

    def _encode(self, batch: dict) -> torch.Tensor:
        """Batch -> encoder output (B, 1500, d). The frozen part comes from the cache ("features": what
        enters the trained blocks) or runs without a graph; only the trained blocks run with one."""
        encoder, frozen = self.model.encoder, self._frozen_blocks
        if "features" in batch:
            hidden = batch["features"]
        elif self.config.freeze == "encoder":
            with torch.no_grad():
                hidden = encode_prefix(encoder, batch["mel"], frozen)
        else:
            return encoder(batch["mel"])
        return encode_suffix(encoder, hidden, frozen)

    def _loss(self, batch: dict, audio_features: torch.Tensor, logits: torch.Tensor | None = None) -> torch.Tensor:
        if logits is None:
            logits = self.model.decoder(batch["dec_input"], audio_features)  # (B, T, vocab)
        return F.cross_entropy(logits.float().transpose(1, 2), batch["labels"], ignore_index=-100)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        features = self._encode(batch)
        logits = self.model.decoder(batch["dec_input"], features)  # (B, T, vocab)
        loss = self._loss(batch, features, logits)
        self.log("train/ce", loss, batch_size=len(batch["ids"]))
        if "teacher" in self._frozen:
            with torch.no_grad():
                teacher = self._frozen["teacher"](batch["dec_input"], features).float().log_softmax(-1)
            mask = batch["labels"] != -100  # (B, T)
            kl = F.kl_div(logits.float().log_softmax(-1)[mask], teacher[mask], log_target=True, reduction="batchmean")
            self.log("train/kl_preentrenado", kl, batch_size=len(batch["ids"]))
            loss = loss + self.config.distill_weight * kl
        if "start" in self._frozen:
            start = self._frozen["start"]
            drift = sum(((p - start[n]) ** 2).sum() for n, p in self.model.named_parameters() if n in start)
            self.log("train/deriva_l2", drift, batch_size=len(batch["ids"]))
            loss = loss + self.config.l2sp_weight * drift
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["ids"]))
        return loss

    def on_fit_start(self):
        if "teacher" in self._frozen:
            self._frozen["teacher"].to(self.device)
        if "start" in self._frozen:
            self._frozen["start"] = {n: t.to(self.device) for n, t in self._frozen["start"].items()}

    def on_train_batch_start(self, batch, batch_idx):
        self._batch_started = time.perf_counter()

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self._batch_started is not None:
            self.log("train/samples_per_s", len(batch["ids"]) / (time.perf_counter() - self._batch_started),
                     batch_size=len(batch["ids"]))

    def on_validation_epoch_start(self):
        self._val_pairs, self._decoded = [], 0

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        with torch.no_grad():
            features = self._encode(batch)
        self.log("val/loss", self._loss(batch, features), prog_bar=True, batch_size=len(batch["ids"]), sync_dist=True)
        budget = -(-self.config.val_decode_max // self.trainer.world_size)  # each rank decodes its share
        if self._decoded < budget:
            take = budget - self._decoded
            hypotheses = transcribe_batch(self.model, features[:take], self.config.language)
            self._val_pairs += list(zip(batch["ids"][:take], batch["texts"][:take], hypotheses, strict=True))
            self._decoded += len(hypotheses)

    def on_validation_epoch_end(self):
        pairs = self._val_pairs
        if self.trainer.world_size > 1:  # under DDP each rank decoded its share: every rank scores them all
            shares = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(shares, pairs)
            pairs = list({p[0]: p for share in shares for p in share}.values())  # DistributedSampler repeats a few
        if not pairs:
            return
        rates = error_rates([p[1] for p in pairs], [p[2] for p in pairs])
        self.log("val/wer", rates["wer"], prog_bar=True, sync_dist=True)  # equal on all ranks; sync keeps Lightning quiet
        self.log("val/cer", rates["cer"], sync_dist=True)
        experiment = getattr(self.logger, "experiment", None)
        if hasattr(experiment, "add_text"):
            table = "| id | referencia | hipótesis |\n|---|---|---|\n" + "\n".join(
                f"| {i} | {r} | {h} |" for i, r, h in pairs[:8])
            experiment.add_text("val/ejemplos", table, self.global_step)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(parameter_groups(self.model, self.config.weight_decay),
                                      lr=self.config.learning_rate, eps=self.config.adam_epsilon)
        self.total_steps = max(int(self.trainer.estimated_stepping_batches), 1)  # a time budget may lower it

        def linear(step: int) -> float:  # warm-up to the peak, then linear decay to zero at total_steps
            total = self.total_steps
            warmup = self.config.warmup_steps if self.config.warmup_steps >= 0 else max(total // 10, 1)
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total - step) / max(total - warmup, 1))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Self-describing: pesos.load_whisper rebuilds the model from the .ckpt alone.
        checkpoint["whisper_dims"] = asdict(self.model.dims)
        checkpoint["alignment_heads"] = self.model.alignment_heads.to_dense().nonzero().tolist()
