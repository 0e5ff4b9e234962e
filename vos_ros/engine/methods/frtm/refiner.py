"""FRTM-VOS segmentation network ("refiner"): coarse target scores + backbone features -> mask.

Re-implementation whose `state_dict()` matches the refiner part of the official FRTM-VOS
checkpoints (github.com/andr345/frtm-vos, rn18_*.pth / rn101_*.pth), so those weights load
and compute the same function. Official layout, per level L (deepest first):

    TSE.L.reduce.{0,2}         1x1 conv C_L -> 64, ReLU, 1x1 conv 64 -> 64
    TSE.L.transform.{0,2,4}    3x3 convs on [reduced, scores]: 65 -> 65 -> 65 -> 64, each + ReLU
    RRB1.L / RRB2.L            conv1x1 (64 -> 64), bblock: 3x3 conv, BatchNorm, ReLU, 3x3 conv (no bias)
    CAB.L.convreluconv.{0,2}   1x1 conv 128 -> 64, ReLU, 1x1 conv 64 -> 64 on pooled [this, deeper]
    project.conv1 / conv2      3x3 conv 64 -> 32 and 32 -> 1

Level names follow the official feature extractor: "layer{log2(stride)}", i.e. layer5 = ResNet
layer4 (stride 32), layer4 = layer3 (16), layer3 = layer2 (8), layer2 = layer1 (4). The official
ResNet models refine over strides 32, 16, 8 and 4, so they need stride-32 (ResNet layer4)
features; the stride-2 conv1 output is not used. All official checkpoint keys carry the prefix
"refiner." inside `checkpoint["model"]`.
"""
from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: prefix of the refiner's keys inside the official checkpoint's "model" state_dict
CHECKPOINT_PREFIX = "refiner."

#: refinement inputs {stride: channels} of the official models (ResNet layer4, layer3, layer2, layer1)
BACKBONE_CHANNELS: dict[str, dict[int, int]] = {
    "resnet18": {32: 512, 16: 256, 8: 128, 4: 64},
    "resnet50": {32: 2048, 16: 1024, 8: 512, 4: 256},
    "resnet101": {32: 2048, 16: 1024, 8: 512, 4: 256},
}


def _conv(in_ch: int, out_ch: int, k: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, k, padding=k // 2, bias=bias)


def _resize(x: torch.Tensor, size: tuple[int, int] | torch.Size, mode: str = "bilinear") -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=False)


class TargetSegEncoder(nn.Module):
    """TSE: compress backbone features and fuse them with the target scores."""

    def __init__(self, feature_ch: int, score_ch: int, width: int):
        super().__init__()
        fused = width + score_ch
        self.reduce = nn.Sequential(_conv(feature_ch, width, 1), nn.ReLU(), _conv(width, width, 1))
        self.transform = nn.Sequential(
            _conv(fused, fused, 3), nn.ReLU(),
            _conv(fused, fused, 3), nn.ReLU(),
            _conv(fused, width, 3), nn.ReLU(),
        )

    def forward(self, features: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (encoding, reduced features), both for `scores.shape[0]` targets."""
        reduced = self.reduce(features).expand(scores.shape[0], -1, -1, -1)
        return self.transform(torch.cat((reduced, scores), dim=1)), reduced


class ResidualRefine(nn.Module):
    """RRB: 1x1 projection followed by a residual basic block."""

    def __init__(self, width: int, batch_norm: bool):
        super().__init__()
        self.conv1x1 = _conv(width, width, 1)
        norm = [nn.BatchNorm2d(width)] if batch_norm else []
        self.bblock = nn.Sequential(_conv(width, width, 3), *norm, nn.ReLU(), _conv(width, width, 3, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1x1(x)
        return F.relu(x + self.bblock(x))


class ChannelAttention(nn.Module):
    """CAB: reweight this level's channels from pooled context, then add the upsampled deeper level."""

    def __init__(self, width: int):
        super().__init__()
        self.convreluconv = nn.Sequential(_conv(2 * width, width, 1), nn.ReLU(), _conv(width, width, 1))

    def forward(self, deeper: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        context = torch.cat((F.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(deeper, 1)), dim=1)
        return x * torch.sigmoid(self.convreluconv(context)) + _resize(deeper, x.shape[-2:])


class Upsampler(nn.Module):
    """Final head: 2x bicubic, conv + ReLU, 2x bicubic, bilinear to the output size, conv -> 1 channel.

    The official 2x steps are exact bicubic (a = -0.75, edge-replicated) upsamplings, the same
    function as `F.interpolate(..., scale_factor=2, mode="bicubic", align_corners=False)`.
    """

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = _conv(width, width // 2, 3)
        self.conv2 = _conv(width // 2, 1, 3)

    @staticmethod
    def _up2(x: torch.Tensor) -> torch.Tensor:
        return _resize(x, (2 * x.shape[-2], 2 * x.shape[-1]), mode="bicubic")

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.conv1(self._up2(x)))
        return self.conv2(_resize(self._up2(x), size))


class Refiner(nn.Module):
    """FRTM segmentation network over backbone levels {stride: channels}, refined deep to shallow."""

    def __init__(self, channels: Mapping[int, int], width: int = 64, score_channels: int = 1,
                 batch_norm: bool = True):
        super().__init__()
        if not channels:
            raise ValueError("refiner needs at least one feature level")
        for stride in channels:
            if stride < 2 or stride & (stride - 1):
                raise ValueError(f"strides must be powers of two >= 2, got {stride}")
        self.channels = dict(sorted(channels.items(), reverse=True))
        self.TSE = nn.ModuleDict()
        self.RRB1 = nn.ModuleDict()
        self.CAB = nn.ModuleDict()
        self.RRB2 = nn.ModuleDict()
        for stride, feature_ch in self.channels.items():
            name = self.level_name(stride)
            self.TSE[name] = TargetSegEncoder(feature_ch, score_channels, width)
            self.RRB1[name] = ResidualRefine(width, batch_norm)
            self.CAB[name] = ChannelAttention(width)
            self.RRB2[name] = ResidualRefine(width, batch_norm)
        self.project = Upsampler(width)

    @classmethod
    def for_backbone(cls, name: str) -> "Refiner":
        """The official configuration (64 channels, batch norm) for a torchvision ResNet."""
        if name not in BACKBONE_CHANNELS:
            raise ValueError(f"no FRTM refiner layout for {name!r}; known: {sorted(BACKBONE_CHANNELS)}")
        return cls(BACKBONE_CHANNELS[name])

    @staticmethod
    def level_name(stride: int) -> str:
        """Official level key for a stride: 32 -> "layer5", 16 -> "layer4", ..., 4 -> "layer2"."""
        return f"layer{int(math.log2(stride))}"

    @property
    def strides(self) -> list[int]:
        """Feature strides consumed, deepest first."""
        return list(self.channels)

    def forward(self, scores: torch.Tensor, features: Mapping[int, torch.Tensor],
                image_size: tuple[int, int] | None = None) -> torch.Tensor:
        """Foreground logits (N, 1, H, W) at the image resolution (apply sigmoid for probabilities).

        scores: (N, 1, h, w) target-model scores (stride 16 in FRTM); features: {stride: (B, C, h, w)}
        with B == N or B == 1 (one frame shared by N targets); image_size: output (H, W), by
        default the finest level's size times its stride.
        """
        missing = [s for s in self.channels if s not in features]
        if missing:
            raise ValueError(f"refiner needs features at strides {missing} (got {sorted(features)})")
        x: torch.Tensor | None = None
        for stride in self.channels:
            name = self.level_name(stride)
            ft = features[stride]
            h, reduced = self.TSE[name](ft, _resize(scores, ft.shape[-2:]))
            deeper = F.adaptive_avg_pool2d(reduced, 1) if x is None else x  # deepest: global context
            h = self.CAB[name](deeper, self.RRB1[name](h))
            x = self.RRB2[name](h)
        assert x is not None
        if image_size is None:
            finest = min(self.channels)
            image_size = (finest * x.shape[-2], finest * x.shape[-1])
        return self.project(x, image_size)


def load_refiner_checkpoint(path: str | Path, backbone_name: str) -> Refiner:
    """Load the refiner of an official FRTM-VOS checkpoint ({"model": {"refiner.*": ...}, ...}).

    A bare state_dict with "refiner." keys is accepted as well. Raises ValueError, listing
    missing/unexpected/mis-shaped keys, when the file does not hold a matching refiner.
    The returned network is in eval mode on the CPU.
    """
    refiner = Refiner.for_backbone(backbone_name)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        raise ValueError(
            f"{path}: refusing to unpickle non-tensor objects {unsafe}; if you trust the file, re-save "
            "its weights only (with the frtm-vos repository importable): torch.save({'model': "
            "torch.load(p, weights_only=False)['model']}, out)") from err
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: not an FRTM checkpoint (expected a dict with a 'model' state_dict)")
    ours = {k[len(CHECKPOINT_PREFIX):]: v for k, v in state.items() if k.startswith(CHECKPOINT_PREFIX)}
    expected = refiner.state_dict()
    missing = sorted(set(expected) - set(ours))
    unexpected = sorted(set(ours) - set(expected))
    unexpected += sorted(k for k in state if not k.startswith(CHECKPOINT_PREFIX))
    wrong_shape = [f"{k}: {tuple(ours[k].shape)} != {tuple(v.shape)}"
                   for k, v in expected.items() if k in ours and ours[k].shape != v.shape]
    if missing or unexpected or wrong_shape:
        raise ValueError(
            f"{path}: not an FRTM {backbone_name} refiner checkpoint; missing keys: {missing}; "
            f"unexpected keys: {unexpected}; shape mismatches: {wrong_shape}")
    refiner.load_state_dict(ours, strict=True)
    return refiner.eval()
