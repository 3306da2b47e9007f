"""OpenSLR 61 (Argentine Spanish) as the project's data dir: `python preparar_datos.py --zips CARPETA`.

The preparation itself (audio to 16 kHz, numbers as digits, checks, split) is corpus/openslr.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import SpanishParser
from corpus import datos
from corpus.openslr import ORIGINALS, PrepError, format_report, prepare


def build_parser() -> argparse.ArgumentParser:
    p = SpanishParser(
        prog="preparar_datos.py",
        description="Prepara el corpus OpenSLR 61 (español argentino) como data dir del proyecto: audios a "
                    "16 kHz mono, números en dígitos, validación y partición train/val/test.",
    )
    p.add_argument("--zips", required=True, type=Path, metavar="CARPETA",
                   help="carpeta con es_ar_female.zip, es_ar_male.zip, es_weather_messages.zip (o ya descomprimidos)")
    p.add_argument("--data-dir", default=Path("data"), type=Path, metavar="CARPETA",
                   help="data dir de salida (por defecto: data)")
    p.add_argument("--conservar-originales", action="store_true",
                   help=f"guardar también los wav originales de 48 kHz en DATA_DIR/{ORIGINALS}/")
    p.add_argument("--incluir-es-es", action="store_true",
                   help="incluir las frases del clima en castellano de España (excluidas por defecto)")
    p.add_argument("--referencia-numeros", type=Path, metavar="CARPETA",
                   help="carpeta con archivos <nombre>_numeros.tsv editados a mano, para medir el acuerdo")
    p.add_argument("--procesos", type=int, default=2, metavar="N", help="procesos en paralelo (por defecto: 2)")
    p.add_argument("--semilla", type=int, default=0, help="semilla de la partición (por defecto: 0)")
    p.add_argument("--sin-barra", action="store_true", help="no mostrar la barra de progreso")
    p.add_argument("--reemplazar", action="store_true",
                   help=f"permitir que DATA_DIR/{datos.TRANSCRIPTS} pierda frases que ya tenía (sin esto, se niega)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = prepare(args.zips, args.data_dir, keep_originals=args.conservar_originales,
                         include_es_es=args.incluir_es_es, reference=args.referencia_numeros,
                         workers=max(1, args.procesos), seed=args.semilla, progress=not args.sin_barra,
                         replace=args.reemplazar)
    except (PrepError, datos.DataDirError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # no space, no permission... each data dir file is whole or not written
        print(f"Error: no se pudo escribir {e.filename or args.data_dir} ({e.strerror or e}). Revisá el espacio libre "
              "y los permisos, o usá otro --data-dir.", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
