"""Training speed with and without the encoder cache, measured side by side in one run.

`python bench.py --model-name base --n-clips 16 --report artifacts/bench.json`: (a) the original way,
encoder forward at every step, and (b) the cached way, on the same clips, batches and machine; the
ratio of samples per second is `train_ratio` in the JSON. The cache's one-off cost is reported too,
so users see after how many epochs it pays off.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

import comun
import datos
import pesos
import sintetico
from cache_encoder import EncoderCache
from cli import SpanishParser


def build_parser() -> SpanishParser:
    parser = SpanishParser(prog="bench.py", description="Mide la velocidad de entrenamiento con y sin la caché del "
                                                        "encoder, en la misma corrida, sobre los mismos audios.")
    parser.add_argument("--model-name", default="base", help="modelo: nombre oficial, .pt, .ckpt o directorio CTranslate2")
    parser.add_argument("--n-clips", type=int, default=16, help="audios a usar")
    parser.add_argument("--data-dir", default=None, help="data dir a usar (si falta, se sintetiza uno con espeak-ng)")
    parser.add_argument("--batch-size", type=int, default=8, help="ejemplos por lote")
    parser.add_argument("--steps", type=int, default=4, help="pasos medidos de cada forma (más uno de calentamiento)")
    parser.add_argument("--report", default="artifacts/bench.json", help="reporte JSON")
    return parser


def samples_per_second(module: comun.WhisperModelModule, batches: list[dict]) -> float:
    """Real training steps (forward, backward, AdamW) over `batches`; the first one is warm-up, not timed."""
    optimizer = torch.optim.AdamW(comun.parameter_groups(module.model, 0.0), lr=1e-6)
    module.train()
    started, samples = None, 0
    for index, batch in enumerate(batches):
        if index == 1:
            started = time.perf_counter()
        loss = module._loss(batch, module._encode(batch))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if index >= 1:
            samples += len(batch["ids"])
    return samples / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n_clips < args.batch_size * 2:
        build_parser().error(f"--n-clips debe ser al menos 2 × --batch-size ({2 * args.batch_size})")
    work = tempfile.TemporaryDirectory(prefix="bench_")
    data_dir = Path(args.data_dir) if args.data_dir else Path(work.name) / "datos"
    if args.data_dir is None:
        sintetico.main(["--out", str(data_dir), "--n", str(args.n_clips), "--seed", "0", "--sin-progreso"])
    try:
        model = pesos.load_whisper(args.model_name)
    except pesos.WeightsError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    module = comun.WhisperModelModule(comun.Config(model_name=args.model_name, data_dir=str(data_dir)), model=model)
    texts = datos.read_transcripts(data_dir)
    everything = {utt_id: "train" for utt_id in list(texts)[: args.n_clips]}
    dataset = comun.SpeechDataset(data_dir, "train", module.tokenizer, model.dims.n_mels, split_map=everything)
    collate = comun.WhisperDataCollatorWithPadding(module.tokenizer.eot)
    n_batches = min(args.steps + 1, len(dataset) // args.batch_size)

    def batches() -> list[dict]:
        return [collate([dataset[i] for i in range(b * args.batch_size, (b + 1) * args.batch_size)]) for b in range(n_batches)]

    # The clips are read and batched before timing, so both ways time only the model.
    original = samples_per_second(module, batches())
    cache = EncoderCache(Path(work.name) / "cache_dir", model)
    started = time.perf_counter()
    cache.build(model, dataset.audio_paths(), args.batch_size, "cpu", progress=False)
    build_seconds = time.perf_counter() - started
    dataset.use_cache(cache)
    cached = samples_per_second(module, batches())
    work.cleanup()

    report = {
        "train_ratio": cached / original,
        "model": args.model_name,
        "n_clips": len(dataset),
        "batch_size": args.batch_size,
        "steps_timed": n_batches - 1,
        "original_samples_per_s": original,
        "cached_samples_per_s": cached,
        "cache_build_s_per_clip": build_seconds / len(dataset),
        # One epoch without cache costs N/original; with it, build + N/cached: equal after this many epochs.
        "break_even_epochs": (build_seconds / len(dataset)) / (1 / original - 1 / cached) if cached > original else None,
        "device": "cpu",
        "threads": torch.get_num_threads(),
    }
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report, indent=2))
    print(f"\nmodelo {args.model_name}, {len(dataset)} audios, lotes de {args.batch_size}, {n_batches - 1} pasos medidos, "
          f"CPU con {torch.get_num_threads()} hilos")
    print(f"{'forma':<32}{'frases/s':>10}")
    print(f"{'original (encoder en cada paso)':<32}{original:>10.2f}")
    print(f"{'con caché del encoder':<32}{cached:>10.2f}")
    print(f"razón: {report['train_ratio']:.2f}x; construir la caché cuesta {report['cache_build_s_per_clip']:.2f} s por audio "
          f"(se amortiza en {report['break_even_epochs'] or float('nan'):.2f} épocas). Reporte: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
