"""VideoMatch soft matching (Hu, Huang, Schwing, "VideoMatch: Matching based Video Object
Segmentation", ECCV 2018), training-free on the frozen backbone.

Per object, a foreground and a background set of L2-normalised pixel features
(`fused(feature_stride)`) come from the frame the object is added on (background = every
pixel outside its mask, other objects included). Soft matching: a pixel's score against a
set is the mean of its top-K cosine similarities to it (computed in chunks of pixels, so
memory stays pixels-chunk x set size). The paper's softmax over the two scores is
p_fg = sigmoid(T (s_fg - s_bg)). With generic ImageNet features the margins s_fg - s_bg
lie within about +-0.3 (the paper's learned features are trained for T = 1), so a temperature
is needed for the update threshold c1 to be reachable: T = 20 maps a margin of 0.15 cosine
(a typical object-pixel margin, see docs/RESULTS.md) to p = 0.95 = c1, so only clearly
matched pixels enter the foreground set. Known limits of the
top-K mean with generic features: the background set is typically 5-10x larger than the
foreground one, which raises its top-K mean, so deforming objects shrink (dance-twirl); an
object smaller than K feature cells is scored by the mean over its whole set.

Outlier removal: predicted foreground is kept only where it overlaps the object's previous
mask dilated by d_c pixels (`outlier_dilation`, processing resolution; a square rounded up
to whole feature cells), judged per
region: an 8-connected foreground component on the feature grid is kept whole when it
touches the dilated mask and removed otherwise (judging single pixels instead cuts fast
limbs off and shrinks masks; docs/RESULTS.md). An
object whose previous mask is empty is searched everywhere.

Online update, on frames whose confidence (mean foreground probability of the mask) reaches
`update_min_confidence`: feature cells of the final mask eroded by one cell with probability
> c1 join the foreground set, and the removed outliers join the background set. With generic
features, removed regions are often true object parts (limbs); 0.8 keeps such frames from
teaching the background set the object (docs/RESULTS.md). Multi-object fusion is the
"argmax" aggregation (background below c2).

Bounded sets: each stored feature carries a usage score, decayed by `usage_decay` every
frame and incremented whenever the feature is among the top-K matches of a pixel that ends
up with the set's label (a foreground feature supporting predicted foreground, a background
feature supporting predicted background). When a set exceeds its cap (`max_foreground`,
`max_background`) the least-used features added online are evicted; a new feature starts
at the median usage of the online features, so it is neither evicted before it could be
matched nor favoured over proven ones. First-frame features are never evicted; if the
first frame alone exceeds the cap it is subsampled once, at initialisation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ...backbone.features import Features
from ..base import FeatureExtractor, SegmentationMethod
from ..common.embeddings import EmbeddingCache, chunk_rows, subsample
from ..common.grid_masks import erode_cells, grid_mask, object_cells
from ..common.outliers import MovingAnchor, anchor, unanchored
from .params import MatchingParams

if TYPE_CHECKING:
    from ...config import EngineConfig


def topk_mean_similarity(emb: torch.Tensor, bank: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of each pixel's top-k cosine similarities to `bank` (rows L2-normalised):
    (N,) scores and (N, k') indices into the bank, k' = min(k, len(bank))."""
    k = min(k, len(bank))
    rows = chunk_rows(len(bank))
    scores, indices = [], []
    for chunk in emb.split(rows):
        top = (chunk @ bank.T).topk(k, dim=1)
        scores.append(top.values.mean(dim=1))
        indices.append(top.indices)
    return torch.cat(scores), torch.cat(indices)


@dataclass
class FeatureSet:
    """A bounded set of features: first-frame rows (never evicted) then online rows."""

    features: torch.Tensor  # (n, C)
    capacity: int
    decay: float
    n_fixed: int = field(init=False)
    usage: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.n_fixed = len(self.features)
        self.usage = self.features.new_zeros(len(self.features))

    def __len__(self) -> int:
        return len(self.features)

    def record(self, indices: torch.Tensor) -> None:
        """Decay usage, then count each index of (P, k) top-k matches once per pixel."""
        self.usage.mul_(self.decay)
        if indices.numel():
            self.usage += torch.bincount(indices.reshape(-1), minlength=len(self)).to(self.usage.dtype)

    def add(self, new: torch.Tensor) -> None:
        """Append online features, then evict the least-used online ones over capacity."""
        if len(new) == 0:
            return
        online = self.usage[self.n_fixed:]
        start = float(online.median()) if len(online) else 0.0
        self.features = torch.cat([self.features, new])
        self.usage = torch.cat([self.usage, self.usage.new_full((len(new),), start)])
        excess = len(self) - max(self.capacity, self.n_fixed)
        if excess > 0:
            evict = self.usage[self.n_fixed:].topk(excess, largest=False).indices + self.n_fixed
            keep = torch.ones(len(self), dtype=torch.bool, device=self.features.device)
            keep[evict] = False
            self.features, self.usage = self.features[keep], self.usage[keep]


@dataclass
class _Target:
    foreground: FeatureSet
    background: FeatureSet
    anchor: torch.Tensor | None = None  # (h, w) previous mask dilated by d_c; None = anywhere
    outliers: torch.Tensor | None = None  # (N,) cells removed as outliers in the last predict
    mover: MovingAnchor | None = None  # the moving outlier window (used when moving_anchor)


class MatchingMethod(SegmentationMethod):
    aggregation = "argmax"

    params: MatchingParams  # config.matching

    def __init__(self, config: "EngineConfig", extract: FeatureExtractor, device: torch.device):
        super().__init__(config, extract, device)
        self.stride = self.params.feature_stride
        self.targets: dict[int, _Target] = {}
        self._embeddings = EmbeddingCache(self.stride)
        self._gen = torch.Generator().manual_seed(config.seed)

    def aggregation_options(self) -> dict[str, Any]:
        return {"background_threshold": self.params.background_threshold}

    def label_threshold(self, score_threshold: float) -> float:
        return 0.0  # the fusion has its own object threshold (c2, background_threshold)

    def reconfigure(self, config: "EngineConfig") -> None:
        """New caps and decay apply to the existing sets from their next addition on."""
        super().reconfigure(config)
        for target in self.targets.values():
            target.foreground.capacity, target.background.capacity = \
                self.params.max_foreground, self.params.max_background
            target.foreground.decay = target.background.decay = self.params.usage_decay

    def add_object(self, object_id: int, image: torch.Tensor, features: Features,
                   mask: torch.Tensor) -> None:
        prm = self.params
        emb = self._embeddings(features)
        size = tuple(features.fused(self.stride).shape[-2:])
        cells = object_cells(mask, size).reshape(-1)
        touched = grid_mask(mask > 0, size).reshape(-1)  # mixed cells are not background
        background = emb[~touched]
        if len(background) == 0:  # the object fills the frame: one feature orthogonal to all
            background = emb.new_zeros(1, emb.shape[1])
        fg = FeatureSet(subsample(emb[cells], prm.max_foreground, self._gen), prm.max_foreground, prm.usage_decay)
        bg = FeatureSet(subsample(background, prm.max_background, self._gen), prm.max_background, prm.usage_decay)
        target = _Target(fg, bg, mover=MovingAnchor(prm.outlier_dilation, self.stride, prm.anchor_size_fraction))
        target.anchor = self._anchor(target, mask > 0, size)
        self.targets[object_id] = target

    def _anchor(self, target: _Target, mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor | None:
        """The outlier window for the frame after `mask` (None: search everywhere)."""
        prm, mover = self.params, target.mover
        if prm.moving_anchor:
            mover.dilation, mover.size_fraction = prm.outlier_dilation, prm.anchor_size_fraction
            return mover(mask, size)
        mover.centroid = None
        return anchor(mask, size, prm.outlier_dilation, self.stride)

    def remove_object(self, object_id: int) -> None:
        del self.targets[object_id]

    def predict(self, features: Features) -> dict[int, torch.Tensor]:
        prm = self.params
        emb = self._embeddings(features)
        h, w = features.fused(self.stride).shape[-2:]
        out = {}
        for object_id, target in self.targets.items():
            s_fg, i_fg = topk_mean_similarity(emb, target.foreground.features, prm.top_k)
            s_bg, i_bg = topk_mean_similarity(emb, target.background.features, prm.top_k)
            prob = torch.sigmoid(prm.temperature * (s_fg - s_bg))
            drop = unanchored((prob > 0.5).reshape(h, w), target.anchor)
            target.outliers = None if drop is None else drop.reshape(-1)
            if target.outliers is not None:
                prob = prob * ~target.outliers
            fg = prob > 0.5
            target.foreground.record(i_fg[fg])
            target.background.record(i_bg[~fg])
            out[object_id] = prob.reshape(h, w)
        return out

    def update(self, features: Features, probs: dict[int, torch.Tensor], masks: dict[int, torch.Tensor],
               confidence: dict[int, float]) -> None:
        prm = self.params
        emb = self._embeddings(features)
        size = tuple(features.fused(self.stride).shape[-2:])
        for object_id, target in self.targets.items():
            mask = masks[object_id]
            target.anchor = self._anchor(target, mask, size)
            if not prm.online_update or confidence.get(object_id, 0.0) < prm.update_min_confidence:
                continue
            prob = F.adaptive_avg_pool2d((probs[object_id] * mask)[None, None], size)[0, 0]
            sure = erode_cells(prob > prm.update_threshold).reshape(-1)
            target.foreground.add(emb[sure])
            if target.outliers is not None:
                target.background.add(emb[target.outliers])

    def memory_footprint(self) -> dict[int, int]:
        return {object_id: len(t.foreground) + len(t.background) for object_id, t in self.targets.items()}


Method = MatchingMethod
