"""Settings of FRTM (config section `frtm.*`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class FRTMParams:
    """Fast target model (FRTM-VOS): D(x) = w2 * (w1 * x), fitted by Gauss-Newton + CG."""

    #: settings that shape the models or the backbone: they cannot change on a live session
    STRUCTURAL: ClassVar[tuple[str, ...]] = ("projection_channels", "feature_stride", "refiner_weights",
                                             "memory_size", "memory_bfloat16")
    #: old keys -> the message naming their replacement
    RETIRED: ClassVar[dict[str, str]] = {
        "fast": "frtm.fast was replaced by the preset frtm_fast (--preset frtm_fast, node parameter preset)",
        "spread_updates": "frtm.spread_updates was merged into frtm.update_spread_frames "
                          "(1 = not spread, i.e. spread_updates=false)",
    }

    projection_channels: int = 96  # w1: features -> this many channels (PCA-initialised)
    # 8: stride-16 features upsampled and concatenated with stride-8 ones (finer masks);
    # 16: stride-16 features only (the paper's setting, cheaper)
    feature_stride: int = 8
    init_gn_steps: int = 5  # Gauss-Newton steps of the first-frame fit
    init_cg_iters_first: int = 5
    init_cg_iters: int = 10
    update_interval: int = 8
    update_cg_iters: int = 10  # CG iterations of each update (w2 only)
    regularization: float = 1e-4
    kappa_min: float = 0.1
    augment_samples: int = 5  # samples from the first frame, the original counted twice
    memory_size: int = 80
    memory_eta: float = 0.1
    # a frame enters the memory every this many frames (consecutive frames are near duplicates)
    memory_interval: int = 4
    memory_min_confidence: float = 0.6  # frames scored below do not enter the memory
    # updates skip samples weighing less than this fraction of the newest (with eta = 0.1,
    # 5 % drops samples older than 28 frames); 0 = use all
    update_min_relative_weight: float = 0.05
    # and at most this many (the heaviest, i.e. newest) samples: bounds an update's cost
    # per object whatever the history; 0 = no cap
    update_max_samples: int = 12
    # the annotated sample (the first frame as given, not its augmented copies) is never
    # replaced and keeps at least this share of the weight in every update, so the model
    # stays anchored to the one certain sample on long runs (pytracking's ATOM/DiMP keep
    # their initial samples at >= 0.25 likewise); 0 = it ages like any other sample
    annotated_min_share: float = 0.25
    # spread each update's CG iterations over this many frames (bounded per-frame latency;
    # samples arriving meanwhile enter the memory when the update completes), capped at
    # update_interval; 1 = all at once (the paper's schedule), 0 = update_interval
    update_spread_frames: int = 4
    # store memory features in bfloat16 (half the memory and memory traffic of updates)
    memory_bfloat16: bool = True
    # update the target model online; off = first-frame model only
    online_update: bool = True
    # D-only probability = clamp(score_scale * score, 0, 1). The scores regress 0/1 labels
    # with L2 regularisation and no bias, so they are shrunk toward 0 and object parts unlike
    # the stored samples score below 0.5; 1.15 puts the decision boundary at score 0.43
    score_scale: float = 1.15
    # outlier removal: a predicted region must touch the previous mask dilated by this many
    # pixels (processing resolution), else it is dropped (a look-alike elsewhere); 0 = off
    outlier_dilation: int = 8
    refiner_weights: str | None = None  # official FRTM-VOS checkpoint (ResNet-18/101)

    def __post_init__(self) -> None:
        for name in ("projection_channels", "init_gn_steps", "update_interval", "memory_size",
                     "memory_interval", "augment_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"frtm.{name} must be >= 1")
        if self.update_spread_frames < 0:
            raise ValueError("frtm.update_spread_frames must be >= 0 (0 = update_interval)")
        if self.feature_stride not in (8, 16):
            raise ValueError("frtm.feature_stride must be 8 or 16")
        if self.score_scale <= 0 or self.regularization < 0 or self.outlier_dilation < 0:
            raise ValueError("frtm.score_scale must be > 0, regularization and outlier_dilation >= 0")
        if not 0.0 <= self.annotated_min_share < 1.0:
            raise ValueError("frtm.annotated_min_share must be in [0, 1)")

    def spread_frames(self) -> int:
        """Frames each update's CG iterations run over: update_spread_frames (0 =
        update_interval) capped at update_interval."""
        return min(self.update_spread_frames or self.update_interval, self.update_interval)


Params = FRTMParams
