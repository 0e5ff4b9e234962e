"""The processed form of a frame (tensor, guide, backbone features), kept for the latest one.

`step` processes each frame once; `add_object` on the frame just stepped reuses it. The
store is keyed by the frame: the same array object, or an array with equal pixels (a copy
of it), finds the entry. The array is held, not copied (no cost per step): a caller that
refills the same buffer in place with a new image between `step` and `add_object` must
pass a copy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .backbone.features import Features


@dataclass
class ProcessedFrame:
    """One frame at processing resolution."""

    image: torch.Tensor  # (1, 3, H, W) float RGB in [0, 255] on the engine's device
    guide: np.ndarray  # (H, W, 3) uint8 RGB: the edge guide of the upsample stage
    features: Features  # the backbone's multi-scale features of `image`

    @property
    def size(self) -> tuple[int, int]:
        return self.features.image_size


class FrameStore:
    """The latest frame's ProcessedFrame, keyed by the frame."""

    def __init__(self) -> None:
        self._frame: np.ndarray | None = None
        self._processed: ProcessedFrame | None = None

    def put(self, frame: np.ndarray, processed: ProcessedFrame) -> None:
        self._frame, self._processed = frame, processed

    def get(self, frame: np.ndarray) -> ProcessedFrame | None:
        """The entry of `frame` (same pixels), or None."""
        key = self._frame
        if key is None:
            return None
        if key is frame or (key.shape == frame.shape and key.dtype == frame.dtype
                            and np.array_equal(key, frame)):
            return self._processed
        return None

    def clear(self) -> None:
        self._frame = self._processed = None
