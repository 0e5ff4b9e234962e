"""Segmentation methods and their registry (`method` setting).

Each method is a subpackage `methods/<name>/` with `params.py` (its settings: a dataclass
`Params`, the config section `<name>.*`) and `method.py` (its `Method`, a
`SegmentationMethod`), plus its own parts. Shared parts live in `methods/common/`. To add a
method, add its subpackage and its name to `METHODS`; nothing outside `methods/` changes.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from ..config import EngineConfig
    from .base import FeatureExtractor, SegmentationMethod

#: registered methods, the first is the default
METHODS = ("frtm", "visual_words", "matching", "lwl", "eosvos")


def _check(name: str) -> str:
    if name not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {name!r}")
    return name


def params_class(name: str) -> type:
    """The settings dataclass of method `name` (light: imports only its params module)."""
    return importlib.import_module(f"{__name__}.{_check(name)}.params").Params


def method_class(name: str) -> type["SegmentationMethod"]:
    """The SegmentationMethod subclass of method `name`."""
    return importlib.import_module(f"{__name__}.{_check(name)}.method").Method


def default_params() -> dict[str, Any]:
    """Default settings of every registered method, by name."""
    return {name: params_class(name)() for name in METHODS}


def build_method(config: "EngineConfig", extract: "FeatureExtractor",
                 device: "torch.device") -> "SegmentationMethod":
    """Instantiate the method named by `config.method`."""
    return method_class(config.method)(config, extract, device)


__all__ = ["METHODS", "build_method", "default_params", "method_class", "params_class"]
