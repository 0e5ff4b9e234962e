"""The interface every segmentation method implements behind the Segmenter.

A method holds the per-object appearance models. The Segmenter owns the backbone, runs it
once per frame, and hands the shared `Features` to the method; it also owns upsampling,
aggregation of objects into one label map, visibility and box handling.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, ClassVar

import torch

from ..config import EngineConfig
from ..features import Features

#: image (1, 3, H, W) float RGB in [0, 255] at processing resolution -> its features
FeatureExtractor = Callable[[torch.Tensor], Features]


class SegmentationMethod(ABC):
    """Per-object models that turn shared backbone features into foreground probabilities."""

    name: ClassVar[str]
    #: how the Segmenter combines per-object probabilities into a label map:
    #: "soft" - independent per-object probabilities, soft aggregation (FRTM, RGMP-style);
    #: "argmax" - argmax over objects, background where the best is below a threshold (VideoMatch);
    #: "normalized" - probabilities already normalised over objects + background (visual words).
    aggregation: ClassVar[str] = "soft"

    def __init__(self, config: EngineConfig, extract: FeatureExtractor, device: torch.device):
        self.config = config
        self.extract = extract
        self.device = device

    @abstractmethod
    def add_object(self, object_id: int, image: torch.Tensor, features: Features,
                   mask: torch.Tensor) -> None:
        """Learn a new object (or re-learn an existing id).

        image: (1, 3, H, W) RGB float in [0, 255]; features: its backbone features;
        mask: (H, W) float {0, 1}, non-empty, all at processing resolution on `device`.
        """

    @abstractmethod
    def remove_object(self, object_id: int) -> None:
        """Forget an object; the others are unaffected."""

    @abstractmethod
    def predict(self, features: Features) -> dict[int, torch.Tensor]:
        """Foreground probability per object, each (h, w) in [0, 1] at any resolution with
        the image's aspect (the Segmenter upsamples to processing resolution)."""

    @abstractmethod
    def update(self, features: Features, probs: dict[int, torch.Tensor], masks: dict[int, torch.Tensor],
               confidence: dict[int, float], frame_index: int) -> None:
        """Online adaptation after a frame: `probs` are the final per-object probabilities
        (h, w) after aggregation, `masks` each object's (h, w) bool pixels of the frame's
        label map (after clean-up), both at the output working resolution; `confidence` the
        per-object score in [0, 1] (0 when the object was judged not visible).
        Low-confidence frames must not corrupt the model."""

    @abstractmethod
    def memory_footprint(self) -> dict[int, int]:
        """Per object, the number of stored items (samples, words, features) - used to
        check that models stay bounded on endless streams."""

    def reconfigure(self, config: EngineConfig) -> None:
        """Adopt changed run-time settings (thresholds, update settings); the models stay."""
        self.config = config

    def object_ids(self) -> list[int]:
        return sorted(self.memory_footprint())
