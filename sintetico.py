"""Synthetic parking answers spoken by espeak-ng and/or Kokoro, as a data dir: `python sintetico.py --out DIR --n 200`.

What is said and written, the voices and the audio are made in corpus/sintetico.py; this is its
command line. The same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import SpanishParser
from corpus import kokoro
from corpus.datos import AUDIO_DIR, SLOTS, TRANSCRIPTS
from corpus.sintetico import (
    ACOUSTICS,
    ENGINES,
    HELDOUT_VOICES,
    PHRASINGS,
    TRAIN_VOICES,
    SynthesisError,
    UsageError,
    make_corpus,
)


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishParser(
        prog="sintetico.py",
        description="Genera respuestas sintéticas de estacionamiento (patente, estadía, techado) habladas por "
                    "espeak-ng con varias voces en español, como un data dir: audios/*.wav, transcripciones.tsv "
                    "y slots.tsv.",
        epilog="Ejemplo:\n  python sintetico.py --out data/sintetico --n 200 --seed 0 --voices entrenamiento\n\n"
               f"Voces de entrenamiento: {','.join(TRAIN_VOICES)}\nVoces de evaluación: {','.join(HELDOUT_VOICES)}\n"
               f"Kokoro, entrenamiento: {','.join(kokoro.TRAIN_VOICES)}\nKokoro, solo evaluación: "
               f"{','.join(kokoro.HELDOUT_VOICES)}",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="carpeta de salida (data dir); se sobrescribe")
    parser.add_argument("--n", type=int, default=200, metavar="N", help="cantidad de audios (por defecto 200)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="semilla: la misma semilla da los mismos archivos")
    parser.add_argument("--voices", default="todas", metavar="LISTA",
                        help="voces separadas por comas (es-419+f3,es+m2,...) o un grupo: entrenamiento, "
                             "evaluacion, todas (por defecto)")
    parser.add_argument("--motor", choices=ENGINES, default="espeak",
                        help="quién dice los grupos de voces: espeak (por defecto), kokoro (voz neuronal) o ambos "
                             "(mitad y mitad)")
    parser.add_argument("--parte-kokoro", type=float, default=0.5, metavar="F",
                        help="con --motor ambos, la fracción de audios que dice Kokoro (por defecto 0.5)")
    parser.add_argument("--acustica", choices=ACOUSTICS, default="variada",
                        help="variada (por defecto): timbres corridos, salas con eco y ruidos de una entrada de "
                             "estacionamiento (motor, tránsito, viento, bocina) a 5-20 dB; limpia: la voz sola")
    parser.add_argument("--general-fraction", type=float, default=0.2, metavar="F",
                        help="fracción de frases generales, sin datos del estacionamiento (por defecto 0.2)")
    parser.add_argument("--fraseo", choices=PHRASINGS, default="todo",
                        help="qué formulaciones usar: todo (por defecto), entrenamiento, o evaluacion "
                             "(formulaciones reservadas, para un corpus de prueba con frases nuevas)")
    parser.add_argument("--procesos", type=int, default=None, metavar="K", help="procesos de espeak-ng en paralelo "
                                                                     "(por defecto, uno por núcleo)")
    parser.add_argument("--sin-progreso", action="store_true", help="no mostrar la barra de progreso")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        jobs = make_corpus(args.out, args.n, args.seed, args.voices, args.general_fraction, args.fraseo,
                           workers=args.procesos, progress=not args.sin_progreso, engine=args.motor,
                           acoustics=args.acustica, kokoro_share=args.parte_kokoro)
    except UsageError as e:
        parser.error(str(e))
    except SynthesisError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    speakers = len({job.voice for job in jobs})
    print(f"Listo: {len(jobs)} audios de {speakers} voces en {args.out}/ ({TRANSCRIPTS}, {SLOTS}, {AUDIO_DIR}/).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
