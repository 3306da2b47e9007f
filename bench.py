"""Speed, measured side by side in one run: inference engines, and training with and without the encoder cache.

`python bench.py --model-name base --n-clips 16 --report artifacts/bench.json`

Inference: seconds per 5-second clip for (1) openai-whisper's `whisper.transcribe`, clip by clip, (2) our
batched decoding with openai-whisper (`motores` openai engine) in fp32 and (2b) in bf16 autocast (what
`--precision auto` picks on CPUs with AMX or AVX512-BF16; emulated, so slower, elsewhere), (3) faster-whisper's `transcribe` with
int8 weights, clip by clip, on the model exported by `pesos.save_ct2_dir`, (4) the batched
faster-whisper engine of `motores` in int8 and (5) in float32 (the same transcripts as openai-whisper);
same clips, same machine. `inference_ratio` in the JSON is (1)/(3).

Training: (a) the original way, encoder forward at every step, and (b) the cached way, on the same
clips and batches; the ratio of samples per second is `train_ratio`. The cache's one-off cost is
reported too, so users see after how many epochs it pays off.

`--solo inferencia|entrenamiento` runs one part only.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import whisper
from faster_whisper import WhisperModel

import fine_tune
from cli import SpanishParser
from comun import (
    Config,
    SpeechDataset,
    WhisperDataCollatorWithPadding,
    WhisperModelModule,
    frozen_encoder_blocks,
    parameter_groups,
)
from corpus import datos, sintetico
from entrenamiento.cache_encoder import EncoderCache
from entrenamiento.muestreo import window_batches
from modelo import contexto, motores, pesos
from modelo.audio import SAMPLE_RATE, load_audio
from modelo.precision import cpu_threads

CLIP_SECONDS = 5


class BenchError(Exception):
    """Something this run cannot measure as asked; the message is Spanish."""


def build_parser() -> SpanishParser:
    parser = SpanishParser(prog="bench.py", description="Mide velocidades en la misma corrida y sobre los mismos audios: "
                                                        "inferencia (openai-whisper contra faster-whisper int8, con "
                                                        "30 s y con contexto de audio corto) y entrenamiento (con y sin "
                                                        "la caché del encoder; el paso con 30 s y con contexto corto).")
    parser.add_argument("--model-name", default="base", help="modelo: nombre oficial, .pt, .ckpt o directorio CTranslate2")
    parser.add_argument("--n-clips", type=int, default=16, help="audios a usar")
    parser.add_argument("--data-dir", default=None, help="data dir a usar (si falta, se sintetiza uno con espeak-ng)")
    parser.add_argument("--batch-size", type=int, default=8, help="ejemplos por lote (entrenamiento y decodificación por lotes)")
    parser.add_argument("--steps", type=int, default=4, help="pasos de entrenamiento medidos de cada forma (más uno de calentamiento)")
    parser.add_argument("--solo", choices=("inferencia", "entrenamiento"), default=None,
                        help="medir solo una de las dos partes (por defecto: las dos)")
    parser.add_argument("--audio-context", default="10", metavar="S",
                        help="contexto de audio corto que se compara con los 30 s de Whisper (segundos, o auto)")
    parser.add_argument("--train-encoder-blocks", type=int, default=2,
                        help="bloques de arriba del encoder que entrenan al medir el paso con cada contexto (como la demo)")
    parser.add_argument("--report", default="artifacts/bench.json", help="reporte JSON")
    return parser


# --- inference ---------------------------------------------------------------------------------


def five_second_clips(data_dir: Path, n: int) -> list[np.ndarray]:
    """The first n clips of the data dir, each padded with silence or cut to exactly 5 s."""
    length = CLIP_SECONDS * SAMPLE_RATE
    clips = []
    for utt_id in list(datos.read_transcripts(data_dir))[:n]:
        audio = load_audio(datos.audio_path(data_dir, utt_id))[:length]
        clips.append(np.pad(audio, (0, length - len(audio))))
    return clips


def seconds_per_clip(transcribe_one, clips: list[np.ndarray]) -> float:
    """`transcribe_one(clip)` on every clip; one untimed call first (lazy set-up, caches)."""
    transcribe_one(clips[0])
    started = time.perf_counter()
    for clip in clips:
        transcribe_one(clip)
    return (time.perf_counter() - started) / len(clips)


def seconds_per_clip_batched(engine, clips: list[np.ndarray], batch_size: int) -> float:
    engine.transcribe(clips[:1])
    started = time.perf_counter()
    for start in range(0, len(clips), batch_size):
        engine.transcribe(clips[start : start + batch_size])
    return (time.perf_counter() - started) / len(clips)


def with_context(model, setting: str):
    """The same weights, marked as trained for another audio context (exports and engines read the mark)."""
    marked = copy.copy(model)
    marked.audio_context = setting
    return marked


def inference(model, args, data_dir: Path, work: Path) -> dict:
    clips = five_second_clips(data_dir, args.n_clips)
    started = time.perf_counter()
    ct2_dir = pesos.save_ct2_dir(model, work / "ct2_int8", "int8")
    export_s = time.perf_counter() - started
    faster = WhisperModel(str(ct2_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads())
    # The deployable path: an int8 export that records the short context, decoding one answer at a time.
    short_dir = pesos.save_ct2_dir(with_context(model, args.audio_context), work / "ct2_int8_short", "int8")
    deployable = motores.CTranslate2Engine(WhisperModel(str(short_dir), device="cpu", compute_type="int8",
                                                        cpu_threads=cpu_threads()), args.model_name,
                                           audio_context=pesos.ct2_audio_context(short_dir))
    # float32 on a float16 export: the same transcripts as openai-whisper, for the cost of int8's speed.
    exact = WhisperModel(str(pesos.save_ct2_dir(model, work / "ct2_float16", "float16")), device="cpu",
                         compute_type="float32", cpu_threads=cpu_threads())

    def openai_transcribe(clip):  # openai-whisper's defaults (greedy, temperature fallback), language fixed
        return whisper.transcribe(model, clip, language="es", fp16=False, verbose=None)["text"]

    def faster_transcribe(clip):  # the same settings in faster-whisper (its default beam is 5; openai's is greedy)
        segments, _ = faster.transcribe(clip, language="es", beam_size=1, vad_filter=False)
        return "".join(s.text for s in segments)

    s = {
        "openai_transcribe": seconds_per_clip(openai_transcribe, clips),
        "openai_batched": seconds_per_clip_batched(motores.OpenAIEngine(model, args.model_name, precision="fp32"),
                                                   clips, args.batch_size),
        "openai_batched_bf16": seconds_per_clip_batched(motores.OpenAIEngine(model, args.model_name, precision="bf16"),
                                                        clips, args.batch_size),
        "faster_whisper_int8_transcribe": seconds_per_clip(faster_transcribe, clips),
        "faster_whisper_int8_batched": seconds_per_clip_batched(motores.CTranslate2Engine(faster, args.model_name),
                                                                clips, args.batch_size),
        "faster_whisper_float32_batched": seconds_per_clip_batched(motores.CTranslate2Engine(exact, args.model_name),
                                                                   clips, args.batch_size),
        "openai_batched_short": seconds_per_clip_batched(
            motores.OpenAIEngine(with_context(model, args.audio_context), args.model_name, precision="fp32"),
            clips, args.batch_size),
        "ctranslate2_int8_short_one": seconds_per_clip(lambda clip: deployable.transcribe([clip]), clips),
    }
    return {"inference_ratio": s["openai_transcribe"] / s["ctranslate2_int8_short_one"],
            "inference": {"n_clips": len(clips), "clip_seconds": CLIP_SECONDS, "batch_size": args.batch_size,
                          "audio_context": args.audio_context,
                          "s_per_clip": s, "ratio_vs_openai_transcribe": {k: s["openai_transcribe"] / v for k, v in s.items()},
                          "export_int8_s": export_s, "ct2_threads": cpu_threads()}}


INFERENCE_LABELS = {
    "openai_transcribe": "openai-whisper transcribe (de a uno)",
    "openai_batched": "openai-whisper por lotes (motores, fp32)",
    "openai_batched_bf16": "openai-whisper por lotes (motores, bf16)",
    "faster_whisper_int8_transcribe": "faster-whisper int8 transcribe (de a uno)",
    "faster_whisper_int8_batched": "faster-whisper int8 por lotes (motores)",
    "faster_whisper_float32_batched": "faster-whisper float32 por lotes (motores)",
    "openai_batched_short": "openai-whisper por lotes, contexto corto (motores)",
    "ctranslate2_int8_short_one": "CTranslate2 int8, contexto corto, de a uno",
}


def context_label(setting: str) -> str:
    return setting if setting == contexto.AUTO else f"{setting} s"


def print_inference(report: dict) -> None:
    part = report["inference"]
    print(f"\nInferencia: modelo {report['model']}, {part['n_clips']} audios de {part['clip_seconds']} s, lotes de "
          f"{part['batch_size']}, CPU (torch {report['threads']} hilos, CTranslate2 {part['ct2_threads']})")
    print(f"{'forma':<52}{'s/audio':>9}{'razón':>8}")
    for key, label in INFERENCE_LABELS.items():
        print(f"{label:<52}{part['s_per_clip'][key]:>9.3f}{part['ratio_vs_openai_transcribe'][key]:>7.2f}x")
    print(f"inference_ratio (transcribe de openai-whisper / CTranslate2 int8 con contexto {context_label(part['audio_context'])}"
          f", de a uno): {report['inference_ratio']:.2f}x; exportar a int8 costó {part['export_int8_s']:.1f} s una vez.")


# --- training ----------------------------------------------------------------------------------


def samples_per_second(module, batches: list[dict], autocast: torch.dtype | None = None) -> float:
    """Real training steps (forward, backward, AdamW) over `batches`, in `autocast` as Lightning's mixed precision
    runs them (None: fp32); the first one is warm-up, not timed."""
    optimizer = torch.optim.AdamW(parameter_groups(module.model, 0.0), lr=1e-6)
    module.train()
    started, samples = None, 0
    for index, batch in enumerate(batches):
        if index == 1:
            started = time.perf_counter()
        with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
            loss = module._loss(batch, module._encode(batch))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if index >= 1:
            samples += len(batch["ids"])
    return samples / (time.perf_counter() - started)


def training(model, args, data_dir: Path, work: Path) -> dict:
    module = WhisperModelModule(Config(model_name=args.model_name, data_dir=str(data_dir)), model=model)
    texts = datos.read_transcripts(data_dir)
    everything = {utt_id: "train" for utt_id in list(texts)[: args.n_clips]}
    dataset = SpeechDataset(data_dir, "train", module.tokenizer, model.dims.n_mels, split_map=everything)
    collate = WhisperDataCollatorWithPadding(module.tokenizer.eot)
    n_batches = min(args.steps + 1, len(dataset) // args.batch_size)

    def batches() -> list[dict]:
        return [collate([dataset[i] for i in range(b * args.batch_size, (b + 1) * args.batch_size)]) for b in range(n_batches)]

    # The clips are read and batched before timing, so both ways time only the model.
    original = samples_per_second(module, batches())
    cache = EncoderCache(work / "cache_dir", model)
    started = time.perf_counter()
    cache.build(model, dataset.clips(), args.batch_size, "cpu", progress=False)
    build_seconds = time.perf_counter() - started
    dataset.use_cache({contexto.FULL_SECONDS: cache})
    cached = samples_per_second(module, batches())
    return {
        "train_ratio": cached / original,
        "n_clips": len(dataset),
        "batch_size": args.batch_size,
        "steps_timed": n_batches - 1,
        "original_samples_per_s": original,
        "cached_samples_per_s": cached,
        "cache_build_s_per_clip": build_seconds / len(dataset),
        # One epoch without cache costs N/original; with it, build + N/cached: equal after this many epochs.
        "break_even_epochs": (build_seconds / len(dataset)) / (1 / original - 1 / cached) if cached > original else None,
    }


PACK_30 = 28.0  # the demo's packed windows at 30 s


def context_training(model, args, data_dir: Path, work: Path) -> dict:
    """The demo's kind of step (its batch, the top encoder blocks training on the cached frozen part, this
    machine's precision), on the same clips: Whisper's 30 s and the short context, each with one answer per
    item and with answers of one speaker packed into its window. What a step costs, and how many answers a
    second of training learns from (packing pays when it learns from more)."""
    blocks = min(args.train_encoder_blocks, model.dims.n_audio_layer)  # a small model has fewer
    # Whole speakers, so that packing finds answers of one voice to join.
    chosen = {utt_id: "train" for utt_id in sorted(datos.read_transcripts(data_dir), key=datos.speaker_of)[: args.n_clips]}
    rows = {}
    for setting, pack in ((contexto.FULL, 0.0), (contexto.FULL, PACK_30), (args.audio_context, 0.0),
                          (args.audio_context, float(contexto.minimum(args.audio_context)))):
        config = Config(model_name=args.model_name, data_dir=str(data_dir), audio_context=setting,
                        train_encoder_blocks=blocks, pack_seconds=pack)
        module = WhisperModelModule(config, model=model)
        dtype = fine_tune.autocast_dtype(fine_tune.resolve_precision(config))
        dataset = SpeechDataset(data_dir, "train", module.tokenizer, model.dims.n_mels, split_map=chosen,
                                pack_seconds=pack, audio_context=setting)
        started = time.perf_counter()
        caches = {}
        for seconds, clips in dataset.clips_by_window().items():
            caches[seconds] = EncoderCache(work / f"cache_{setting}_{pack:g}", model,
                                           frozen_encoder_blocks(config, model), dtype, seconds)
            caches[seconds].build(model, clips, args.batch_size, "cpu", progress=False)
        build_seconds = time.perf_counter() - started
        dataset.use_cache(caches)
        collate = WhisperDataCollatorWithPadding(module.tokenizer.eot)
        full = [b for b in window_batches(dataset.windows, args.batch_size) if len(b) == args.batch_size]
        timed = full[: args.steps + 1]
        if len(timed) < 2:  # packed into too few items for a warm-up and a timed step
            raise BenchError(f"con --audio-context {setting} y ventanas de {pack:g} s quedan {len(full)} lote(s) "
                             f"completos de {args.batch_size}: usá más --n-clips")
        s_per_step = args.batch_size / samples_per_second(module, [collate([dataset[i] for i in b]) for b in timed], dtype)
        answers = sum(dataset.items[i][0].count("+") + 1 for b in timed[1:] for i in b) / (len(timed) - 1)
        rows[f"{setting}|{pack:g}"] = {
            "audio_context": setting, "pack_seconds": pack, "utterances": dataset.utterances, "items": len(dataset),
            "windows_s": sorted(set(dataset.windows)), "steps_timed": len(timed) - 1, "s_per_step": s_per_step,
            "answers_per_step": answers, "answers_per_s": answers / s_per_step,
            "cache_build_s_per_answer": build_seconds / max(dataset.utterances, 1),
            "cache_mb_per_item": sum(caches[w].bytes_per_clip() for w in dataset.windows) / len(dataset) / 1e6,
        }
    whole, short = rows[f"{contexto.FULL}|0"], rows[f"{args.audio_context}|0"]
    return {"context_step_ratio": whole["s_per_step"] / short["s_per_step"],
            "context": {"audio_context": args.audio_context, "batch_size": args.batch_size,
                        "train_encoder_blocks": blocks, "precision": str(dtype or "fp32"),
                        "rows": rows}}


def print_context(report: dict) -> None:
    part = report["context"]
    print(f"\nPaso de entrenamiento por contexto de audio: lotes de {part['batch_size']}, "
          f"{part['train_encoder_blocks']} bloques de arriba del encoder entrenando, {part['precision']}")
    print(f"{'contexto':<10}{'junta':>7}{'s/paso':>8}{'resp./paso':>11}{'resp./s':>9}{'caché s/resp.':>15}"
          f"{'caché MB/ítem':>15}")
    for row in part["rows"].values():
        print(f"{context_label(row['audio_context']):<10}{row['pack_seconds']:>7g}{row['s_per_step']:>8.2f}"
              f"{row['answers_per_step']:>11.1f}{row['answers_per_s']:>9.2f}{row['cache_build_s_per_answer']:>15.3f}"
              f"{row['cache_mb_per_item']:>15.2f}")
    print(f"context_step_ratio (paso con 30 s / paso con {context_label(part['audio_context'])}, una respuesta por ítem): "
          f"{report['context_step_ratio']:.2f}x")


def print_training(report: dict, path: str) -> None:
    print(f"\nEntrenamiento: modelo {report['model']}, {report['n_clips']} audios, lotes de {report['batch_size']}, "
          f"{report['steps_timed']} pasos medidos, CPU con {report['threads']} hilos")
    print(f"{'forma':<32}{'frases/s':>10}")
    print(f"{'original (encoder en cada paso)':<32}{report['original_samples_per_s']:>10.2f}")
    print(f"{'con caché del encoder':<32}{report['cached_samples_per_s']:>10.2f}")
    print(f"razón: {report['train_ratio']:.2f}x; construir la caché cuesta {report['cache_build_s_per_clip']:.2f} s por audio "
          f"(se amortiza en {report['break_even_epochs'] or float('nan'):.2f} épocas). Reporte: {path}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n_clips < 1:
        build_parser().error("--n-clips debe ser al menos 1")
    if contexto.problem(args.audio_context):
        build_parser().error(contexto.problem(args.audio_context))
    if args.solo != "inferencia" and args.n_clips < args.batch_size * 2:
        build_parser().error(f"--n-clips debe ser al menos 2 × --batch-size ({2 * args.batch_size})")
    with tempfile.TemporaryDirectory(prefix="bench_") as name:
        work = Path(name)
        data_dir = Path(args.data_dir) if args.data_dir else work / "datos"
        try:
            if args.data_dir is None:
                sintetico.make_corpus(data_dir, args.n_clips, seed=0, progress=False)
            model = pesos.load_whisper(args.model_name)
            report = {"model": args.model_name, "device": "cpu", "threads": torch.get_num_threads()}
            if args.solo != "entrenamiento":  # first: training steps change the weights
                report.update(inference(model, args, data_dir, work))
            if args.solo != "inferencia":
                report.update(training(model, args, data_dir, work))
                report.update(context_training(model, args, data_dir, work))
        except (sintetico.SynthesisError, pesos.WeightsError, datos.DataDirError, BenchError) as e:
            print(f"Error: {e}", file=sys.stderr)
            return 1
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report, indent=2))
    if "inference" in report:
        print_inference(report)
    if "train_ratio" in report:
        print_context(report)
        print_training(report, args.report)
    else:
        print(f"Reporte: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
