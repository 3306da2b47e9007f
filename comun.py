"""What training needs beside the loop: Config, the dataset, the collator and the Lightning module.

Data flow (shapes where tensors cross functions):
  wav --modelo.audio.load_audio--> (samples,) float32 16 kHz --log_mel--> (n_mels, frames)
  frames = 100 * the item's window in seconds: 3000 for Whisper's 30 s, fewer with a short audio context
  text --tokenize--> dec_input (T,) = SOT sequence + text tokens; labels (T,) = dec_input[1:] + EOT
  batch: mel (B, n_mels, frames) or cached features (B, frames // 2, d), dec_input (B, T) padded with EOT,
         labels (B, T) padded with -100
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import soundfile as sf
import torch
import torch.nn.functional as F
import whisper
from torch.utils.data import Dataset
from whisper.audio import CHUNK_LENGTH, SAMPLE_RATE

from cli import option
from corpus import datos
from entrenamiento import aumentos, empaquetado
from entrenamiento.cache_encoder import encode_prefix, encode_suffix
from modelo import cirugia, contexto, pesos
from modelo.audio import audio_problem, log_mel
from modelo.decodificacion import get_tokenizer, transcribe_batch
from texto import letras
from texto.metricas import error_rates

FREEZE_POLICIES = ("encoder", "conv", "none")
PRECISIONS = ("auto", "32-true", "32", "bf16-mixed", "16-mixed", "bf16-true")  # Lightning's, and auto


@dataclass
class Config:
    """Every hyper-parameter, path and policy of a run; saved with every checkpoint.

    Each field carries its Spanish help: fine_tune.py builds its command line from these fields
    (`--learning-rate` for learning_rate), so a default and its help are written once, here.
    """

    # Names of the original design.
    learning_rate: float = option(1e-5, "tasa de aprendizaje máxima de AdamW")  # 5e-4 (the original) diverges
    weight_decay: float = option(0.01, "weight decay de AdamW (no se aplica a biases ni LayerNorm)")
    adam_epsilon: float = option(1e-8, "epsilon de AdamW")
    warmup_steps: int = option(-1, "pasos de calentamiento lineal (-1: un décimo del total)")
    batch_size: int = option(8, "ejemplos por lote")
    num_worker: int = option(2, "procesos que cargan audio")
    num_train_epochs: int = option(10, "épocas de entrenamiento")
    gradient_accumulation_steps: int = option(1, "lotes acumulados por paso del optimizador")
    sample_rate: int = option(SAMPLE_RATE, "frecuencia de muestreo del audio (Whisper usa 16000)")
    # Added.
    model_name: str = option("base", "modelo inicial: nombre oficial (tiny, base, small…), .pt, .ckpt o directorio "
                                     "CTranslate2")
    data_dir: str = option("data", "data dir: audios/ + transcripciones.tsv (+ particion.tsv opcional)")
    artifacts_dir: str = option("artifacts", "dónde guardar checkpoints y modelos exportados")
    log_dir: str = option("tensor_logs", "dónde guardar los logs de TensorBoard")
    max_steps: int = option(-1, "tope de pasos del optimizador (-1: sin tope)")
    # After a few steps the step count is lowered to what fits, so a slow machine trains fewer steps but
    # the schedule still ends at zero (fine_tune.TimeBudget).
    max_minutes: float = option(0.0, "tope de tiempo en minutos para la caché del encoder y el entrenamiento (0: sin "
                                     "tope). Tras unos pasos mide cuánto tarda cada uno y baja los pasos a los que "
                                     "entran; la tasa de aprendizaje igual llega a 0 en el último")
    seed: int = option(1234, "semilla (datos, partición e inicialización)")
    language: str = option("es", "idioma de las transcripciones")
    freeze: str = option("encoder", "qué se congela: encoder (todo el encoder + embedding de tokens), conv (solo el "
                                    "frente convolucional + embedding), none")
    # The cache then holds what enters the trained blocks, so each step pays only for those N blocks.
    train_encoder_blocks: int = option(0, "con --freeze encoder: cuántos bloques de arriba del encoder se entrenan "
                                          "también (0: ninguno). Adaptan la acústica a voces nuevas; la caché guarda "
                                          "lo que entra a esos bloques")
    precision: str = option("auto", "auto (bf16/16-mixed en CUDA; en CPU bf16-mixed si el procesador tiene bf16 "
                                    "nativo, si no 32) o una precisión de Lightning (32-true, bf16-mixed, 16-mixed)")
    gradient_clip_val: float = option(1.0, "recorte de la norma del gradiente (0: sin recorte)")
    cache_encoder: int = option(1, "1: la salida del encoder congelado se calcula una vez y se guarda junto a los "
                                   "datos; 0: se recalcula en cada paso")
    group_by_length: int = option(1, "1: lotes de frases de largo parecido, con poco relleno en el decoder (otro "
                                     "orden en cada época); 0: orden al azar")
    # See entrenamiento/empaquetado.py. Validation is never packed.
    pack_seconds: float = option(0.0, "junta respuestas de entrenamiento del mismo hablante en ventanas de hasta S "
                                      "segundos (máx. 30; 0: una por audio). Whisper escucha siempre 30 s: con "
                                      "respuestas cortas cada paso aprende de ~3 veces más frases por el mismo costo. "
                                      "La validación nunca se junta")
    # See modelo/contexto.py: the encoder hears each clip in a window shorter than Whisper's 30 s, and the
    # checkpoint and the exported models record it so that decoding uses it too.
    audio_context: str = option(contexto.FULL, "segundos de audio que escucha el encoder: 30 (Whisper tal cual), un "
                                               "número N (cada audio en una ventana de N s; en el entrenamiento se "
                                               "omiten los más largos) o auto (la ventana más chica de "
                                               f"{'/'.join(map(str, contexto.WINDOWS))} s que entra). Queda guardado "
                                               "en el checkpoint y en los modelos exportados, que decodifican con él")
    # Training-only augmentation (any of them turns the encoder cache off for training).
    specaugment: int = option(0, "1: máscaras SpecAugment de frecuencia y de tiempo sobre el log-mel. Los aumentos "
                                 "son solo para entrenamiento y cualquiera apaga ahí la caché del encoder")
    speed_perturb: str = option("", "aumento: velocidad al azar entre MIN y MAX, p. ej. 0.9,1.1 (por defecto vacío: "
                                    "sin cambio de velocidad)")
    noise_snr: float = option(0.0, "aumento: ruido blanco con esta relación señal/ruido en dB, p. ej. 20 (0: sin ruido)")
    # Against forgetting (0 = off): KL towards the pretrained decoder's next-token distribution on the
    # same teacher-forced inputs, and an L2 pull of the trained weights towards their starting values.
    distill_weight: float = option(0.0, "contra el olvido: peso del KL hacia el decoder preentrenado (0: desactivado)")
    l2sp_weight: float = option(0.0, "contra el olvido: peso de la distancia L2 a los pesos iniciales (0: desactivado)")
    # Weight-space ensembling (WiSE-FT, Wortsman et al. 2022). Most of the gain stays, most of what base knew
    # comes back.
    merge_pretrained: float = option(0.0, "contra el olvido: fracción de los pesos preentrenados mezclada en los "
                                          "modelos exportados (.pt), 0 = solo afinado, 0.5 = mitad y mitad (WiSE-FT); "
                                          "los .ckpt quedan sin mezclar")
    # Task-vector trimming (the "trim" step of TIES-Merging, Yadav et al. 2023), by |fine-tuned - pretrained|.
    # Measured on the demo it keeps more of the plates than WiSE-FT for the same forgetting (docs/EXPERIMENTOS.md).
    keep_delta: float = option(1.0, "contra el olvido: fracción de los cambios de cada tensor que quedan en los "
                                    "modelos exportados (.pt), los más grandes; el resto vuelve al preentrenado "
                                    "(TIES). 1 = todos, 0.2 = la demo; se aplica antes de --merge-pretrained y los "
                                    ".ckpt quedan como se entrenaron")
    val_fraction: float = option(0.1, "fracción de validación al crear particion.tsv")
    test_fraction: float = option(0.1, "fracción de test al crear particion.tsv")
    # Decoding is slow: only this many validation utterances are decoded at each validation.
    val_decode_max: int = option(200, "frases de validación que se decodifican para medir WER/CER (0: ninguna; "
                                      "'mejor' se elige entonces por val/loss)")
    accelerator: str = option("auto", "auto, cpu o gpu")
    devices: str = option("1", "dispositivos: un número, una lista (0,1) o auto")
    strategy: str = option("auto", "estrategia de Lightning: auto, ddp, fsdp…")
    log_every_n_steps: int = option(5, "cada cuántos pasos se escribe en TensorBoard")

    def to_dict(self) -> dict:
        return asdict(self)

    def problems(self, data: bool = True) -> list[str]:
        """Every bad value at once, in Spanish and named by its flag (empty: all fine). data=False: the data dir
        is not checked (a caller that makes it later, as the demo)."""
        checks = [
            (self.learning_rate > 0, "--learning-rate debe ser positivo"),
            (self.batch_size >= 1, "--batch-size debe ser al menos 1"),
            (self.num_train_epochs >= 1, "--num-train-epochs debe ser al menos 1"),
            (self.gradient_accumulation_steps >= 1, "--gradient-accumulation-steps debe ser al menos 1"),
            (self.num_worker >= 0, "--num-worker no puede ser negativo"),
            (self.max_steps == -1 or self.max_steps >= 1, "--max-steps debe ser -1 o positivo"),
            (self.max_minutes >= 0, "--max-minutes no puede ser negativo (0: sin tope)"),
            (self.val_decode_max >= 0, "--val-decode-max no puede ser negativo (0: no decodifica)"),
            (self.distill_weight >= 0 and self.l2sp_weight >= 0, "--distill-weight y --l2sp-weight no pueden ser negativos"),
            (self.cache_encoder in (0, 1), "--cache-encoder debe ser 0 o 1"),
            (self.group_by_length in (0, 1), "--group-by-length debe ser 0 o 1"),
            (self.pack_seconds == 0 or 1 <= self.pack_seconds <= CHUNK_LENGTH,
             f"--pack-seconds debe ser 0 (sin juntar) o estar entre 1 y {CHUNK_LENGTH} (la ventana de Whisper)"),
            (self.specaugment in (0, 1), "--specaugment debe ser 0 o 1"),
            (self.noise_snr >= 0, "--noise-snr no puede ser negativo (0: sin ruido)"),
            (self.freeze in FREEZE_POLICIES, f"--freeze debe ser uno de {', '.join(FREEZE_POLICIES)}"),
            (self.train_encoder_blocks >= 0, "--train-encoder-blocks no puede ser negativo"),
            (self.train_encoder_blocks == 0 or self.freeze == "encoder",
             "--train-encoder-blocks va con --freeze encoder (con conv o none el encoder ya se entrena entero)"),
            (self.precision in PRECISIONS, f"--precision debe ser uno de {', '.join(PRECISIONS)}"),
            (0 <= self.val_fraction + self.test_fraction < 1, "--val-fraction + --test-fraction debe estar entre 0 y 1"),
            (not data or (Path(self.data_dir) / datos.TRANSCRIPTS).is_file(),
             f"--data-dir {self.data_dir}: no tiene {datos.TRANSCRIPTS}. Generá uno con "
             f"`python sintetico.py --out {self.data_dir}` o `python preparar_datos.py`."),
        ]
        problems = [message for ok, message in checks if not ok]
        problems += cirugia.remedy_problems(self.keep_delta, self.merge_pretrained)
        context_problem = contexto.problem(self.audio_context)
        if context_problem:
            problems.append(context_problem)
        elif self.audio_context != contexto.AUTO and self.pack_seconds > int(self.audio_context):
            problems.append(f"--pack-seconds {self.pack_seconds:g} no entra en --audio-context {self.audio_context}: usá "
                            f"--pack-seconds {self.audio_context} o menos (o 0, sin juntar).")
        try:
            speed = aumentos.parse_speed(self.speed_perturb)
        except ValueError as e:
            problems.append(str(e))
        else:
            if speed and self.pack_seconds and self.pack_seconds / speed[0] > CHUNK_LENGTH:
                problems.append(f"--pack-seconds {self.pack_seconds:g} con --speed-perturb {self.speed_perturb}: a "
                                f"velocidad {speed[0]:g} una ventana dura {self.pack_seconds / speed[0]:.1f} s y "
                                f"Whisper corta a los {CHUNK_LENGTH}. Usá --pack-seconds {int(CHUNK_LENGTH * speed[0])} "
                                "o menos.")
        return problems


# --- dataset -----------------------------------------------------------------------------------


class SpeechDataset(Dataset):
    """One split of a data dir: log-mel, decoder input and labels for each usable row.

    Rows whose audio is missing or over 30 s (or over a fixed `audio_context`), or whose tokens exceed the
    decoder's context, are skipped and counted in `self.skipped`. With `pack_seconds` (training only), the
    rows of one speaker are joined into windows of up to that many seconds (empaquetado.py); an item is then
    a window, with its texts joined. Each item is heard in the audio window its context gives it
    (`self.windows`, seconds; contexto.py). With encoder caches (entrenamiento.cache_encoder.EncoderCache,
    one per window, built beforehand), items carry the encoder output as "features" instead of the log-mel.
    With `augment` (aumentos.Augmentation; training only), each read of a clip is perturbed anew.
    """

    def __init__(self, data_dir: str | Path, split: str, tokenizer, n_mels: int, n_text_ctx: int = 448,
                 split_map: dict[str, str] | None = None, sample_rate: int = SAMPLE_RATE,
                 pack_seconds: float = 0.0, seed: int = 0, audio_context: str = contexto.FULL):
        self.data_dir, self.split, self.n_mels, self.sample_rate = Path(data_dir), split, n_mels, sample_rate
        self.tokenizer = tokenizer
        self.caches: dict[int, object] = {}
        self._cache_keys: list[str] = []
        self.augment: aumentos.Augmentation | None = None
        texts = datos.read_transcripts(data_dir)
        if split_map is None:
            split_map, _ = datos.load_or_make_split(data_dir, texts)
        self.skipped = datos.Skipped()
        prefix = list(tokenizer.sot_sequence_including_notimestamps)
        short = audio_context != contexto.FULL
        rows: list[tuple[str, str, list[int], float]] = []  # (id, text, text tokens, seconds; 0 when not needed)
        for utt_id, text in texts.items():
            if split_map.get(utt_id) != split:
                continue
            path = datos.audio_path(data_dir, utt_id)
            problem = datos.text_problem(text) or audio_problem(path)  # nothing to learn from either
            if problem:
                self.skipped.add(problem, utt_id)
                continue
            seconds = sf.info(str(path)).duration if short or pack_seconds else 0.0
            if short and contexto.training_window(audio_context, seconds) is None:
                self.skipped.add(f"audio de más de {audio_context} s (--audio-context {audio_context})", utt_id)
                continue
            tokens = tokenizer.encode(" " + letras.spell_capitals(text))  # one token per plate symbol
            if len(prefix) + len(tokens) + 1 > n_text_ctx:
                self.skipped.add(f"texto de más de {n_text_ctx} tokens", utt_id)
                continue
            rows.append((utt_id, text, tokens, seconds))
        self.utterances = len(rows)
        paths = [datos.audio_path(data_dir, r[0]) for r in rows]
        if pack_seconds:
            # Tokens add up when texts are joined with a space: BPE never merges across one.
            windows = empaquetado.pack([datos.speaker_of(r[0]) for r in rows], [r[3] for r in rows],
                                       [len(r[2]) for r in rows], pack_seconds, n_text_ctx - len(prefix) - 1, seed)
        else:
            windows = [empaquetado.Window((i,), ()) for i in range(len(rows))]
        # (id, text, decoder input, clip): ids and texts of a window joined with "+" and " ".
        self.items: list[tuple[str, str, list[int], empaquetado.Clip]] = [
            ("+".join(rows[i][0] for i in w.members), " ".join(rows[i][1] for i in w.members),
             prefix + [t for i in w.members for t in rows[i][2]], empaquetado.Clip(tuple(paths[i] for i in w.members), w.gaps))
            for w in windows
        ]
        # The window each item is heard in: one packed window is its recordings plus the silences between them.
        self.windows = [contexto.training_window(audio_context, sum(rows[i][3] for i in w.members) + sum(w.gaps))
                        if short else contexto.FULL_SECONDS for w in windows]

    def __len__(self) -> int:
        return len(self.items)

    def token_lengths(self) -> list[int]:
        return [len(tokens) for _, _, tokens, _ in self.items]

    def clips(self) -> list[empaquetado.Clip]:
        return [clip for _, _, _, clip in self.items]

    def clips_by_window(self) -> dict[int, list[empaquetado.Clip]]:
        """The clips each window's encoder cache must hold."""
        groups: dict[int, list[empaquetado.Clip]] = {}
        for window, clip in zip(self.windows, self.clips(), strict=True):
            groups.setdefault(window, []).append(clip)
        return groups

    def use_cache(self, caches: dict) -> None:
        """Serve encoder outputs from `caches` (window seconds -> EncoderCache; every clip must be in its own)."""
        if self.augment:
            raise ValueError("an augmented dataset cannot use the encoder cache: its encoder input changes")
        self._cache_keys = [clip.key() for clip in self.clips()]
        missing = sum(k not in caches[w] for k, w in zip(self._cache_keys, self.windows, strict=True))
        if missing:
            raise ValueError(f"{missing} clips of split {self.split} are not in the encoder cache; build it first")
        self.caches = caches

    def __getitem__(self, index: int) -> dict:
        utt_id, text, tokens, clip = self.items[index]
        window = self.windows[index]
        item = {"id": utt_id, "text": text, "dec_input": tokens, "labels": tokens[1:] + [self.tokenizer.eot]}
        if self.caches:
            item["features"] = self.caches[window].get(self._cache_keys[index])  # (window * 50, n_audio_state)
            return item
        audio = clip.load(self.sample_rate)
        if not self.augment:
            item["mel"] = log_mel(audio, self.n_mels, window)
            return item
        # Drawn from torch's generator: seeded by seed_everything, and per worker and rank by the DataLoader.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
        audio = self.augment.audio(audio, rng, contexto.samples(window))
        item["mel"] = self.augment.mel(log_mel(audio, self.n_mels, window), len(audio), rng)
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
            audio: torch.stack([f[audio] for f in features]),  # mel (B, n_mels, frames) or features (B, frames // 2, d)
            "dec_input": dec_input,  # (B, T)
            "labels": labels,  # (B, T)
            "ids": [f["id"] for f in features],
            "texts": [f["text"] for f in features],
        }



# --- model -------------------------------------------------------------------------------------

# openai-whisper's LayerNorm names: no weight decay on them (nor on any bias).
_NO_DECAY = ("attn_ln", "cross_attn_ln", "mlp_ln", "ln", "ln_post")


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
        # Trained for this audio context: the exports record it, and validation decodes in it (contexto.py).
        contexto.allow_any_length(self.model).audio_context = contexto.normal(self.config.audio_context)
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
        """Batch -> encoder output (B, positions, d). The frozen part comes from the cache ("features": what
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
