"""Which device and number format decoding and training run in: bf16 where the hardware has it."""

from __future__ import annotations

import functools
import os

import torch


@functools.cache
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matrix products in hardware (measured here with AMX: the encoder 2.7x and a
    decoder step 1.4x faster than fp32). Without them torch emulates bf16, slower than fp32."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # private helpers; an older or newer torch may lack them
        return False


def has_native_bf16(device: torch.device | str) -> bool:
    """bf16 in hardware on this device: a bf16 GPU, or a CPU with AMX / AVX512-BF16 (training and decoding
    pick their `auto` precision from it)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()


PRECISIONS = ("auto", "fp32", "bf16")  # what decoding runs in (see decode_dtype)


def decode_dtype(precision: str, device) -> object:
    """The autocast dtype decoding runs in (None: fp32). auto: bf16 where the hardware has it (AMX or
    AVX512-BF16 CPUs, bf16 GPUs), fp32 elsewhere, where emulated bf16 is slower than fp32. bf16 is not
    always faster even there (bench.py: 1.94x on the demo's test clips, 0.44x on its own), hence opt-in."""
    if precision not in PRECISIONS:
        raise ValueError(f"precisión desconocida {precision!r}: usá una de {', '.join(PRECISIONS)}.")
    if precision == "bf16" or (precision == "auto" and has_native_bf16(device)):
        return torch.bfloat16
    return None


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_threads() -> int:
    """Cores this process may use: CTranslate2 defaults to 4 threads, too many on a 2-core machine."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
