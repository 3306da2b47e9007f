"""Export a Whisper checkpoint for deployment: `python exportar.py --checkpoint X --to ctranslate2 --out DIR`.

ctranslate2: a directory faster-whisper loads with no network (model.bin, config.json, vocabulary,
tokenizer.json, preprocessor_config.json), written directly from openai-whisper weights, without the
Hugging Face conversion (which downloads a generation config). openai: the `.pt` that
`whisper.load_model(path)` reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cli import SpanishParser

TARGETS = ("ctranslate2", "openai")


def build_parser() -> SpanishParser:
    parser = SpanishParser(
        prog="exportar.py",
        description="Exporta un modelo Whisper para usarlo fuera del entrenamiento: a CTranslate2 (el formato de "
                    "faster-whisper, funciona sin red) o al .pt de OpenAI (el que lee whisper.load_model).",
        epilog="Ejemplos:\n"
               "  python exportar.py --checkpoint artifacts/modelo-mejor.pt --to ctranslate2 --out modelos/ct2\n"
               "  python exportar.py --checkpoint artifacts/last.ckpt --to openai --out modelos/afinado.pt",
    )
    parser.add_argument("--checkpoint", required=True, metavar="MODELO",
                        help="modelo a exportar: .ckpt de fine_tune.py, .pt, nombre oficial (base…) o directorio CTranslate2")
    parser.add_argument("--to", required=True, choices=TARGETS, help="formato de salida")
    parser.add_argument("--out", required=True, metavar="RUTA",
                        help="carpeta de salida (ctranslate2) o archivo .pt (openai); se reemplaza si ya es un export")
    parser.add_argument("--quantization", default="float16", choices=("float16", "int8", "float32"),
                        help="tipo de los pesos en CTranslate2: float16 (sin pérdida para pesos de OpenAI) o int8 "
                             "(la mitad de tamaño; CTranslate2 igual puede cuantizar a int8 al cargar)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if args.to == "openai" and out.is_dir():
        build_parser().error(f"--out {out} es una carpeta: con --to openai indicá un archivo, por ejemplo {out / 'modelo.pt'}")
    if args.to == "openai" and args.quantization != "float16":
        print("Aviso: --quantization solo se usa con --to ctranslate2; el .pt se guarda en float32.", file=sys.stderr)
    import pesos  # torch and whisper load in seconds: after the options are checked

    try:
        model = pesos.load_whisper(args.checkpoint)
        if args.to == "openai":
            path = pesos.save_whisper(model, out)
        else:
            path = pesos.save_ct2_dir(model, out, args.quantization)
    except pesos.WeightsError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # e.g. no space or no permission where --out points
        print(f"Error: no se pudo escribir {out} ({e.strerror or e}).", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in path.iterdir()) if path.is_dir() else path.stat().st_size
    dims = model.dims
    print(f"Listo: {path} ({args.to}{', ' + args.quantization if args.to == 'ctranslate2' else ''}, "
          f"{size / 1e6:.0f} MB; Whisper de {dims.n_audio_layer}+{dims.n_text_layer} capas, {dims.n_mels} mels).")
    if args.to == "ctranslate2":
        print(f"Usalo con faster-whisper: WhisperModel({str(path)!r}, compute_type='int8'), "
              f"o con ref_test.py --checkpoint {path} --engine ctranslate2.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
