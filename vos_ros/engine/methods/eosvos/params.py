"""Settings of e-OSVOS (config section `eosvos.*`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class EOSVOSParams:
    """A small segmentation head fine-tuned per object by plain SGD with per-neuron rates."""

    STRUCTURAL: ClassVar[tuple[str, ...]] = ("weights",)
    RETIRED: ClassVar[dict[str, str]] = {}  # none retired yet

    # the head's initialisation and learning rates: "shipped" (meta-learned,
    # vos_ros/weights/eosvos.pt), a file of `vos-ros train --method eosvos`, or "none": the
    # plain baseline (PyTorch's default initialisation, every neuron at `plain_lr`)
    weights: str = "shipped"
    iterations: int = 50  # T: SGD steps on the first frame (50 beat 10 on held-out training videos)
    plain_lr: float = 0.1  # the one learning rate of weights=none (picked on held-out training videos)
    # the object's region: its box on the stride-8 grid enlarged by this fraction of each side
    region_margin: float = 0.5
    region_min_cells: int = 12  # least region side, grid cells
    region_growth: float = 1.5  # a lost object's region grows by this factor per frame
    # online adaptation: every `ona_interval` frames restart from the first-frame model and
    # take `ona_iterations` steps on the first frame plus the last `ona_samples` confident
    # predicted masks
    online_adaptation: bool = True
    ona_interval: int = 5
    ona_iterations: int = 10
    ona_samples: int = 3
    ona_min_confidence: float = 0.7

    def __post_init__(self) -> None:
        for name in ("iterations", "region_min_cells", "ona_interval", "ona_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"eosvos.{name} must be >= 1")
        if self.ona_iterations < 0 or self.region_margin < 0 or self.plain_lr <= 0:
            raise ValueError("eosvos.ona_iterations and region_margin must be >= 0, plain_lr > 0")
        if self.region_growth < 1:
            raise ValueError("eosvos.region_growth must be >= 1")


Params = EOSVOSParams
