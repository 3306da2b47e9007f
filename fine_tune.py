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
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch.utils.data import DataLoader

from cli import SpanishParser, add_options, read_options
from comun import Config, SpeechDataset, WhisperDataCollatorWithPadding, WhisperModelModule, frozen_encoder_blocks
from corpus import datos, kokoro
from entrenamiento import aumentos
from entrenamiento.cache_encoder import EncoderCache
from entrenamiento.muestreo import LengthGroupedSampler, window_batches
from modelo import contexto, pesos
from modelo.cirugia import against_forgetting
from modelo.precision import has_native_bf16


class UsageError(Exception):
    """Bad options or arguments, found before any work: every problem at once (exit 2)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class TrainingError(Exception):
    """A run that cannot go on (data, weights, hardware); the message is Spanish (exit 1)."""


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishParser(
        prog="fine_tune.py",
        description="Reentrena el decoder de Whisper sobre un data dir (español rioplatense). "
                    "Cada opción corresponde a un campo de Config en comun.py.",
        epilog="Ejemplo: python fine_tune.py --data-dir data --model-name base --batch-size 8",
    )
    add_options(parser, Config)
    parser.add_argument("--resume", metavar="CKPT", default=None,
                        help="retomar desde un checkpoint (.ckpt de artifacts/, o 'last' para artifacts/last.ckpt)")
    return parser


def parse_args(argv: list[str] | None) -> tuple[Config, str | None, list[str]]:
    """Command line -> (Config, --resume, every problem with the options, in Spanish)."""
    args, unknown = build_parser().parse_known_args(argv)
    problems = [f"opción desconocida: {u}" for u in unknown if u.startswith("-")]
    problems += [f"argumento suelto: {u}" for u in unknown if not u.startswith("-")]
    config, type_problems = read_options(Config, args)
    return config, args.resume, problems + type_problems


def check(config: Config, resume: str | None, problems: list[str] = ()) -> str | None:
    """The checkpoint to resume from (`last`: artifacts/last.ckpt); a UsageError lists every problem,
    `problems` already found first."""
    problems = [*problems, *config.problems()]
    if resume == "last":
        resume = str(Path(config.artifacts_dir) / "last.ckpt")
    if resume is not None:
        problems += resume_problems(resume)
    if problems:
        raise UsageError(problems)
    return resume


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
            for seconds, clips in self._clips_by_window().items():
                self._cache(seconds).build(self.model.to(device), clips, self.config.batch_size, device)
            self.model.cpu()

    def _clips_by_window(self) -> dict[int, list]:
        groups: dict[int, list] = {}
        for dataset in self.cached:
            for seconds, clips in dataset.clips_by_window().items():
                groups.setdefault(seconds, []).extend(clips)
        return groups

    def _cache(self, seconds: int) -> EncoderCache:
        """Holds what the frozen encoder part computes for one audio window, in the dtype this run's precision
        computes it."""
        return EncoderCache(self.config.data_dir, self.model, frozen_encoder_blocks(self.config, self.model),
                            autocast_dtype(str(self.trainer.precision)), seconds)

    def setup(self, stage: str) -> None:
        if self.cached:
            caches = {seconds: self._cache(seconds) for seconds in self._clips_by_window()}
            for dataset in self.cached:
                dataset.use_cache(caches)

    def _loader(self, dataset: SpeechDataset, **kwargs) -> DataLoader:
        return DataLoader(dataset, batch_size=self.config.batch_size, num_workers=self.config.num_worker,
                          collate_fn=self.collate, persistent_workers=self.config.num_worker > 0, **kwargs)

    def train_dataloader(self) -> DataLoader:
        short = self.config.audio_context != contexto.FULL  # a batch must hold clips of one window
        if not self.config.group_by_length and not short:
            return self._loader(self.train_set, shuffle=True, generator=torch.Generator().manual_seed(self.config.seed))
        lengths = self.train_set.token_lengths() if self.config.group_by_length else [0] * len(self.train_set)
        sampler = LengthGroupedSampler(lengths, self.config.batch_size, self.trainer.world_size,
                                       self.trainer.global_rank, self.config.seed,
                                       groups=self.train_set.windows if short else None)
        return self._loader(self.train_set, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        if self.config.audio_context == contexto.FULL:
            return self._loader(self.val_set)
        batches = window_batches(self.val_set.windows, self.config.batch_size)
        mine = batches[self.trainer.global_rank :: self.trainer.world_size]  # under DDP each rank its own batches
        return DataLoader(self.val_set, batch_sampler=mine,
                          num_workers=self.config.num_worker, collate_fn=self.collate,
                          persistent_workers=self.config.num_worker > 0)


def setup(config: Config) -> tuple[WhisperModelModule, Batches]:
    pl.seed_everything(config.seed, workers=True)
    model = pesos.load_whisper(config.model_name)
    if config.train_encoder_blocks > model.dims.n_audio_layer:
        n = model.dims.n_audio_layer
        raise UsageError([f"--train-encoder-blocks {config.train_encoder_blocks}: el encoder de {config.model_name} "
                          f"tiene {n} {'bloque' if n == 1 else 'bloques'}. Usá un valor entre 0 y {n}."])
    module = WhisperModelModule(config, model)
    texts = datos.read_transcripts(config.data_dir)
    split, created = datos.load_or_make_split(config.data_dir, texts, seed=config.seed,
                                              val_fraction=config.val_fraction, test_fraction=config.test_fraction)
    if created:
        say(f"Partición nueva (por hablante y por frase) escrita en {Path(config.data_dir) / datos.SPLIT}.")
    held_out = kokoro.evaluation_only(u for u, part in split.items() if part in ("train", "val"))
    if held_out:  # their styles measure how the model does on a voice it never heard
        raise UsageError([f"{config.data_dir}: {len(held_out)} frase(s) de entrenamiento o validación con una voz de "
                          f"Kokoro que es solo para evaluar ({', '.join(kokoro.EVAL_STYLES)}), p. ej. {held_out[0]}. "
                          f"Sintetizá el entrenamiento con --voices entrenamiento."])
    summary = datos.split_summary(texts, split)
    say("Partición: " + ", ".join(f"{name} {summary[name]['utterances']} frases / {summary[name]['speakers']} hablantes"
                                  for name in (*datos.SPLITS, datos.EXCLUDED)))
    n_mels, n_ctx = module.model.dims.n_mels, module.model.dims.n_text_ctx
    train = SpeechDataset(config.data_dir, "train", module.tokenizer, n_mels, n_ctx, split, config.sample_rate,
                          config.pack_seconds, config.seed, config.audio_context)
    if config.pack_seconds and len(train):
        say(f"Empaquetado: {train.utterances} frases de entrenamiento en {len(train)} ventanas de hasta "
            f"{config.pack_seconds:g} s ({train.utterances / len(train):.1f} por ventana).")
    val = SpeechDataset(config.data_dir, "val", module.tokenizer, n_mels, n_ctx, split, config.sample_rate,
                        audio_context=config.audio_context)
    for dataset in (train, val):
        if dataset.skipped.counts:
            say(f"Aviso: {dataset.split}: se omitieron {sum(dataset.skipped.counts.values())} frases: {dataset.skipped.report()}")
    if len(train) == 0:
        why = f" Se omitieron {train.skipped.report()}." if train.skipped.counts else ""
        raise TrainingError(f"{config.data_dir} no tiene frases de entrenamiento utilizables.{why}")
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
    (training, plus each epoch's validation spread over its steps) and sets max_steps to what still fits,
    never above the steps asked for. The module's LR schedule reads the new total, so a slow machine trains
    fewer steps that still end at a rate of 0. The plan moves both ways: the first steps are the slowest
    (cold caches), and a plan that could only go down stayed at their pace (measured: 606 steps planned,
    training over 5 minutes early)."""

    def __init__(self, minutes: float):
        self.deadline = time.perf_counter() + 60 * minutes  # built before trainer.fit: the cache counts too
        self.first: tuple[int, float] | None = None  # the first step pays for warm-up: measured from its end
        self.val_seconds, self.validations, self._val_start = 0.0, 0, 0.0
        self.planned: int | None = None
        self.ceiling: int | None = None  # the steps asked for (--max-steps or the epochs')

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
        # Out of time: stop after this step (never "one more", which a plan that may rise would repeat forever).
        fits = int(trainer.strategy.broadcast(max(fits, step), src=0))  # every rank stops at the same step
        if self.ceiling is None:
            self.ceiling = pl_module.total_steps
        fits = min(fits, self.ceiling)
        if fits == pl_module.total_steps:
            return
        if self.planned is None:
            say(f"\nTope de tiempo: a este ritmo entran {fits} de los {self.ceiling} pasos (se recalcula en cada "
                "paso); la tasa de aprendizaje baja a 0 en el último.")
        pl_module.total_steps = trainer.fit_loop.epoch_loop.max_steps = self.planned = fits

    def on_train_end(self, trainer, pl_module) -> None:
        if self.planned is not None:
            say(f"Tope de tiempo: se entrenaron {trainer.global_step} pasos.")


def resume_problems(path: str) -> list[str]:
    """Why `--resume path` cannot work, found before the encoder cache is built (reads the file once, safely)."""
    if not Path(path).is_file():
        return [f"--resume: no existe el checkpoint {path}"]
    try:
        checkpoint = pesos.read_checkpoint(path, lazy=True)
    except pesos.WeightsError as e:
        return [f"--resume: {e}"]
    missing = [k for k in ("state_dict", "whisper_dims", "loops", "optimizer_states") if k not in checkpoint]
    if missing:
        return [f"--resume: {path} no es un checkpoint de entrenamiento de fine_tune.py (le falta {', '.join(missing)}); "
                f"para empezar desde un .pt usá --model-name {path}"]
    return []


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
        raise TrainingError(f"Lightning no acepta --accelerator {config.accelerator} --devices {config.devices} "
                            f"--strategy {config.strategy} en esta máquina: {e}") from None
    trainer.fit(module, datamodule=data, ckpt_path=resume, weights_only=True)  # nothing in the .ckpt runs
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
        # Our samplers place batches of one audio window on each rank themselves (contexto.py): a short context
        # keeps Lightning from replacing them.
        use_distributed_sampler=config.audio_context == contexto.FULL,
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


def run(config: Config, resume: str | None = None) -> dict[str, Path]:
    """The whole run: check -> setup -> fit -> export. Returns the exported models (none on ranks other
    than 0 under DDP). Raises UsageError (bad options) or TrainingError (data, weights, hardware)."""
    resume = check(config, resume)
    try:
        module, data = setup(config)
        if rank_zero_only.rank == 0:  # only once data and weights are known good: a failed start keeps the last run's
            Path(config.artifacts_dir).mkdir(parents=True, exist_ok=True)
            (Path(config.artifacts_dir) / "config.json").write_text(json.dumps(config.to_dict(), indent=2, ensure_ascii=False))
        trainer = fit(config, module, data, resume)  # the encoder cache is built inside, in Batches.prepare_data
    except (datos.DataDirError, pesos.WeightsError) as e:
        raise TrainingError(str(e)) from None
    if not trainer.is_global_zero:
        return {}
    exported = export(config, module, trainer)
    print(f"Listo. Checkpoints en {config.artifacts_dir}/, TensorBoard en {config.log_dir}/ "
          f"(tensorboard --logdir {config.log_dir}). Modelos exportados: "
          + ", ".join(f"{k}: {v}" for k, v in exported.items()))
    return exported


def main(argv: list[str] | None = None) -> int:
    config, resume, problems = parse_args(argv)
    try:
        run(config, check(config, resume, problems))
    except UsageError as e:
        build_parser().print_usage(sys.stderr)
        print("fine_tune.py: hay problemas con las opciones:\n  - " + "\n  - ".join(e.problems), file=sys.stderr)
        return 2
    except TrainingError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
