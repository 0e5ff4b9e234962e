"""Where the engine runs: device selection and what that device computes fast."""
from __future__ import annotations

import ctypes
import logging
import sys

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


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameters
_HEAP_RETAINED = False


def retain_freed_heap(trim_threshold_bytes: int = 1 << 30) -> bool:
    """Make glibc's allocator reuse freed memory instead of returning it to the OS: large
    blocks come from the heap rather than fresh mmap()s (M_MMAP_MAX = 0), and up to
    `trim_threshold_bytes` of free heap is kept (M_TRIM_THRESHOLD). Each frame allocates
    and frees the same large feature maps; by default every one of them is a new mapping
    filled through page faults, which made the backbone ~1.5x slower on CPU (2-3x before
    the backbone was rewritten for inference). (Setting only
    the trim threshold is worse than nothing: it freezes glibc's adaptive mmap threshold at
    128 KiB.) The process keeps its peak memory instead. Process-wide and idempotent; False
    where it does not apply (not Linux/glibc)."""
    global _HEAP_RETAINED
    if _HEAP_RETAINED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        _HEAP_RETAINED = bool(libc.mallopt(_M_MMAP_MAX, 0)) and \
            bool(libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold_bytes)))
    except (OSError, AttributeError):
        return False
    return _HEAP_RETAINED
