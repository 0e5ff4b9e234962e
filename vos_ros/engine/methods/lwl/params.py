"""Settings of LWL (config section `lwl.*`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class LWLParams:
    """Learning What to Learn: a linear target module fitted at run time by steepest descent
    on learned labels and weights, its encoding decoded into the mask (one trained network)."""

    STRUCTURAL: ClassVar[tuple[str, ...]] = ("weights", "memory_size")
    RETIRED: ClassVar[dict[str, str]] = {}  # none retired yet

    # the trained network: "shipped" (vos_ros/weights/lwl.pt, made by `vos-ros train
    # --method lwl`) or the path of such a file
    weights: str = "shipped"
    init_iterations: int = 20  # steepest-descent steps on the first frame
    update_iterations: int = 3  # steps of each update
    # an update runs every this many frames (1 = every frame, the paper's schedule); each
    # frame still enters the memory
    update_interval: int = 1
    memory_size: int = 32  # K_max samples per object
    # each new sample scales the older weights by eta (then normalised): the newest sample
    # weighs 1 - eta relative to the rest
    memory_eta: float = 0.9
    box_memory_eta: float = 0.8  # for objects initialised from a box
    # the first (annotated) sample keeps at least this share of the weight (mask-initialised
    # objects; a box's first sample has none: it is only a guess)
    first_min_share: float = 0.25
    # frames whose object confidence is below this do not enter the memory (a frame where
    # the object was judged not visible would teach the module that it is gone)
    memory_min_confidence: float = 0.5
    online_update: bool = True
    # objects given by a box: their first mask from the network's box encoder (paper Sec.
    # 3.7) when it has one, bounded by the box; off = the session's first mask (box_init)
    box_encoder: bool = True
    # ... unless it fills less than this share of the box (an object unlike the training
    # objects): then the session's first mask is kept
    box_encoder_min_fill: float = 0.1

    def __post_init__(self) -> None:
        for name in ("init_iterations", "memory_size", "update_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"lwl.{name} must be >= 1")
        if self.update_iterations < 0:
            raise ValueError("lwl.update_iterations must be >= 0")
        for name in ("memory_eta", "box_memory_eta"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"lwl.{name} must be in (0, 1)")
        if not 0.0 <= self.memory_min_confidence <= 1.0:
            raise ValueError("lwl.memory_min_confidence must be in [0, 1]")
        if not 0.0 <= self.box_encoder_min_fill <= 1.0:
            raise ValueError("lwl.box_encoder_min_fill must be in [0, 1]")
        if not 0.0 <= self.first_min_share < 1.0:
            raise ValueError("lwl.first_min_share must be in [0, 1)")


Params = LWLParams
