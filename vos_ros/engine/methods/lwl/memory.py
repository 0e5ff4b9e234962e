"""LWL's per-object sample memory: at most K_max samples, geometrically decaying weights.

Each new sample multiplies the stored weights by eta and enters with weight 1 - eta (the
first sample with 1); weights are normalised when read. When full, the lightest sample is
replaced, except the first (the annotated frame), which is kept (and can be given a least
share of the weight, as pytracking's LWL gives it 0.25); for box-initialised
objects the first is the sample replaced once K_max samples have been added.
"""
from __future__ import annotations

import torch


class SampleMemory:
    """Features (C, h, w), labels and element weights (D, h, w) per sample, in fixed buffers."""

    def __init__(self, capacity: int, eta: float, keep_first_for: int | None = None):
        """keep_first_for: the first sample is kept until this many samples were added
        (None = always)."""
        if capacity < 1 or not 0.0 < eta < 1.0:
            raise ValueError("capacity must be >= 1 and eta in (0, 1)")
        self.capacity, self.eta, self.keep_first_for = capacity, eta, keep_first_for
        self.features: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self.weights: torch.Tensor | None = None
        self.raw_weights = torch.zeros(0, dtype=torch.float64)
        self.added = 0
        self.first_slot: int | None = None  # slot of the first sample while it is kept

    def __len__(self) -> int:
        return len(self.raw_weights)

    def add(self, features: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> int:
        """Store one sample; returns its slot."""
        if self.features is None:
            self.features = features.new_zeros((self.capacity,) + tuple(features.shape))
            self.labels = labels.new_zeros((self.capacity,) + tuple(labels.shape))
            self.weights = weights.new_zeros((self.capacity,) + tuple(weights.shape))
        if self.added == 0:
            new = 1.0
            self.first_slot = 0
        else:
            self.raw_weights *= self.eta
            new = 1.0 - self.eta
        drop_first = self.keep_first_for is not None and self.added >= self.keep_first_for \
            and self.first_slot is not None and len(self) == self.capacity
        if drop_first:  # the first sample is the one replaced, then it is gone
            slot, self.first_slot = self.first_slot, None
            self.raw_weights[slot] = new
        elif len(self) < self.capacity:
            slot = len(self)
            self.raw_weights = torch.cat([self.raw_weights, torch.tensor([new], dtype=torch.float64)])
        else:
            candidates = self.raw_weights.clone()
            if self.first_slot is not None:
                candidates[self.first_slot] = float("inf")
            slot = int(torch.argmin(candidates))
            if slot == self.first_slot:  # capacity 1
                self.first_slot = None
            self.raw_weights[slot] = new
        self.features[slot], self.labels[slot], self.weights[slot] = features, labels, weights
        self.added += 1
        total = float(self.raw_weights.sum())
        if total < 1e-6:  # keep the raw weights in range on endless streams
            self.raw_weights /= total
        return slot

    def sample_weights(self, first_min_share: float = 0.0) -> torch.Tensor:
        """Normalised sample weights (sum 1), float32 on the features' device; while the
        first sample is kept it has at least `first_min_share` of the weight."""
        w = self.raw_weights / self.raw_weights.sum()
        first = self.first_slot
        if first is not None and len(w) > 1 and w[first] < first_min_share:
            w = w * ((1.0 - first_min_share) / (1.0 - w[first]))
            w[first] = first_min_share
        return w.to(device=self.features.device, dtype=torch.float32)

    def batch(self, first_min_share: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features, labels, weights, normalised sample weights) of the stored samples (views)."""
        n = len(self)
        return self.features[:n], self.labels[:n], self.weights[:n], self.sample_weights(first_min_share)
