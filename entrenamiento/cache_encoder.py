"""Encoder outputs computed once and kept on disk, since a frozen encoder gives the same output forever.

When the top encoder blocks train (Config.train_encoder_blocks), the cache holds the hidden state
that enters them: the frozen part below still gives the same output forever.

Under mixed precision the cache is computed as training would compute the encoder (same autocast
dtype), and the dtype is part of the key.

With a short audio context (modelo/contexto.py) each window has its own cache, of its own shorter rows.

Key: (audio content, weights of the frozen part, n_mels, where it stops, autocast dtype, window).
Layout beside the data:
  <data_dir>/.cache_encoder/<weights key>[-dtype][-Ns]/shard-NNNNN.npy   float16 (rows, positions, n_audio_state)
  <data_dir>/.cache_encoder/<weights key>/indice.tsv        audio sha1 TAB shard TAB row
Shards are memory-mapped when read, so RAM stays bounded whatever the corpus size; a shard is
renamed into place only when complete, so a killed build loses at most that shard's work.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from entrenamiento.empaquetado import Clip
from modelo import contexto
from modelo.audio import log_mel

CACHE_DIR = ".cache_encoder"
SHARD_ROWS = 256  # about 400 MB of float16 per shard for base


def encode_prefix(encoder, mel: torch.Tensor, blocks: int) -> torch.Tensor:
    """mel (B, n_mels, frames) -> hidden state after the first `blocks` blocks (B, frames // 2, d).

    With every block it is `encoder(mel)` (ln_post included). whisper's AudioEncoder.forward has no hook
    to stop half-way, so this runs its parts (contexto.embed: the front end and the positions).
    """
    if blocks == len(encoder.blocks):
        return encoder(mel)
    x = contexto.embed(encoder, mel)
    for block in encoder.blocks[:blocks]:
        x = block(x)
    return x


def encode_suffix(encoder, hidden: torch.Tensor, blocks: int) -> torch.Tensor:
    """What encode_prefix(…, blocks) left to do: the remaining blocks and ln_post -> (B, positions, d)."""
    if blocks == len(encoder.blocks):
        return hidden
    for block in encoder.blocks[blocks:]:
        hidden = block(hidden)
    return encoder.ln_post(hidden)


def _frozen_names(model, blocks: int) -> list[str]:
    """State-dict names of the encoder part that runs before the cache: everything when blocks is all."""
    names = sorted(model.encoder.state_dict())
    if blocks == model.dims.n_audio_layer:
        return names
    trained = {f"blocks.{i}." for i in range(blocks, model.dims.n_audio_layer)}
    return [n for n in names if not n.startswith("ln_post.") and not any(n.startswith(t) for t in trained)]


def weights_key(model, blocks: int | None = None) -> str:
    """Changes whenever the frozen part's weights, the mel size or the cut point change."""
    blocks = model.dims.n_audio_layer if blocks is None else blocks
    # The whole encoder keeps its original key, so caches built before the cut point existed stay valid.
    cut = "" if blocks == model.dims.n_audio_layer else f",blocks={blocks}"
    digest = hashlib.sha256(f"n_mels={model.dims.n_mels}{cut}".encode())
    state = model.encoder.state_dict()
    for name in _frozen_names(model, blocks):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:16]


class EncoderCache:
    def __init__(self, data_dir: str | Path, model, blocks: int | None = None, autocast: torch.dtype | None = None,
                 seconds: int = contexto.FULL_SECONDS):
        """`blocks`: how many encoder blocks run before the cache (default all: the encoder's output);
        `autocast`: the mixed-precision dtype training runs the encoder in (None: full precision);
        `seconds`: the audio window the clips are padded to (30: Whisper's)."""
        self.blocks = model.dims.n_audio_layer if blocks is None else blocks
        if not 0 <= self.blocks <= model.dims.n_audio_layer:
            raise ValueError(f"blocks must be between 0 and {model.dims.n_audio_layer}, got {self.blocks}")
        self.autocast, self.seconds = autocast, seconds
        suffix = "" if autocast is None else "-" + str(autocast).removeprefix("torch.")
        suffix += "" if seconds == contexto.FULL_SECONDS else f"-{seconds}s"  # 30 s caches keep their old names
        self.directory = Path(data_dir) / CACHE_DIR / (weights_key(model, self.blocks) + suffix)
        self.shape = (seconds * contexto.ENCODER_PER_SECOND, model.dims.n_audio_state)
        self.index: dict[str, tuple[int, int]] = {}
        self._shards: dict[int, np.ndarray] = {}
        self._read_index()

    def __getstate__(self):  # DataLoader workers open their own memory maps
        return {**self.__dict__, "_shards": {}}

    def _read_index(self) -> None:
        path = self.directory / "indice.tsv"
        if path.exists():
            for line in path.read_text().splitlines():
                key, shard, row = line.split("\t")
                if (self.directory / f"shard-{int(shard):05d}.npy").exists():
                    self.index[key] = (int(shard), int(row))

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def get(self, key: str) -> torch.Tensor:
        """(positions, n_audio_state) float32 for one clip: the encoder output, or the cut's hidden state."""
        shard, row = self.index[key]
        if shard not in self._shards:
            self._shards[shard] = np.load(self.directory / f"shard-{shard:05d}.npy", mmap_mode="r")
        return torch.from_numpy(np.array(self._shards[shard][row], dtype=np.float32))

    def bytes_per_clip(self) -> int:
        return self.shape[0] * self.shape[1] * 2

    @torch.no_grad()
    def build(self, model, clips: list[Clip], batch_size: int, device: torch.device | str, progress: bool = True) -> int:
        """Encode every clip whose key (Clip.key) is not cached yet; returns how many were computed."""
        keys = {}
        for clip in clips:
            keys.setdefault(clip.key(), clip)
        todo = [(k, p) for k, p in keys.items() if k not in self.index]
        if not todo:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        megabytes = len(todo) * self.bytes_per_clip() / 1e6
        print(f"Caché del encoder: {len(todo)} audio(s) nuevos, {megabytes:,.0f} MB en disco en {self.directory} "
              f"(se calcula una vez y se reutiliza en cada época y corrida).")
        was_training = model.training
        model.eval()
        next_shard = max((s for s, _ in self.index.values()), default=-1) + 1
        bar = tqdm(total=len(todo), desc="encoder → caché", unit="audio", disable=not progress)
        for start in range(0, len(todo), SHARD_ROWS):
            chunk = todo[start : start + SHARD_ROWS]
            shard = next_shard + start // SHARD_ROWS
            final = self.directory / f"shard-{shard:05d}.npy"
            partial = final.with_suffix(".parcial.npy")
            array = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float16, shape=(len(chunk), *self.shape))
            for first in range(0, len(chunk), batch_size):
                batch = chunk[first : first + batch_size]
                mel = torch.stack([log_mel(clip.load(), model.dims.n_mels, self.seconds) for _, clip in batch])
                with torch.autocast(torch.device(device).type, dtype=self.autocast, enabled=self.autocast is not None):
                    hidden = encode_prefix(model.encoder, mel.to(device), self.blocks)
                array[first : first + len(batch)] = hidden.float().cpu().numpy().astype(np.float16)
                bar.update(len(batch))
            array.flush()
            del array
            os.replace(partial, final)
            with open(self.directory / "indice.tsv", "a") as f:
                f.writelines(f"{key}\t{shard}\t{row}\n" for row, (key, _) in enumerate(chunk))
            self.index.update({key: (shard, row) for row, (key, _) in enumerate(chunk)})
        bar.close()
        model.train(was_training)
        return len(todo)
