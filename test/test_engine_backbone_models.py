"""Backbone registry: feature strides and channels, weight files, inference rewrites."""
from pathlib import Path

import pytest
import torch
from torch import nn

from vos_ros.engine.backbone.models import build_backbone
from vos_ros.engine.backbone.compat import import_torchvision
from vos_ros.engine.config import BackboneConfig
from vos_ros.engine.backbone.inference_rewrite import SamePadConv

CPU = torch.device("cpu")


def _image(h: int = 96, w: int = 128) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)) * 255


def _features(config: BackboneConfig, image: torch.Tensor, stride32: bool = False) -> dict[int, torch.Tensor]:
    net = build_backbone(config, CPU, stride32=stride32)
    with torch.inference_mode():
        x = net.normalize(image).contiguous(memory_format=torch.channels_last)
        return {s: t.float() for s, t in net(x).items()}, net


def _assert_same_features(a: dict[int, torch.Tensor], b: dict[int, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for s in a:
        scale = float(a[s].abs().max())
        assert float((a[s] - b[s]).abs().max()) <= 1e-4 * scale, f"stride {s}"


def test_efficientnet_lite0_strides_channels_and_rewrites():
    from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding

    image = _image()
    plain, _ = _features(BackboneConfig(fuse=False), image)
    fused, net = _features(BackboneConfig(), image)
    assert {s: tuple(t.shape[-2:]) for s, t in fused.items()} == {4: (24, 32), 8: (12, 16), 16: (6, 8)}
    assert {s: t.shape[1] for s, t in fused.items()} == net.channels
    _assert_same_features(plain, fused)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    # no convolution pads a copy of its input any more
    assert all(isinstance(parent, SamePadConv) for parent in net.modules()
               for child in parent.children() if isinstance(child, Conv2dDynamicSamePadding))


def _resnet18_weights(path: Path) -> Path:
    """A torchvision resnet18 state_dict with random weights and non-trivial norm statistics."""
    torch.manual_seed(0)
    net = import_torchvision().models.resnet18(weights=None)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
    torch.save(net.state_dict(), path)
    return path


def test_resnet18_from_a_weight_file_fused_matches_unfused(tmp_path: Path):
    weights = str(_resnet18_weights(tmp_path / "r18.pth"))
    image = _image(64, 96)
    plain, _ = _features(BackboneConfig("resnet18", weights, fuse=False), image, stride32=True)
    fused, net = _features(BackboneConfig("resnet18", weights), image, stride32=True)
    assert {s: t.shape[1] for s, t in fused.items()} == net.channels == {2: 64, 4: 64, 8: 128, 16: 256, 32: 512}
    assert {s: t.shape[-1] for s, t in fused.items()} == {2: 48, 4: 24, 8: 12, 16: 6, 32: 3}
    _assert_same_features(plain, fused)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_resnet_rejects_a_foreign_state_dict(tmp_path: Path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not a resnet18 state_dict"):
        build_backbone(BackboneConfig("resnet18", str(path)), CPU)


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'"):
        build_backbone(BackboneConfig("vgg16"), CPU)
