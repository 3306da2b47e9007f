"""The main job on an embedded default, offline and on CPU: `python demo.py` (or `make demo`).

1. sintetico.py: a training corpus spoken by espeak-ng voices and (with --motor ambos, the default) a share
   of Kokoro's neural voices, in varied rooms, timbres and entrance noises; two test corpora spoken by
   *other* voices with phrasings the training never saw: held-out espeak-ng voices, and Kokoro's
   evaluation-only styles (tebukuro, kumo), which no training corpus ever uses;
2. ref_test.py: the pretrained base on both test corpora (first, so their time is known);
3. fine_tune.py: the bundled Whisper base, decoder and top encoder blocks retrained with a short audio
   context (each answer in a window of 10-30 s instead of Whisper's 30 s; answers of one voice packed
   into 10 s windows), for as many steps as fit the --minutos budget on this machine (machines differ
   by 2-3x; the budget, not the step count, is the promise);
4. ref_test.py: the fine-tuned model on the same test corpora, side by side with base;
5. only with --habla-real DIR (real human speech, e.g. ../shared/audio/real_es): the same pair on it,
   to see forgetting. Off by default, to keep the demo inside its budget; `make olvido` runs it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import fine_tune
import ref_test
from cli import SpanishParser
from comun import Config
from corpus import datos, sintetico
from modelo import contexto, pesos

TARGET_WER_RATIO = 0.5  # fine-tuned WER at most half of the pretrained model's
TARGET_SLOTS = 0.8  # all three slots right, from audio
# On the neural voices the training never heard (issue 24): closer to how people sound.
TARGET_SLOTS_KOKORO = 0.85
TARGET_PLATE_KOKORO = 0.8  # plate right, among the answers that say one
MAX_FORGETTING = 0.02  # WER points the fine-tuned model may lose on real speech
# The fine-tuned model's pass over the test, in units of base's measured one (it loops less, but its
# load and a slower machine state are not free), and what exports and reports take after training.
FINETUNED_EVAL_FACTOR = 1.0
MARGIN_MINUTES = 1.0
MIN_TRAIN_MINUTES = 3.0


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishParser(prog="demo.py", description="Demo offline: voz sintética → fine-tuning de Whisper base → ref_test.")
    parser.add_argument("--datos", default="data/demo", help="dónde generar los corpus sintéticos")
    parser.add_argument("--artifacts-dir", default="artifacts/demo", help="checkpoints, modelos y reporte")
    parser.add_argument("--log-dir", default="tensor_logs/demo", help="logs de TensorBoard")
    parser.add_argument("--n-train", type=int, default=1600, help="respuestas de entrenamiento")
    parser.add_argument("--n-test", type=int, default=60,
                        help="audios de cada corpus de prueba (otras voces y formulaciones): espeak-ng y Kokoro")
    parser.add_argument("--motor", choices=("espeak", "ambos"), default="ambos",
                        help="quién dice el corpus de entrenamiento: ambos (por defecto: espeak-ng y las voces "
                             "neuronales de Kokoro de entrenamiento) o solo espeak-ng")
    parser.add_argument("--parte-kokoro", type=float, default=0.1, metavar="F",
                        help="con --motor ambos, la fracción del entrenamiento que dice Kokoro (por defecto 0.1: "
                             "Kokoro tarda unas 10 veces más que espeak-ng por audio)")
    parser.add_argument("--acustica", choices=sintetico.ACOUSTICS, default="variada",
                        help="variada (por defecto): salas con eco, timbres corridos y ruidos de entrada en todos los "
                             "corpus; limpia: la voz sola")
    parser.add_argument("--general-fraction", type=float, default=0.3,
                        help="fracción de frases generales en el entrenamiento (contra el olvido)")
    parser.add_argument("--pack-seconds", type=float, default=10.0,
                        help="respuestas de una misma voz juntas en ventanas de hasta S segundos (0: una por audio; con "
                             "--audio-context 30, 28)")
    parser.add_argument("--audio-context", default=contexto.AUTO, metavar="S",
                        help="segundos de audio que escucha el encoder al entrenar y al evaluar: auto (por defecto: la "
                             "ventana más chica de 10/15/20/30 s que entra), un número, o 30 (Whisper tal cual; ver "
                             "README, Contexto de audio)")
    parser.add_argument("--max-steps", type=int, default=600,
                        help="pasos de entrenamiento (en una máquina lenta, el tope de tiempo puede dejar menos). "
                             "Más pasos olvidan más: 835 pasos dieron +3,3 puntos de WER en habla real, 606 +1,5")
    parser.add_argument("--minutos", type=float, default=25,
                        help="tope de tiempo de toda la demo: el entrenamiento hace los pasos que entran en lo que "
                             "queda (en una máquina lenta, menos de --max-steps); 0: sin tope, siempre --max-steps")
    parser.add_argument("--batch-size", type=int, default=8, help="ejemplos por lote")
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="tasa de aprendizaje máxima")
    parser.add_argument("--train-encoder-blocks", type=int, default=2,
                        help="bloques de arriba del encoder que se entrenan junto con el decoder (adaptan la acústica "
                             "a voces nuevas; 0: solo el decoder, lo más rápido)")
    parser.add_argument("--distill-weight", type=float, default=0.0,
                        help="contra el olvido: peso del KL hacia el decoder preentrenado (ver README)")
    parser.add_argument("--keep-delta", type=float, default=0.13,
                        help="contra el olvido: fracción de los cambios de cada tensor (los más grandes) que quedan en "
                             "el modelo exportado; el resto vuelve al preentrenado (TIES; ver README)")
    parser.add_argument("--merge-pretrained", type=float, default=0.0,
                        help="contra el olvido: fracción de los pesos preentrenados mezclada en el modelo exportado, "
                             "después de --keep-delta (WiSE-FT; ver README)")
    parser.add_argument("--beam-size", type=int, default=1, metavar="N",
                        help="búsqueda en haz al evaluar los dos modelos (por defecto 1, greedy: con 5, como ref_test.py, "
                             "cada evaluación tarda el doble y el tope de tiempo deja menos pasos de entrenamiento)")
    parser.add_argument("--seed", type=int, default=0, help="semilla")
    parser.add_argument("--habla-real", default=None, metavar="DIR",
                        help="carpeta con manifest.tsv de habla real (p. ej. ../shared/audio/real_es) para medir "
                             "también el olvido (unos 3 min más); sin esto, `make olvido` lo mide después")
    return parser


def step(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.perf_counter()


def training_config(args: argparse.Namespace, minutes: float = 0.0) -> Config:
    """The fine-tuning run of the demo, on the training corpus it synthesises."""
    return Config(model_name="base", data_dir=str(Path(args.datos) / "entrenamiento"), artifacts_dir=args.artifacts_dir,
                  log_dir=args.log_dir, max_steps=args.max_steps, num_train_epochs=1000, batch_size=args.batch_size,
                  learning_rate=args.learning_rate, pack_seconds=args.pack_seconds,
                  train_encoder_blocks=args.train_encoder_blocks, seed=args.seed, val_decode_max=16, test_fraction=0.0,
                  distill_weight=args.distill_weight, keep_delta=args.keep_delta,
                  merge_pretrained=args.merge_pretrained, max_minutes=minutes, audio_context=args.audio_context)


def validate(args: argparse.Namespace) -> list[str]:
    """Every problem with the options at once, before 20 min of work rather than after."""
    problems = training_config(args).problems(data=False)  # the corpus is made in step 1
    if args.motor == "ambos" and not 0 < args.parte_kokoro < 1:
        problems.append(f"--parte-kokoro {args.parte_kokoro:g}: tiene que estar entre 0 y 1 (sin incluirlos).")
    if args.beam_size < 1:
        problems.append(f"--beam-size {args.beam_size}: tiene que ser 1 (greedy) o más.")
    if args.minutos < 0:
        problems.append(f"--minutos {args.minutos:g}: tiene que ser positivo (o 0 para entrenar siempre --max-steps).")
    if args.habla_real and not Path(args.habla_real, ref_test.MANIFEST).is_file():
        problems.append(f"--habla-real {args.habla_real}: no tiene {ref_test.MANIFEST} (filename, transcript). "
                        "Usá una carpeta como ../shared/audio/real_es, o sacá la opción.")
    return problems


def run(args: argparse.Namespace) -> tuple[dict, dict | None]:
    """Corpora -> base evaluated -> fine-tuning -> the fine-tuned model evaluated beside base (and on real
    speech with --habla-real). Returns the test reports (one per engine of the held-out voices) and the
    real-speech one (or None)."""
    data, artifacts = Path(args.datos), Path(args.artifacts_dir)
    train_dir = data / "entrenamiento"
    tests = {"espeak": data / "prueba", "kokoro": data / "prueba-kokoro"}  # held-out voices of each engine
    started = time.perf_counter()

    step("1/4 Corpus sintéticos (espeak-ng" + (" y Kokoro)" if args.motor == "ambos" else ")"))
    made = {"entrenamiento": sintetico.make_corpus(train_dir, args.n_train, args.seed, voices="entrenamiento",
                                                   phrasing="entrenamiento", general_fraction=args.general_fraction,
                                                   engine=args.motor, acoustics=args.acustica,
                                                   kokoro_share=args.parte_kokoro)}
    for i, (engine, test_dir) in enumerate(tests.items()):
        made[test_dir.name] = sintetico.make_corpus(test_dir, args.n_test, args.seed + 1 + i, voices="evaluacion",
                                                    phrasing="evaluacion", engine=engine, acoustics=args.acustica)
    for name, jobs in made.items():
        print(f"Listo: {len(jobs)} audios de {len({job.voice for job in jobs})} voces en {data / name}/.", flush=True)

    base_started = step("2/4 ref_test del preentrenado: voces y formulaciones nuevas")
    base = ref_test.load_model("base")  # loaded once: also the baseline on real speech at the end
    baselines = {engine: ref_test.evaluate(base, test_dir, model_name="base", beam_size=args.beam_size)
                 for engine, test_dir in tests.items()}
    base_minutes = (time.perf_counter() - base_started) / 60

    blocks = f" + {args.train_encoder_blocks} bloques de arriba del encoder" if args.train_encoder_blocks else ""
    step(f"3/4 Fine-tuning de Whisper base (decoder{blocks})")
    train_minutes = 0.0
    if args.minutos:
        left = args.minutos - (time.perf_counter() - started) / 60 - FINETUNED_EVAL_FACTOR * base_minutes - MARGIN_MINUTES
        train_minutes = round(max(left, MIN_TRAIN_MINUTES), 2)
        print(f"Tope de {args.minutos:g} min: {train_minutes:.1f} min para la caché y el entrenamiento (el preentrenado "
              f"tardó {base_minutes:.1f} min en la prueba; se reserva otro tanto para el afinado).", flush=True)
    fine_tune.run(training_config(args, train_minutes))

    # The last model, not the best by validation WER: the bounded run stops mid-epoch with the learning
    # rate decayed to 0, after the last validation, so "mejor" could only be an earlier, unannealed epoch.
    model_path = str(artifacts / "modelo-ultimo.pt")
    step("4/4 ref_test del afinado, lado a lado con el preentrenado")
    tuned = ref_test.load_model(model_path)
    reports, paths = {}, {}
    for engine, test_dir in tests.items():
        report = ref_test.evaluate(tuned, test_dir, model_name=model_path, beam_size=args.beam_size)
        ref_test.attach_baseline(report, baselines[engine])
        paths[engine] = ref_test.write_outputs(report, artifacts / REPORTS[engine])
        print(f"\n--- Voces de evaluación de {ENGINE_NAMES[engine]} ---")
        print(ref_test.format_table(report))
        reports[engine] = report

    real = None
    if args.habla_real:
        step(f"Olvido: habla real ({args.habla_real}), afinado vs. preentrenado")
        real = ref_test.evaluate(tuned, args.habla_real, model_name=model_path, beam_size=args.beam_size)
        ref_test.attach_baseline(real, ref_test.evaluate(base, args.habla_real, model_name="base", beam_size=args.beam_size))
        ref_test.write_outputs(real, artifacts / "olvido.json")

    minutes = (time.perf_counter() - started) / 60
    limit = f" (tope: {args.minutos:g} min)" if args.minutos else ""
    shown = ", ".join(str(p) for engine_paths in paths.values() for p in engine_paths.values())
    print(f"\nReportes: {shown}. Tiempo total: {minutes:.1f} min{limit}.")
    print(f"Curvas: .venv/bin/tensorboard --logdir {args.log_dir}")
    return reports, real


REPORTS = {"espeak": "ref_test.json", "kokoro": "ref_test-kokoro.json"}
ENGINE_NAMES = {"espeak": "espeak-ng", "kokoro": "Kokoro"}


def print_targets(reports: dict[str, dict], real: dict | None, artifacts: Path) -> None:
    """The research targets, each met or not. Missing one is a finding about the recipe, not a failed run."""
    verdict = {True: "cumple", False: "NO cumple"}
    print("\n=== Objetivos ===")
    for engine, report in reports.items():
        wer, base_wer = report["wer"], report["baseline"]["wer"]
        slots = (report["slots"] or {}).get("all")
        said = (report["slots"] or {}).get("plate_when_said")
        target_slots = TARGET_SLOTS_KOKORO if engine == "kokoro" else TARGET_SLOTS
        name = ENGINE_NAMES[engine]
        print(f"[{name}] WER con voces nuevas: {100 * base_wer:.1f}% (preentrenado) → {100 * wer:.1f}% (afinado): "
              f"{verdict[wer <= TARGET_WER_RATIO * base_wer]} el objetivo de la mitad o menos.")
        print(f"[{name}] Los tres datos bien (patente, estadía, techado) desde el audio: "
              f"{'—' if slots is None else f'{100 * slots:.1f}%'}: "
              f"{verdict[slots is not None and slots >= target_slots]} el objetivo de {100 * target_slots:.0f}%.")
        if said is not None:
            base_said = report["baseline"]["slots"]["plate_when_said"]
            line = (f"[{name}] Patente, solo en las {report['slots']['n_with_plate']} respuestas que la dicen: "
                    f"{100 * said:.1f}% (preentrenado: {100 * base_said:.1f}%)")
            if engine == "kokoro":
                line += f": {verdict[said >= TARGET_PLATE_KOKORO]} el objetivo de {100 * TARGET_PLATE_KOKORO:.0f}%"
            print(line + ".")
        confirm = (report["slots"] or {}).get("confirm_when_said")
        if confirm is not None:
            print(f"[{name}] Sí o no, en las {report['slots']['n_with_confirm']} respuestas que lo dicen: "
                  f"{100 * confirm:.1f}% (preentrenado: {100 * report['baseline']['slots']['confirm_when_said']:.1f}%).")
    if real is not None:
        forgetting = real["wer"] - real["baseline"]["wer"]
        print(f"Habla real: WER {100 * real['baseline']['wer']:.1f}% (preentrenado) → {100 * real['wer']:.1f}% (afinado), "
              f"{100 * forgetting:+.1f} puntos: {verdict[forgetting <= MAX_FORGETTING]} el máximo de "
              f"{100 * MAX_FORGETTING:.0f} puntos de olvido ({artifacts / 'olvido.md'}).")
    else:
        print(f"Olvido en habla real (máximo {100 * MAX_FORGETTING:.0f} puntos): sin medir en esta corrida; "
              "`make olvido`, unos 3 min, compara este modelo con el preentrenado en ../shared/audio/real_es.")
    print("La demo terminó bien. Un objetivo que no se cumple es un resultado de la receta, no un error.")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problems = validate(args)
    if problems:
        parser.error("\n".join(problems))
    try:
        reports, real = run(args)
    except fine_tune.UsageError as e:
        print("demo.py: error:\n  - " + "\n  - ".join(e.problems), file=sys.stderr)
        return 2
    except (sintetico.UsageError, sintetico.SynthesisError, fine_tune.TrainingError, ref_test.EvalError,
            datos.DataDirError, pesos.WeightsError) as e:
        print(f"demo.py: error: {e}", file=sys.stderr)
        return 1
    print_targets(reports, real, Path(args.artifacts_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
