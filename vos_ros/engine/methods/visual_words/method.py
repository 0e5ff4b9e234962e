"""MetaVOS visual words (Behl et al., "Meta Learning Deep Visual Words for Fast Video Object
Segmentation"), training-free on the frozen backbone.

Embeddings are the L2-normalised per-pixel features `fused(feature_stride)`.

Dictionary. Each object's first-frame pixels are clustered (spherical k-means) into
`words_per_object` words. One background dictionary of `background_words_factor` times as
many words is shared by all objects: it is clustered from the pixels outside every object's
mask, and re-clustered whenever an object is added (on the frame where objects are added
together the pixels of all of them are excluded; background pixels of earlier initialisation
frames are kept in a bounded sample pool).

Classification (paper Eq. 3-4). p(word j | x) = softmax_j(T cos(x, w_j)) over all words; an
object's probability is its best word's probability normalised over the objects and the
background. The softmax denominator cancels, so this is softmax over labels of
T * max_{j in label} cos(x, w_j): one pass labels every object, the cost grows only with the
number of words, and T shapes the soft map but not the arg-max mask. (The reference code
uses T = 1 on embeddings trained for it; generic features separate labels by ~0.1 cosine,
which T = 10 maps to p ~ 0.73, the scale the confidence gates below are set for.)

Outlier removal (the reference implementation's connected-component step): a predicted
region (8-connected component of the label map on the feature grid) that does not touch the
object's previous mask dilated by `outlier_dilation` pixels (processing resolution) is
dropped and its pixels go to the next most probable label; repeated twice as in the
reference code. An object whose previous mask is empty is searched everywhere. This
component-level test acts as the previous-mask prior: a pixel-level prior (suppressing the
object beyond its dilated previous mask) gave no further gain once the background adapts.

Online adaptation. Every `adapt_interval` frames, when the object's confidence is at least
`adapt_min_confidence`, its predicted pixels (eroded by one feature cell, away from mixed
boundary cells) are clustered into `adapt_words` words, and a new word is added only when it
is within `adapt_alpha` of an existing word of that object. The paper adds clusters "within
alpha of existing ones"; its reference code implements this as cosine similarity to the
nearest existing word > 0.5 (Mode_Update_Simularity_Threshold). Here: cosine distance
1 - cos <= alpha (alpha = 0.5 is the reference setting). Words far from every existing word
are treated as drift (background leaking into the prediction) and rejected. The background
dictionary adapts the same way (as in the reference code) from the pixels outside every
object's dilated mask, when every visible object is confident; words it adds are reset
when an object is added (the background is re-clustered then). What each adaptation is
worth: docs/RESULTS.md.

Bounded dictionary. First-frame words are never discarded. When an object holds more than
`max_words_per_object` words, the two most similar ADDED words are merged into their
count-weighted mean (count = pixels the word was clustered from; the merged word keeps the
sum), repeated until the cap holds. Merging the closest pair loses the least resolution of
the dictionary, keeps rare but distinct appearances, and lets frequent ones consolidate.
The background's added words are capped at `background_words_factor` times that cap.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ...backbone.features import Features
from ..base import FeatureExtractor, SegmentationMethod
from ..common.embeddings import EmbeddingCache, chunk_rows, subsample
from ..common.grid_masks import erode_cells, grid_mask, object_cells, unanchored_regions
from ..common.kmeans import spherical_kmeans
from ..common.outliers import anchor
from .params import VisualWordsParams

if TYPE_CHECKING:
    from ...config import EngineConfig

_OUTLIER_PASSES = 2


def best_word_similarity(emb: torch.Tensor, words: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """For each label (consecutive groups of `sizes` words), each pixel's best cosine
    similarity: (len(sizes), N); computed in pixel chunks."""
    rows = chunk_rows(words.shape[0])
    out = []
    for chunk in emb.split(rows):
        sims = chunk @ words.T
        out.append(torch.stack([s.amax(dim=1) for s in sims.split(sizes, dim=1)]))
    return torch.cat(out, dim=1)


def label_probabilities(emb: torch.Tensor, words: torch.Tensor, sizes: list[int],
                        temperature: float) -> torch.Tensor:
    """Paper Eq. 3-4: (L, N) probability of each label (background first, then objects)."""
    return torch.softmax(temperature * best_word_similarity(emb, words, sizes), dim=0)


def merge_closest(words: torch.Tensor, counts: torch.Tensor, keep: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the two most similar words into their count-weighted mean until `keep` remain."""
    words, counts = words.clone(), counts.clone().float()
    while len(words) > max(keep, 1):
        sims = words @ words.T
        sims.fill_diagonal_(-2.0)
        i, j = divmod(int(sims.argmax()), len(words))
        words[i] = F.normalize(counts[i] * words[i] + counts[j] * words[j], dim=0)
        counts[i] += counts[j]
        rest = torch.arange(len(words), device=words.device) != j
        words, counts = words[rest], counts[rest]
    if keep <= 0:
        return words[:0], counts[:0]
    return words, counts


@dataclass
class _Words:
    """The dictionary of one label (an object or the background)."""

    first: torch.Tensor  # (k0, C) words clustered at initialisation, never discarded
    added: torch.Tensor  # (m, C) words added online
    counts: torch.Tensor  # (m,) pixels summarised by each added word
    frames_since_adapt: int = 0

    @classmethod
    def of(cls, first: torch.Tensor) -> "_Words":
        return cls(first, first[:0], first.new_zeros(0))

    @property
    def words(self) -> torch.Tensor:
        return torch.cat([self.first, self.added])

    def __len__(self) -> int:
        return len(self.first) + len(self.added)


@dataclass
class _InitFrame:
    """The latest frame objects were added on: its embeddings and the union of their masks."""

    features: Features
    emb: torch.Tensor  # (N, C)
    union: torch.Tensor  # (N,) bool, pixels belonging to some object


class VisualWordsMethod(SegmentationMethod):
    aggregation = "normalized"
    score_calibration = (-12.14, 11.31, 5.31)  # fitted on davis2016-train (docs/RESULTS.md)

    params: VisualWordsParams  # config.visual_words

    def __init__(self, config: "EngineConfig", extract: FeatureExtractor, device: torch.device):
        super().__init__(config, extract, device)
        self.reconfigure(config)
        self.stride = self.params.feature_stride
        self._embeddings = EmbeddingCache(self.stride)
        self.objects: dict[int, _Words] = {}
        self.background: _Words | None = None
        self._pool: torch.Tensor | None = None  # background samples of earlier init frames
        self._init: _InitFrame | None = None
        self._anchor: dict[int, torch.Tensor] = {}  # previous mask, outlier dilation, grid
        self._cells: dict[int, torch.Tensor] = {}  # previous mask, object cells, grid
        self._gen = torch.Generator().manual_seed(config.seed)

    def reconfigure(self, config: "EngineConfig") -> None:
        """New caps and adaptation settings apply from the next adaptation on."""
        if config.params.max_words_per_object < config.params.words_per_object:
            raise ValueError("visual_words.max_words_per_object must be >= words_per_object")
        super().reconfigure(config)

    # ------------------------------------------------------------------ objects
    def add_object(self, object_id: int, image: torch.Tensor, features: Features,
                   mask: torch.Tensor) -> None:
        prm = self.params
        emb = self._embeddings(features)
        size = tuple(features.fused(self.stride).shape[-2:])
        if self._init is None or self._init.features is not features:
            self._close_init_frame()
            union = torch.zeros(size, dtype=torch.bool, device=emb.device)
            for other, cells in self._cells.items():
                if other != object_id:
                    union |= cells
            self._init = _InitFrame(features, emb, union.reshape(-1))
        cells = object_cells(mask, size)
        self._init.union |= grid_mask(mask > 0, size).reshape(-1)
        first, _ = spherical_kmeans(emb[cells.reshape(-1)], prm.words_per_object,
                                    prm.kmeans_iters, self._gen)
        self.objects[object_id] = _Words.of(first)
        self._remember_mask(object_id, mask > 0, size)
        self._recluster_background()

    def remove_object(self, object_id: int) -> None:
        del self.objects[object_id]
        for d in (self._anchor, self._cells):
            d.pop(object_id, None)

    # ------------------------------------------------------------------ frames
    def predict(self, features: Features) -> dict[int, torch.Tensor]:
        ids = list(self.objects)
        emb = self._embeddings(features)
        h, w = features.fused(self.stride).shape[-2:]
        words = [self.background.words] + [self.objects[i].words for i in ids]
        logits = self.params.temperature * best_word_similarity(
            emb, torch.cat(words), [len(x) for x in words]).reshape(len(words), h, w)
        probs = torch.softmax(logits, dim=0)
        if self.params.outlier_removal:
            probs = self._remove_outliers(ids, logits, probs)
        return {object_id: probs[k] for k, object_id in enumerate(ids, start=1)}

    def update(self, features: Features, probs: dict[int, torch.Tensor], masks: dict[int, torch.Tensor],
               confidence: dict[int, float]) -> None:
        emb = self._embeddings(features)
        size = tuple(features.fused(self.stride).shape[-2:])
        prm = self.params
        for object_id in self.objects:
            self._remember_mask(object_id, masks[object_id], size)
            if self._due(self.objects[object_id], confidence.get(object_id, 0.0)):
                self._adapt(self.objects[object_id], emb[erode_cells(self._cells[object_id]).reshape(-1)],
                            prm.max_words_per_object)
        visible = [c for c in confidence.values() if c > 0]  # objects out of view do not block
        if prm.adapt_background and self._due(self.background, min(visible) if visible else 0.0):
            near_objects = torch.zeros(size, dtype=torch.bool, device=emb.device)
            for anchor in self._anchor.values():
                near_objects |= anchor
            self._adapt(self.background, emb[~near_objects.reshape(-1)],
                        prm.background_words_factor * prm.max_words_per_object)

    def memory_footprint(self) -> dict[int, int]:
        return {object_id: len(words) for object_id, words in self.objects.items()}

    # ---------------------------------------------------------------- internals
    def _remember_mask(self, object_id: int, mask: torch.Tensor, size: tuple[int, int]) -> None:
        """Keep the previous mask on the feature grid; an empty one lifts the outlier test."""
        if not bool(mask.any()):
            self._cells[object_id] = torch.zeros(size, dtype=torch.bool, device=mask.device)
            self._anchor.pop(object_id, None)
            return
        self._cells[object_id] = object_cells(mask, size)
        self._anchor[object_id] = anchor(mask, size, self.params.outlier_dilation, self.stride)

    def _remove_outliers(self, ids: list[int], logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        for _ in range(_OUTLIER_PASSES):
            labels = probs.max(dim=0).indices.cpu().numpy()
            changed = False
            for k, object_id in enumerate(ids, start=1):
                anchor = self._anchor.get(object_id)
                if anchor is None:
                    continue
                drop = unanchored_regions(labels == k, anchor.cpu().numpy())
                if drop.any():
                    logits[k][torch.from_numpy(drop).to(logits.device)] = float("-inf")
                    changed = True
            if not changed:
                break
            probs = torch.softmax(logits, dim=0)
        return probs

    def _due(self, words: _Words, confidence: float) -> bool:
        """Count a frame for `words`; True (and restart) when an adaptation is due and allowed."""
        prm = self.params
        words.frames_since_adapt += 1
        if prm.adapt_interval <= 0 or words.frames_since_adapt < prm.adapt_interval \
                or confidence < prm.adapt_min_confidence:
            return False
        words.frames_since_adapt = 0
        return True

    def _adapt(self, words: _Words, samples: torch.Tensor, cap: int) -> None:
        """Add the clusters of `samples` within alpha of existing words; merge down to `cap`."""
        prm = self.params
        if len(samples) < prm.adapt_words:
            return
        new, assign = spherical_kmeans(samples, prm.adapt_words, prm.kmeans_iters, self._gen)
        counts = torch.bincount(assign, minlength=len(new)).float()
        near = (1.0 - (new @ words.words.T).amax(dim=1)) <= prm.adapt_alpha
        if not bool(near.any()):
            return
        added = torch.cat([words.added, new[near]])
        weights = torch.cat([words.counts, counts[near]])
        room = cap - len(words.first)
        if len(added) > room:
            added, weights = merge_closest(added, weights, room)
        words.added, words.counts = added, weights

    def _close_init_frame(self) -> None:
        """Move the background pixels of the previous init frame into the sample pool."""
        if self._init is None:
            return
        samples = self._init.emb[~self._init.union]
        pool = samples if self._pool is None else torch.cat([self._pool, samples])
        self._pool = subsample(pool, self.params.background_samples, self._gen)

    def _recluster_background(self) -> None:
        prm = self.params
        current = self._init.emb[~self._init.union]
        current = subsample(current, prm.background_samples, self._gen)
        pool = self._pool if self._pool is not None else current[:0]
        samples = torch.cat([current, subsample(pool, prm.background_samples - len(current), self._gen)])
        if len(samples) == 0:  # objects cover the whole image: one word orthogonal to all
            self.background = _Words.of(current.new_zeros(1, current.shape[1]))
            return
        words, _ = spherical_kmeans(samples, prm.background_words_factor * prm.words_per_object,
                                    prm.kmeans_iters, self._gen)
        self.background = _Words.of(words)


Method = VisualWordsMethod
