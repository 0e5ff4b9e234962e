"""Where the engine runs: device selection and what that device computes fast."""
from __future__ import annotations

import logging

import torch

_LOG = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU (with one warning); "cuda" must exist."""
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        _LOG.warning("CUDA not available: running on CPU")
        return torch.device("cpu")
    return torch.device(name)


def bfloat16_is_fast(device: torch.device) -> bool:
    """Whether matrix products in bfloat16 run natively on `device` (CUDA with bf16 support,
    or a CPU with AVX512-BF16/AMX); elsewhere they are emulated and slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
