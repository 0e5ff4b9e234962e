"""Settings of visual words (config section `visual_words.*`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class VisualWordsParams:
    """Visual words (MetaVOS): k-means words per object and background."""

    STRUCTURAL: ClassVar[tuple[str, ...]] = ("feature_stride",)
    RETIRED: ClassVar[dict[str, str]] = {}

    words_per_object: int = 50
    background_words_factor: int = 4
    temperature: float = 10.0
    kmeans_iters: int = 20
    feature_stride: int = 8
    adapt_interval: int = 5  # delta; 0 = no online adaptation
    adapt_alpha: float = 0.5  # add a new word if its cosine distance to a word of the object <= alpha
    adapt_words: int = 10  # clusters of the predicted object per adaptation (reference code)
    adapt_min_confidence: float = 0.6  # frames scored below do not adapt
    adapt_background: bool = True  # also add background words (cap: factor * max_words_per_object)
    max_words_per_object: int = 200  # first-frame words + added words (added ones merge)
    outlier_removal: bool = True
    outlier_dilation: int = 8  # px: a region must touch the previous mask dilated by this
    background_samples: int = 20000  # background pixels clustered into the shared dictionary


Params = VisualWordsParams
