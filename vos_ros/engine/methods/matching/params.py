"""Settings of soft matching (config section `matching.*`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class MatchingParams:
    """Soft matching (VideoMatch): mean of top-K cosine similarities to fg/bg sets."""

    STRUCTURAL: ClassVar[tuple[str, ...]] = ("feature_stride",)
    RETIRED: ClassVar[dict[str, str]] = {}  # none retired yet

    top_k: int = 20
    feature_stride: int = 8
    outlier_dilation: int = 15  # d_c, pixels at processing resolution
    # the outlier window follows the object (its last displacement) and widens with its
    # size (this fraction of sqrt(area)) and speed; false = the previous mask dilated by d_c
    moving_anchor: bool = True
    anchor_size_fraction: float = 0.5
    update_threshold: float = 0.95  # c1
    background_threshold: float = 0.4  # c2
    online_update: bool = True
    update_min_confidence: float = 0.8  # frames scored below do not update the sets
    # p_fg = sigmoid(T (s_fg - s_bg)); 20 maps a 0.15 cosine margin to c1 = 0.95
    temperature: float = 20.0
    max_foreground: int = 4000
    max_background: int = 12000
    usage_decay: float = 0.9  # per frame, of each stored feature's top-K usage (eviction order)


Params = MatchingParams
