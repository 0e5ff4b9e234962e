"""Segmentation methods and their registry (`method` setting)."""
from __future__ import annotations

import torch

from ..config import EngineConfig
from .base import FeatureExtractor, SegmentationMethod


def build_method(config: EngineConfig, extract: FeatureExtractor,
                 device: torch.device) -> SegmentationMethod:
    """Instantiate the method named by `config.method`."""
    if config.method == "frtm":
        from .frtm import FRTMMethod as cls
    elif config.method == "visual_words":
        from .visual_words import VisualWordsMethod as cls
    elif config.method == "matching":
        from .matching import MatchingMethod as cls
    else:
        raise ValueError(f"unknown method {config.method!r}")
    return cls(config, extract, device)


__all__ = ["SegmentationMethod", "FeatureExtractor", "build_method"]
