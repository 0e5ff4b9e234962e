"""Process-wide settings, applied by the entry points only (the `vos-ros` tools and the
node's `main`), never by the engine's constructors: PyTorch's thread count, glibc's
allocator policy and the interpreter's GIL switch interval."""
from __future__ import annotations

import ctypes
import sys

import torch

#: the node's worker makes many short PyTorch calls that re-acquire the GIL after each one;
#: with image callbacks busy in other threads, the default 5 ms switch interval lets one frame
#: wait seconds. A short interval bounds that wait.
GIL_SWITCH_INTERVAL_S = 0.0005


def configure_process(config, *, node: bool = False) -> None:
    """Apply an EngineConfig's process-wide settings (`threads`, `retain_heap`); with
    `node`, also the short GIL switch interval of the ROS node's worker."""
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if config.retain_heap:
        retain_freed_heap()
    if node:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameters
_HEAP_RETAINED = False


def retain_freed_heap(trim_threshold_bytes: int = 1 << 30) -> bool:
    """Make glibc's allocator reuse freed memory instead of returning it to the OS: large
    blocks come from the heap rather than fresh mmap()s (M_MMAP_MAX = 0), and up to
    `trim_threshold_bytes` of free heap is kept (M_TRIM_THRESHOLD). Each frame allocates
    and frees the same large feature maps; by default every one of them is a new mapping
    filled through page faults, which makes the backbone slower on CPU (docs/RESULTS.md).
    (Setting only
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
