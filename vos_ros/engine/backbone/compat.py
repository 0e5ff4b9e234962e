"""Import torchvision on installs where its compiled ops cannot load.

The only torchvision 0.28.0 wheel is a CUDA build. With a CPU-only torch its `_C` library
fails to load, and `import torchvision` then dies registering fake kernels for
`torchvision::nms` / `torchvision::qnms`, which do not exist. When (and only when) that
happens we define those two operator schemas ourselves (no kernels: nms stays unavailable), so
model definitions, feature extraction, box ops and the pure-torch roi_align fallback work.
Where the compiled ops load (any CUDA install), nothing here changes anything.
"""
from __future__ import annotations

import importlib
import logging
import types

import torch

_LOG = logging.getLogger(__name__)
_FALLBACK_LIB: torch.library.Library | None = None  # keeps the op definitions alive


def _define_missing_ops() -> None:
    global _FALLBACK_LIB
    if hasattr(torch.ops.torchvision, "nms"):
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _FALLBACK_LIB = lib


def import_torchvision() -> types.ModuleType:
    """Return the torchvision module, defining missing op schemas if its `_C` cannot load."""
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
        _LOG.info("torchvision compiled ops unavailable (%s); using pure-PyTorch fallbacks", err)
    import sys

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    _define_missing_ops()
    return importlib.import_module("torchvision")

