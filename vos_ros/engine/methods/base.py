"""The interface every segmentation method implements behind the session.

A method holds the per-object appearance models. The session owns the backbone, runs it
once per frame, and hands the shared `Features` to the method; it also owns upsampling,
aggregation of objects into one label map, visibility and box handling. What the generic
stages need to know about a method it says here: how its scores aggregate
(`aggregation`, `aggregation_options`, `label_threshold`) and what it needs of the backbone
(`needs_stride32`); its settings are `config.params` (its own `params.py`).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import torch

from ..backbone.features import Features

if TYPE_CHECKING:
    from ..config import EngineConfig

#: image (1, 3, H, W) float RGB in [0, 255] at processing resolution -> its features
FeatureExtractor = Callable[[torch.Tensor], Features]


class SegmentationMethod(ABC):
    """Per-object models that turn shared backbone features into foreground probabilities."""

    #: how the session combines per-object probabilities into a label map (pipeline/aggregation):
    #: "soft" - independent per-object probabilities, soft aggregation (RGMP-style);
    #: "argmax" - argmax over objects, background where the best is below a threshold;
    #: "normalized" - probabilities already normalised over objects + background.
    aggregation: ClassVar[str] = "soft"
    #: (w0, w1, w2) of the calibrated score sigmoid(w0 + w1 * mean mask probability +
    #: w2 * appearance similarity), an estimate of the mask's IoU (pipeline/evidence.py);
    #: fitted on the training set per method (docs/RESULTS.md, "Robust tracking"); this
    #: default is the fit pooled over frtm and visual_words
    score_calibration: ClassVar[tuple[float, float, float]] = (-10.08, 3.92, 9.14)

    def __init__(self, config: "EngineConfig", extract: FeatureExtractor, device: torch.device):
        self.config = config
        self.params = config.params
        self.extract = extract
        self.device = device

    @classmethod
    def needs_stride32(cls, params: Any) -> bool:
        """Whether the backbone must also return its stride-32 level for these settings."""
        return False

    def aggregation_options(self) -> dict[str, Any]:
        """Keyword arguments of `pipeline.aggregation.aggregate` for this method's mode."""
        return {}

    def label_threshold(self, score_threshold: float) -> float:
        """Least probability of a pixel's winning object (below it: background), given the
        user's `score_threshold`; a method whose aggregation thresholds itself returns 0."""
        return score_threshold

    @abstractmethod
    def add_object(self, object_id: int, image: torch.Tensor, features: Features,
                   mask: torch.Tensor) -> None:
        """Learn a new object (or re-learn an existing id).

        image: (1, 3, H, W) RGB float in [0, 255]; features: its backbone features;
        mask: (H, W) float {0, 1}, non-empty, all at processing resolution on `device`.
        """

    def add_object_from_box(self, object_id: int, image: torch.Tensor, features: Features,
                            mask: torch.Tensor, box: tuple[int, int, int, int]) -> None:
        """`add_object` for an object given by a box: `mask` is the first mask the session
        made of it, `box` (x0, y0, x1, y1) at processing resolution. A method that treats
        such uncertain first masks differently overrides this."""
        self.add_object(object_id, image, features, mask)

    @abstractmethod
    def remove_object(self, object_id: int) -> None:
        """Forget an object; the others are unaffected."""

    @abstractmethod
    def predict(self, features: Features) -> dict[int, torch.Tensor]:
        """Foreground probability per object, each (h, w) in [0, 1] at any resolution with
        the image's aspect (the session's upsample stage takes it to the output grid)."""

    @abstractmethod
    def update(self, features: Features, probs: dict[int, torch.Tensor], masks: dict[int, torch.Tensor],
               confidence: dict[int, float]) -> None:
        """Online adaptation after a frame: `probs` are the final per-object probabilities
        (h, w) after aggregation, `masks` each object's (h, w) bool pixels of the frame's
        label map (after clean-up), both at the output working resolution; `confidence` the
        per-object score in [0, 1] (0 when the object was judged not visible).
        Low-confidence frames must not corrupt the model."""

    @abstractmethod
    def memory_footprint(self) -> dict[int, int]:
        """Per object, the number of stored items (samples, words, features) - used to
        check that models stay bounded on endless streams."""

    def reconfigure(self, config: "EngineConfig") -> None:
        """Adopt changed run-time settings (thresholds, update settings); the models stay."""
        self.config = config
        self.params = config.params
