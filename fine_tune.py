"""Fine-tune Whisper on a data dir: `python fine_tune.py --data-dir data`.

Reads top to bottom: parse the command line into a Config -> setup (model, data) -> fit (Lightning,
a checkpoint per epoch in artifacts/, TensorBoard in tensor_logs/) -> export the best and the last
epoch as OpenAI-format `.pt` files that `whisper.load_model(path)` reads.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import typing
from dataclasses import fields
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch.utils.data import DataLoader
from whisper.audio import CHUNK_LENGTH

import aumentos
import datos
import pesos
from cache_encoder import EncoderCache
from cli import SpanishParser
from comun import (
    FREEZE_POLICIES,
    Config,
    SpeechDataset,
    WhisperDataCollatorWithPadding,
    WhisperModelModule,
    against_forgetting,
    frozen_encoder_blocks,
    has_native_bf16,
)
from muestreo import LengthGroupedSampler

HELP = {
    "learning_rate": "tasa de aprendizaje máxima de AdamW",
    "weight_decay": "weight decay de AdamW (no se aplica a biases ni LayerNorm)",
    "adam_epsilon": "epsilon de AdamW",
    "warmup_steps": "pasos de calentamiento lineal (-1: un décimo del total)",
    "batch_size": "ejemplos por lote",
    "num_worker": "procesos que cargan audio",
    "num_train_epochs": "épocas de entrenamiento",
    "gradient_accumulation_steps": "lotes acumulados por paso del optimizador",
    "sample_rate": "frecuencia de muestreo del audio (Whisper usa 16000)",
    "model_name": "modelo inicial: nombre oficial (tiny, base, small…), .pt, .ckpt o directorio CTranslate2",
    "data_dir": "data dir: audios/ + transcripciones.tsv (+ particion.tsv opcional)",
    "artifacts_dir": "dónde guardar checkpoints y modelos exportados",
    "log_dir": "dónde guardar los logs de TensorBoard",
    "max_steps": "tope de pasos del optimizador (-1: sin tope)",
    "max_minutes": "tope de tiempo en minutos para la caché del encoder y el entrenamiento (0: sin tope). Tras unos "
                   "pasos mide cuánto tarda cada uno y baja los pasos a los que entran; la tasa de aprendizaje "
                   "igual llega a 0 en el último",
    "seed": "semilla (datos, partición e inicialización)",
    "language": "idioma de las transcripciones",
    "freeze": "qué se congela: encoder (todo el encoder + embedding de tokens), conv (solo el frente convolucional + embedding), none",
    "train_encoder_blocks": "con --freeze encoder: cuántos bloques de arriba del encoder se entrenan también (0: ninguno). "
                            "Adaptan la acústica a voces nuevas; la caché guarda lo que entra a esos bloques",
    "precision": "auto (bf16/16-mixed en CUDA; en CPU bf16-mixed si el procesador tiene bf16 nativo, si no 32) "
                 "o una precisión de Lightning (32-true, bf16-mixed, 16-mixed)",
    "gradient_clip_val": "recorte de la norma del gradiente (0: sin recorte)",
    "val_fraction": "fracción de validación al crear particion.tsv",
    "test_fraction": "fracción de test al crear particion.tsv",
    "val_decode_max": "frases de validación que se decodifican para medir WER/CER (0: ninguna; 'mejor' se elige "
                      "entonces por val/loss)",
    "accelerator": "auto, cpu o gpu",
    "devices": "dispositivos: un número, una lista (0,1) o auto",
    "strategy": "estrategia de Lightning: auto, ddp, fsdp…",
    "log_every_n_steps": "cada cuántos pasos se escribe en TensorBoard",
    "distill_weight": "contra el olvido: peso del KL hacia el decoder preentrenado (0: desactivado)",
    "l2sp_weight": "contra el olvido: peso de la distancia L2 a los pesos iniciales (0: desactivado)",
    "merge_pretrained": "contra el olvido: fracción de los pesos preentrenados mezclada en los modelos exportados "
                        "(.pt), 0 = solo afinado, 0.5 = mitad y mitad (WiSE-FT); los .ckpt quedan sin mezclar",
    "keep_delta": "contra el olvido: fracción de los cambios de cada tensor que quedan en los modelos exportados "
                  "(.pt), los más grandes; el resto vuelve al preentrenado (TIES). 1 = todos, 0.2 = la demo; se "
                  "aplica antes de --merge-pretrained y los .ckpt quedan como se entrenaron",
    "cache_encoder": "1: la salida del encoder congelado se calcula una vez y se guarda junto a los datos; 0: se recalcula en cada paso",
    "pack_seconds": "junta respuestas de entrenamiento del mismo hablante en ventanas de hasta S segundos (máx. 30; "
                    "0: una por audio). Whisper escucha siempre 30 s: con respuestas cortas cada paso aprende de ~3 "
                    "veces más frases por el mismo costo. La validación nunca se junta",
    "group_by_length": "1: lotes de frases de largo parecido, con poco relleno en el decoder (otro orden en cada época); "
                       "0: orden al azar",
    "specaugment": "1: máscaras SpecAugment de frecuencia y de tiempo sobre el log-mel. Los aumentos son solo para "
                   "entrenamiento y cualquiera apaga ahí la caché del encoder",
    "speed_perturb": "aumento: velocidad al azar entre MIN y MAX, p. ej. 0.9,1.1 (por defecto vacío: sin cambio de velocidad)",
    "noise_snr": "aumento: ruido blanco con esta relación señal/ruido en dB, p. ej. 20 (0: sin ruido)",
}
PRECISIONS = ("auto", "32-true", "32", "bf16-mixed", "16-mixed", "bf16-true")


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishParser(
        prog="fine_tune.py",
        description="Reentrena el decoder de Whisper sobre un data dir (español rioplatense). "
                    "Cada opción corresponde a un campo de Config en comun.py.",
        epilog="Ejemplo: python fine_tune.py --data-dir data --model-name base --batch-size 8",
    )
    defaults = Config()
    for f in fields(Config):
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=getattr(defaults, f.name),
                            metavar=f.name.upper(), help=HELP[f.name])
    parser.add_argument("--resume", metavar="CKPT", default=None,
                        help="retomar desde un checkpoint (.ckpt de artifacts/, o 'last' para artifacts/last.ckpt)")
    return parser


def parse_args(argv: list[str] | None) -> tuple[Config, str | None]:
    """Command line -> Config; every bad option is reported at once, in Spanish, then exit 2."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    problems = [f"opción desconocida: {u}" for u in unknown if u.startswith("-")]
    problems += [f"argumento suelto: {u}" for u in unknown if not u.startswith("-")]
    values = {}
    hints = typing.get_type_hints(Config)
    for f in fields(Config):
        raw, kind = getattr(args, f.name), hints[f.name]
        try:
            values[f.name] = kind(raw)
        except (TypeError, ValueError):
            kind_name = {int: "un entero", float: "un número"}.get(kind, kind.__name__)
            problems.append(f"--{f.name.replace('_', '-')}: se esperaba {kind_name}, no {raw!r}")
    config = Config(**{k: v for k, v in values.items()})
    checks = [
        (values.get("learning_rate", 1) > 0, "--learning-rate debe ser positivo"),
        (values.get("batch_size", 1) >= 1, "--batch-size debe ser al menos 1"),
        (values.get("num_train_epochs", 1) >= 1, "--num-train-epochs debe ser al menos 1"),
        (values.get("gradient_accumulation_steps", 1) >= 1, "--gradient-accumulation-steps debe ser al menos 1"),
        (values.get("num_worker", 0) >= 0, "--num-worker no puede ser negativo"),
        (values.get("max_steps", -1) == -1 or values.get("max_steps", -1) >= 1, "--max-steps debe ser -1 o positivo"),
        (values.get("max_minutes", 0) >= 0, "--max-minutes no puede ser negativo (0: sin tope)"),
        (values.get("val_decode_max", 0) >= 0, "--val-decode-max no puede ser negativo (0: no decodifica)"),
        (values.get("distill_weight", 0) >= 0 and values.get("l2sp_weight", 0) >= 0,
         "--distill-weight y --l2sp-weight no pueden ser negativos"),
        (0 <= values.get("merge_pretrained", 0) <= 1, "--merge-pretrained tiene que estar entre 0 y 1"),
        (0 < values.get("keep_delta", 1) <= 1, "--keep-delta tiene que ser mayor que 0 y como mucho 1 (1: todos los cambios)"),
        (values.get("cache_encoder", 1) in (0, 1), "--cache-encoder debe ser 0 o 1"),
        (values.get("group_by_length", 1) in (0, 1), "--group-by-length debe ser 0 o 1"),
        (values.get("pack_seconds", 0) == 0 or 1 <= values.get("pack_seconds", 0) <= CHUNK_LENGTH,
         f"--pack-seconds debe ser 0 (sin juntar) o estar entre 1 y {CHUNK_LENGTH} (la ventana de Whisper)"),
        (values.get("specaugment", 0) in (0, 1), "--specaugment debe ser 0 o 1"),
        (values.get("noise_snr", 0) >= 0, "--noise-snr no puede ser negativo (0: sin ruido)"),
        (values.get("freeze") in FREEZE_POLICIES, f"--freeze debe ser uno de {', '.join(FREEZE_POLICIES)}"),
        (values.get("train_encoder_blocks", 0) >= 0, "--train-encoder-blocks no puede ser negativo"),
        (values.get("train_encoder_blocks", 0) == 0 or values.get("freeze") == "encoder",
         "--train-encoder-blocks va con --freeze encoder (con conv o none el encoder ya se entrena entero)"),
        (values.get("precision") in PRECISIONS, f"--precision debe ser uno de {', '.join(PRECISIONS)}"),
        (0 <= values.get("val_fraction", 0) + values.get("test_fraction", 0) < 1,
         "--val-fraction + --test-fraction debe estar entre 0 y 1"),
        ((Path(config.data_dir) / datos.TRANSCRIPTS).is_file(),
         f"--data-dir {config.data_dir}: no tiene {datos.TRANSCRIPTS}. Generá uno con "
         f"`python sintetico.py --out {config.data_dir}` o `python preparar_datos.py`."),
    ]
    problems += [message for ok, message in checks if not ok]
    try:
        speed = aumentos.parse_speed(config.speed_perturb)
    except ValueError as e:
        problems.append(str(e))
    else:
        if speed and config.pack_seconds and config.pack_seconds / speed[0] > CHUNK_LENGTH:
            problems.append(f"--pack-seconds {config.pack_seconds:g} con --speed-perturb {config.speed_perturb}: a "
                            f"velocidad {speed[0]:g} una ventana dura {config.pack_seconds / speed[0]:.1f} s y Whisper "
                            f"corta a los {CHUNK_LENGTH}. Usá --pack-seconds {int(CHUNK_LENGTH * speed[0])} o menos.")
    resume = args.resume
    if resume == "last":
        resume = str(Path(config.artifacts_dir) / "last.ckpt")
    if resume is not None and not Path(resume).is_file():
        problems.append(f"--resume: no existe el checkpoint {resume}")
    if problems:
        parser.print_usage(sys.stderr)
        print("fine_tune.py: hay problemas con las opciones:\n  - " + "\n  - ".join(problems), file=sys.stderr)
        sys.exit(2)
    return config, resume


def resolve_precision(config: Config) -> str:
    if config.precision != "auto":
        return config.precision
    if torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda"):
        return "bf16-mixed" if has_native_bf16("cuda") else "16-mixed"
    return "bf16-mixed" if has_native_bf16("cpu") else "32-true"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype a Lightning precision runs the forward pass in (None: full precision)."""
    return {"bf16-mixed": torch.bfloat16, "bf16-true": torch.bfloat16, "16-mixed": torch.float16}.get(precision)


say = rank_zero_only(print)  # under DDP every rank runs this file; rank 0 alone talks


class Batches(pl.LightningDataModule):
    """The data side of a run, in Lightning's hooks so that it holds under DDP.

    prepare_data runs on local rank 0 while the other ranks wait at a barrier: the encoder cache is built
    once, never by two processes at a time. setup then attaches it on every rank. The training loader is
    made once Lightning knows the ranks, so each rank gets its own share of the length-grouped batches.
    """

    def __init__(self, config: Config, model, train: SpeechDataset, val: SpeechDataset, cached: list[SpeechDataset]):
        super().__init__()
        self.config, self.model, self.train_set, self.val_set, self.cached = config, model, train, val, cached
        self.collate = WhisperDataCollatorWithPadding(train.tokenizer.eot)

    def prepare_data(self) -> None:
        if self.cached:
            device = self.trainer.strategy.root_device
            clips = [clip for dataset in self.cached for clip in dataset.clips()]
            self._cache().build(self.model.to(device), clips, self.config.batch_size, device)
            self.model.cpu()

    def _cache(self) -> EncoderCache:
        """Holds what the frozen encoder part computes, in the dtype this run's precision computes it."""
        return EncoderCache(self.config.data_dir, self.model, frozen_encoder_blocks(self.config, self.model),
                            autocast_dtype(str(self.trainer.precision)))

    def setup(self, stage: str) -> None:
        if self.cached:
            cache = self._cache()
            for dataset in self.cached:
                dataset.use_cache(cache)

    def _loader(self, dataset: SpeechDataset, **kwargs) -> DataLoader:
        return DataLoader(dataset, batch_size=self.config.batch_size, num_workers=self.config.num_worker,
                          collate_fn=self.collate, persistent_workers=self.config.num_worker > 0, **kwargs)

    def train_dataloader(self) -> DataLoader:
        if not self.config.group_by_length:
            return self._loader(self.train_set, shuffle=True, generator=torch.Generator().manual_seed(self.config.seed))
        sampler = LengthGroupedSampler(self.train_set.token_lengths(), self.config.batch_size,
                                       self.trainer.world_size, self.trainer.global_rank, self.config.seed)
        return self._loader(self.train_set, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)


def setup(config: Config) -> tuple[WhisperModelModule, Batches]:
    pl.seed_everything(config.seed, workers=True)
    model = pesos.load_whisper(config.model_name)
    if config.train_encoder_blocks > model.dims.n_audio_layer:
        n = model.dims.n_audio_layer
        print(f"Error: --train-encoder-blocks {config.train_encoder_blocks}: el encoder de {config.model_name} tiene "
              f"{n} {'bloque' if n == 1 else 'bloques'}. Usá un valor entre 0 y {n}.", file=sys.stderr)
        sys.exit(2)
    module = WhisperModelModule(config, model)
    texts = datos.read_transcripts(config.data_dir)
    split, created = datos.load_or_make_split(config.data_dir, texts, seed=config.seed,
                                              val_fraction=config.val_fraction, test_fraction=config.test_fraction)
    if created:
        say(f"Partición nueva (por hablante y por frase) escrita en {Path(config.data_dir) / datos.SPLIT}.")
    summary = datos.split_summary(texts, split)
    say("Partición: " + ", ".join(f"{name} {summary[name]['utterances']} frases / {summary[name]['speakers']} hablantes"
                                  for name in (*datos.SPLITS, datos.EXCLUDED)))
    n_mels, n_ctx = module.model.dims.n_mels, module.model.dims.n_text_ctx
    train = SpeechDataset(config.data_dir, "train", module.tokenizer, n_mels, n_ctx, split, config.sample_rate,
                          config.pack_seconds, config.seed)
    if config.pack_seconds and len(train):
        say(f"Empaquetado: {train.utterances} frases de entrenamiento en {len(train)} ventanas de hasta "
            f"{config.pack_seconds:g} s ({train.utterances / len(train):.1f} por ventana).")
    val = SpeechDataset(config.data_dir, "val", module.tokenizer, n_mels, n_ctx, split, config.sample_rate)
    for dataset in (train, val):
        if dataset.skipped.counts:
            say(f"Aviso: {dataset.split}: se omitieron {sum(dataset.skipped.counts.values())} frases: {dataset.skipped.report()}")
    if len(train) == 0:
        print(f"Error: {config.data_dir} no tiene frases de entrenamiento utilizables.", file=sys.stderr)
        sys.exit(1)
    if len(val) == 0:
        say("Aviso: no hay frases de validación (pocos hablantes): se entrena sin medir WER; 'mejor' = última época.")
    augment = aumentos.Augmentation(bool(config.specaugment), aumentos.parse_speed(config.speed_perturb),
                                    config.noise_snr or None)
    train.augment = augment or None  # validation is never augmented
    cached = []
    if config.cache_encoder and config.freeze == "encoder":
        cached = [val] if augment else [train, val]
        if augment:
            say(f"Caché del encoder apagada para el entrenamiento: los aumentos ({augment.describe()}) cambian la "
                "entrada del encoder en cada paso" + ("; la validación, sin aumentos, la sigue usando." if len(val) else "."))
    elif config.cache_encoder:
        say(f"Caché del encoder desactivada: con --freeze {config.freeze} el encoder se entrena y su salida cambia.")
    return module, Batches(config, module.model, train, val, cached)


class TimeBudget(pl.Callback):
    """Keeps fit (encoder cache + steps) inside `minutes`: at each step it estimates the seconds per step
    (training, plus each epoch's validation spread over its steps) and lowers max_steps (never raises it)
    to what still fits. The module's LR schedule reads the new total, so a slow machine trains fewer
    steps that still end at a rate of 0."""

    def __init__(self, minutes: float):
        self.deadline = time.perf_counter() + 60 * minutes  # built before trainer.fit: the cache counts too
        self.first: tuple[int, float] | None = None  # the first step pays for warm-up: measured from its end
        self.val_seconds, self.validations, self._val_start = 0.0, 0, 0.0
        self.planned: int | None = None

    def on_validation_start(self, trainer, pl_module) -> None:
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if self.first is not None and not trainer.sanity_checking:
            self.val_seconds += time.perf_counter() - self._val_start
            self.validations += 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step, now = trainer.global_step, time.perf_counter()
        if self.first is None:
            self.first = (step, now)
            return
        done = step - self.first[0]
        if done < 3:
            return
        per_step = (now - self.first[1] - self.val_seconds) / done
        if self.validations:
            steps_per_epoch = max(trainer.num_training_batches // trainer.accumulate_grad_batches, 1)
            per_step += self.val_seconds / self.validations / steps_per_epoch
        fits = step + int((self.deadline - now) / per_step)
        fits = int(trainer.strategy.broadcast(max(fits, step + 1), src=0))  # every rank stops at the same step
        if fits >= pl_module.total_steps:
            return
        if self.planned is None:
            say(f"\nTope de tiempo: a este ritmo entran {fits} de los {pl_module.total_steps} pasos; "
                "la tasa de aprendizaje baja a 0 en el último.")
        pl_module.total_steps = trainer.fit_loop.epoch_loop.max_steps = self.planned = fits

    def on_train_end(self, trainer, pl_module) -> None:
        if self.planned is not None:
            say(f"Tope de tiempo: se entrenaron {trainer.global_step} pasos.")


def fit(config: Config, module: WhisperModelModule, data: Batches, resume: str | None) -> pl.Trainer:
    artifacts = Path(config.artifacts_dir)
    has_val = len(data.val_set) > 0
    per_epoch = ModelCheckpoint(dirpath=artifacts, filename="epoch-{epoch:02d}", auto_insert_metric_name=False,
                                save_top_k=-1, every_n_epochs=1, save_last=True)
    callbacks = [per_epoch, LearningRateMonitor(logging_interval="step")]
    if config.max_minutes:
        callbacks.append(TimeBudget(config.max_minutes))
    if has_val:
        monitor = "val/wer" if config.val_decode_max else "val/loss"  # no decoding, no WER to pick by
        callbacks.append(ModelCheckpoint(dirpath=artifacts, filename="best", monitor=monitor, mode="min", save_top_k=1))
    devices = int(config.devices) if config.devices.isdigit() else config.devices
    try:
        trainer = make_trainer(config, devices, callbacks, has_val)
    except (ValueError, TypeError, MisconfigurationException) as e:  # e.g. fsdp on CPU, gpu on a machine without one
        print(f"Error: Lightning no acepta --accelerator {config.accelerator} --devices {config.devices} --strategy "
              f"{config.strategy} en esta máquina: {e}", file=sys.stderr)
        sys.exit(1)
    trainer.fit(module, datamodule=data, ckpt_path=resume)
    return trainer


def make_trainer(config: Config, devices, callbacks: list, has_val: bool) -> pl.Trainer:
    return pl.Trainer(
        default_root_dir=Path(config.artifacts_dir),
        max_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        accelerator=config.accelerator,
        devices=devices,
        strategy=config.strategy,
        precision=resolve_precision(config),
        accumulate_grad_batches=config.gradient_accumulation_steps,
        gradient_clip_val=config.gradient_clip_val or None,
        logger=TensorBoardLogger(config.log_dir, name="whisper"),
        callbacks=callbacks,
        log_every_n_steps=config.log_every_n_steps,
        limit_val_batches=1.0 if has_val else 0,
        num_sanity_val_steps=0,
    )


def export(config: Config, module: WhisperModelModule, trainer: pl.Trainer) -> dict[str, Path]:
    """The last epoch and the best one by validation WER as `.pt` files for `whisper.load_model`.

    Against forgetting (the .ckpt files stay as trained): with --keep-delta q only the largest q of each
    tensor's changes stay, then with --merge-pretrained w the exports are (1 - w) * that + w * pretrained.
    """
    artifacts = Path(config.artifacts_dir)
    best = [c for c in trainer.checkpoint_callbacks if c.monitor and c.best_model_path]
    models = {"ultimo": module.model, "mejor": pesos.load_whisper(best[0].best_model_path) if best else module.model}
    pretrained = pesos.load_whisper(config.model_name) if config.merge_pretrained or config.keep_delta < 1 else None
    exported = {}
    for name, model in models.items():
        if pretrained is not None:
            model = copy.deepcopy(model)
            against_forgetting(model, pretrained, config.keep_delta, config.merge_pretrained)
        exported[name] = pesos.save_whisper(model, artifacts / f"modelo-{name}.pt")
    return exported


def main(argv: list[str] | None = None) -> None:
    config, resume = parse_args(argv)
    if rank_zero_only.rank == 0:
        Path(config.artifacts_dir).mkdir(parents=True, exist_ok=True)
        (Path(config.artifacts_dir) / "config.json").write_text(json.dumps(config.to_dict(), indent=2, ensure_ascii=False))
    try:
        module, data = setup(config)
        trainer = fit(config, module, data, resume)  # the encoder cache is built inside, in Batches.prepare_data
    except (datos.DataDirError, pesos.WeightsError) as e:
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(1)
    if trainer.is_global_zero:
        exported = export(config, module, trainer)
        print(f"Listo. Checkpoints en {config.artifacts_dir}/, TensorBoard en {config.log_dir}/ "
              f"(tensorboard --logdir {config.log_dir}). Modelos exportados: "
              + ", ".join(f"{k}: {v}" for k, v in exported.items()))


if __name__ == "__main__":
    main()
