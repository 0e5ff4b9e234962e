"""Sample memory of the target model: (projected features, mask, pixel weights) with
exponentially growing sample weights.

Each new sample gets the weight of the previous newest one times (1 - eta)^-1, so after
normalisation older samples decay geometrically with rate eta; when the memory is full the
lowest-weight sample is replaced, except a pinned one (the annotated first frame), which
batches can also guarantee a minimum share of the weight. Samples store features projected
by the (then frozen) w1.
"""
from __future__ import annotations

import torch


class SampleMemory:
    """Fixed-capacity training set for online updates of the target model."""

    def __init__(self, capacity: int, eta: float):
        if capacity < 1 or not 0.0 < eta < 1.0:
            raise ValueError("capacity must be >= 1 and eta in (0, 1)")
        self.capacity = capacity
        self.eta = eta
        self.features: torch.Tensor | None = None  # (capacity, h, w, P)
        self.labels: torch.Tensor | None = None  # (capacity, h, w)
        self.pixel_weights: torch.Tensor | None = None  # (capacity, h, w)
        self.raw_weights = torch.zeros(0, dtype=torch.float64)
        self._newest = 0.0
        self.pinned: int | None = None  # slot never replaced
        self.versions: list[int] = []  # per slot: which write it holds (see UpdateBatch)
        self._writes = 0

    def __len__(self) -> int:
        return len(self.raw_weights)

    def add(self, features: torch.Tensor, labels: torch.Tensor, pixel_weights: torch.Tensor,
            weight: float | None = None, pin: bool = False) -> int:
        """Insert one sample ((h, w, P), (h, w), (h, w)); returns its slot. `weight` is
        the raw weight (default: newest * (1 - eta)^-1, or 1 for the first sample); `pin`
        makes it the sample that is never replaced."""
        if weight is None:
            weight = 1.0 if self._newest == 0.0 else self._newest / (1.0 - self.eta)
        self._newest = max(self._newest, weight)
        if self.features is None:
            shape = (self.capacity,)
            self.features = features.new_zeros(shape + tuple(features.shape))
            self.labels = labels.new_zeros(shape + tuple(labels.shape))
            self.pixel_weights = pixel_weights.new_zeros(shape + tuple(pixel_weights.shape))
        if len(self) < self.capacity:
            slot = len(self)
            self.raw_weights = torch.cat([self.raw_weights, torch.tensor([weight], dtype=torch.float64)])
        else:
            candidates = self.raw_weights.clone()
            if self.pinned is not None:
                candidates[self.pinned] = float("inf")
            slot = int(torch.argmin(candidates))
            self.raw_weights[slot] = weight
        self.features[slot] = features
        self._writes += 1
        if slot == len(self.versions):
            self.versions.append(self._writes)
        else:
            self.versions[slot] = self._writes
        self.labels[slot] = labels
        self.pixel_weights[slot] = pixel_weights
        if pin:
            self.pinned = slot
        if self._newest > 1e12:  # keep raw weights finite on endless streams
            self.raw_weights /= self._newest
            self._newest = 1.0
        return slot

    def weights(self) -> torch.Tensor:
        """Normalised sample weights (sum 1), float32 on the features' device."""
        w = self.raw_weights / self.raw_weights.sum()
        device = self.features.device if self.features is not None else "cpu"
        return w.to(device=device, dtype=torch.float32)

    def batch(self, min_relative_weight: float = 0.0, max_samples: int = 0, pinned_min_share: float = 0.0,
              reuse: "UpdateBatch | None" = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features, labels, pixel weights, normalised sample weights) of the stored samples
        whose weight is at least `min_relative_weight` times the largest one, at most the
        `max_samples` heaviest (0 = no cap): light samples contribute little to a fit, and
        skipping them bounds its cost. Weights are renormalised over the returned samples.
        With `pinned_min_share` > 0 the pinned sample is always among them (in place of the
        lightest when at the cap) with at least that share of the weight. A subset's features
        are a copy, made in `reuse` when given: only the samples it does not hold yet are
        copied (the returned features are a view of it, valid until its next use)."""
        n = len(self)
        w = self.raw_weights[:n]
        keep = torch.nonzero(w >= min_relative_weight * w.max()).flatten()
        if 0 < max_samples < len(keep):
            keep = keep[torch.argsort(w[keep], descending=True, stable=True)[:max_samples]].sort().values
        if pinned_min_share > 0 and self.pinned is not None and n > 1:
            others = keep[keep != self.pinned]
            if 0 < max_samples <= len(others):  # make room: drop the lightest of the others
                others = others[torch.argsort(w[others], descending=True, stable=True)[:max_samples - 1]]
            keep = torch.cat([others, torch.tensor([self.pinned])]).sort().values
            w = w.clone()
            rest = float(w[others].sum())
            w[self.pinned] = max(float(w[self.pinned]), pinned_min_share / (1.0 - pinned_min_share) * rest)
        elif len(keep) == n:
            return self.features[:n], self.labels[:n], self.pixel_weights[:n], self.weights()
        if reuse is not None:
            features, keep = reuse.gather(self, keep)
        else:
            features = self.features[keep.to(self.features.device)]
        kept_w = w[keep] / w[keep].sum()
        device = self.features.device
        idx = keep.to(device)
        return features, self.labels[idx], self.pixel_weights[idx], kept_w.to(device=device, dtype=torch.float32)


class UpdateBatch:
    """A reusable copy of the samples an update reads. Consecutive updates read mostly the
    same samples (with the defaults, 2 of 12 are new after 8 frames), so only the samples it
    does not hold yet are copied into it: no full gather of every sample at each update,
    which on CPU streams the whole batch through main memory."""

    def __init__(self):
        self.features: torch.Tensor | None = None  # (rows, ...) copies of memory samples
        self.held: list[tuple[int, int]] = []  # per row: (memory slot, its version) or (-1, -1)

    def gather(self, memory: SampleMemory, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The features of memory `slots` as the first len(slots) rows; returns them and the
        slots in row order."""
        k = len(slots)
        wanted = {(int(s), memory.versions[int(s)]) for s in slots}
        shape = (k,) + tuple(memory.features.shape[1:])
        if self.features is None or self.features.shape[0] < k or self.features.shape[1:] != shape[1:] \
                or self.features.dtype != memory.features.dtype or self.features.device != memory.features.device:
            self.features = memory.features.new_empty(shape)
            self.held = [(-1, -1)] * k
        rows = list(self.held)
        kept = {key for key in rows[:k] if key in wanted}
        missing = [key for key in sorted(wanted) if key not in kept]
        # rows past k that hold a wanted sample can be moved up instead of re-read
        spare = {key: r for r, key in enumerate(rows) if r >= k and key in wanted}
        for r in range(k):
            if rows[r] in kept:
                continue
            key = missing.pop()
            source = self.features[spare[key]] if key in spare else memory.features[key[0]]
            self.features[r].copy_(source)
            rows[r] = key
        self.held = rows
        order = torch.tensor([slot for slot, _ in rows[:k]], dtype=torch.long)
        return self.features[:k], order
