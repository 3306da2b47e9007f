"""Export a Whisper checkpoint for deployment: `python exportar.py --checkpoint X --to ctranslate2 --out DIR`.

ctranslate2: a directory faster-whisper loads with no network (model.bin, config.json, vocabulary,
tokenizer.json, preprocessor_config.json), written directly from openai-whisper weights, without the
Hugging Face conversion (which downloads a generation config). openai: the `.pt` that
`whisper.load_model(path)` reads.

--keep-delta / --merge-pretrained apply fine_tune.py's export-time remedies against forgetting to a
checkpoint afterwards, so other values can be tried without training again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cli import SpanishParser
from modelo import cirugia, pesos

TARGETS = ("ctranslate2", "openai")


def build_parser() -> SpanishParser:
    parser = SpanishParser(
        prog="exportar.py",
        description="Exporta un modelo Whisper para usarlo fuera del entrenamiento: a CTranslate2 (el formato de "
                    "faster-whisper, funciona sin red) o al .pt de OpenAI (el que lee whisper.load_model).",
        epilog="Ejemplos:\n"
               "  python exportar.py --checkpoint artifacts/modelo-mejor.pt --to ctranslate2 --out modelos/ct2\n"
               "  python exportar.py --checkpoint artifacts/last.ckpt --to openai --out modelos/afinado.pt\n"
               "  python exportar.py --checkpoint artifacts/demo/last.ckpt --to openai --out modelos/recorte03.pt "
               "--keep-delta 0.3",
    )
    parser.add_argument("--checkpoint", required=True, metavar="MODELO",
                        help="modelo a exportar: .ckpt de fine_tune.py, .pt, nombre oficial (base…) o directorio CTranslate2")
    parser.add_argument("--to", required=True, choices=TARGETS, help="formato de salida")
    parser.add_argument("--out", required=True, metavar="RUTA",
                        help="carpeta de salida (ctranslate2) o archivo .pt (openai); se reemplaza si ya es un export")
    parser.add_argument("--quantization", default="float16", choices=("float16", "int8", "float32"),
                        help="tipo de los pesos en CTranslate2: float16 (sin pérdida para pesos de OpenAI) o int8 "
                             "(la mitad de tamaño; CTranslate2 igual puede cuantizar a int8 al cargar)")
    parser.add_argument("--keep-delta", type=float, default=1.0, metavar="Q",
                        help="contra el olvido: de cada tensor quedan solo los cambios más grandes respecto de "
                             "--preentrenado, la fracción Q; el resto vuelve al preentrenado (1: sin recorte; ver README)")
    parser.add_argument("--merge-pretrained", type=float, default=0.0, metavar="W",
                        help="contra el olvido: (1-W)·modelo + W·preentrenado, después del recorte (0: sin mezcla)")
    parser.add_argument("--preentrenado", default="base", metavar="MODELO",
                        help="el modelo del que partió el entrenamiento, para --keep-delta y --merge-pretrained "
                             "(por defecto base)")
    return parser


def _check(parser: SpanishParser, args) -> None:
    """Every problem with the options at once, before loading anything."""
    problems = []
    if args.to == "openai" and Path(args.out).is_dir():
        problems.append(f"--out {args.out} es una carpeta: con --to openai indicá un archivo, por ejemplo "
                        f"{Path(args.out) / 'modelo.pt'}")
    problems += cirugia.remedy_problems(args.keep_delta, args.merge_pretrained)
    if problems:
        parser.error("\n".join(problems))


def _against_forgetting(model, pretrained, args) -> None:
    if model.dims != pretrained.dims:
        raise pesos.WeightsError(f"--preentrenado {args.preentrenado} no tiene la forma de {args.checkpoint} "
                         f"({pretrained.dims.n_text_layer} contra {model.dims.n_text_layer} capas de decoder, "
                         f"{pretrained.dims.n_text_state} contra {model.dims.n_text_state} de ancho): indicá el "
                         "modelo del que partió el entrenamiento (el --model-name de fine_tune.py).")
    cirugia.against_forgetting(model, pretrained, args.keep_delta, args.merge_pretrained)
    print(f"Contra el olvido: --keep-delta {args.keep_delta:g}, --merge-pretrained {args.merge_pretrained:g} "
          f"respecto de {args.preentrenado}.")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check(parser, args)
    out = Path(args.out)
    if args.to == "openai" and args.quantization != "float16":
        print("Aviso: --quantization solo se usa con --to ctranslate2; el .pt se guarda en float32.", file=sys.stderr)
    try:
        model = pesos.load_whisper(args.checkpoint)
        if args.keep_delta < 1 or args.merge_pretrained:
            _against_forgetting(model, pesos.load_whisper(args.preentrenado), args)
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
