"""FRTM refiner: official checkpoint layout, loading, forward shapes and error reporting."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vos_ros.engine.methods.frtm.refiner import Refiner, load_refiner_checkpoint

torch.set_num_threads(1)

#: official refinement levels {name: backbone channels}: ResNet layer4, layer3, layer2, layer1
OFFICIAL_LEVELS = {
    "resnet18": {"layer5": 512, "layer4": 256, "layer3": 128, "layer2": 64},
    "resnet101": {"layer5": 2048, "layer4": 1024, "layer3": 512, "layer2": 256},
}


def official_shapes(backbone: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the refiner in an official FRTM-VOS checkpoint (64 channels, batch norm)."""
    shapes: dict[str, tuple[int, ...]] = OrderedDict()

    def conv(key: str, cin: int, cout: int, k: int, bias: bool = True) -> None:
        shapes[f"{key}.weight"] = (cout, cin, k, k)
        if bias:
            shapes[f"{key}.bias"] = (cout,)

    def rrb(key: str) -> None:
        conv(f"{key}.conv1x1", 64, 64, 1)
        conv(f"{key}.bblock.0", 64, 64, 3)
        for p in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{key}.bblock.1.{p}"] = (64,)
        shapes[f"{key}.bblock.1.num_batches_tracked"] = ()
        conv(f"{key}.bblock.3", 64, 64, 3, bias=False)

    levels = OFFICIAL_LEVELS[backbone]
    for name, ch in levels.items():
        conv(f"refiner.TSE.{name}.reduce.0", ch, 64, 1)
        conv(f"refiner.TSE.{name}.reduce.2", 64, 64, 1)
        conv(f"refiner.TSE.{name}.transform.0", 65, 65, 3)
        conv(f"refiner.TSE.{name}.transform.2", 65, 65, 3)
        conv(f"refiner.TSE.{name}.transform.4", 65, 64, 3)
    for name in levels:
        rrb(f"refiner.RRB1.{name}")
    for name in levels:
        conv(f"refiner.CAB.{name}.convreluconv.0", 128, 64, 1)
        conv(f"refiner.CAB.{name}.convreluconv.2", 64, 64, 1)
    for name in levels:
        rrb(f"refiner.RRB2.{name}")
    conv("refiner.project.conv1", 64, 32, 3)
    conv("refiner.project.conv2", 32, 1, 3)
    return shapes


def random_state(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(12345)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.05
    return state


def save_official(path: Path, model_state: dict[str, torch.Tensor]) -> None:
    """Write the structure of the official training checkpoints (train.py / lib/training.py)."""
    torch.save({"name": "rn18_all", "epoch": 259, "stats": {},
                "model": model_state,
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-5, "betas": (0.9, 0.999),
                                                             "amsgrad": True, "params": [0, 1]}]},
                "scheduler": {"step_size": 127, "gamma": 0.1, "last_epoch": 259}}, path)


def resnet_features(backbone: str, n: int = 1) -> dict[int, torch.Tensor]:
    """Random features of a 240x432 image at strides 4..32 (ResNet layer1..layer4)."""
    channels = list(OFFICIAL_LEVELS[backbone].values())
    sizes = {32: (8, 14), 16: (15, 27), 8: (30, 54), 4: (60, 108)}
    return {s: torch.randn(n, c, *sizes[s]) for s, c in zip(sizes, channels)}


@pytest.mark.parametrize("backbone", ["resnet18", "resnet101"])
def test_state_dict_layout_matches_official(backbone: str) -> None:
    ours = {k: tuple(v.shape) for k, v in Refiner.for_backbone(backbone).state_dict().items()}
    official = {k.removeprefix("refiner."): v for k, v in official_shapes(backbone).items()}
    assert ours == official
    assert len(ours) == 140


@pytest.mark.parametrize("backbone", ["resnet18", "resnet101"])
def test_load_official_checkpoint(tmp_path: Path, backbone: str) -> None:
    state = random_state(official_shapes(backbone))
    path = tmp_path / f"{backbone}.pth"
    save_official(path, state)

    refiner = load_refiner_checkpoint(path, backbone)
    assert not refiner.training
    loaded = refiner.state_dict()
    assert set(loaded) == {k.removeprefix("refiner.") for k in state}
    for key, value in state.items():
        assert torch.equal(loaded[key.removeprefix("refiner.")], value), key


def test_forward_shapes_resnet18(tmp_path: Path) -> None:
    path = tmp_path / "rn18.pth"
    save_official(path, random_state(official_shapes("resnet18")))
    refiner = load_refiner_checkpoint(path, "resnet18")
    features = resnet_features("resnet18")
    scores = torch.randn(1, 1, 15, 27)
    with torch.no_grad():
        logits = refiner(scores, features)
        explicit = refiner(scores, features, (240, 432))
        odd = refiner(scores, features, (237, 430))
    assert logits.shape == (1, 1, 240, 432)
    assert torch.isfinite(logits).all()
    assert torch.equal(logits, explicit)
    assert odd.shape == (1, 1, 237, 430)


def test_multiple_targets_share_features() -> None:
    torch.manual_seed(0)
    refiner = Refiner.for_backbone("resnet18").eval()
    features = resnet_features("resnet18")
    scores = torch.randn(2, 1, 15, 27)
    with torch.no_grad():
        both = refiner(scores, features)
        single = [refiner(scores[i:i + 1], features) for i in range(2)]
    assert both.shape == (2, 1, 240, 432)
    assert torch.allclose(both, torch.cat(single), atol=1e-5)


def test_generic_levels_efficientnet_lite() -> None:
    refiner = Refiner({4: 24, 8: 40, 16: 112}).eval()
    assert refiner.strides == [16, 8, 4]
    assert {k.split(".")[1] for k in refiner.state_dict() if k.startswith("TSE.")} == {"layer4", "layer3", "layer2"}
    features = {4: torch.randn(1, 24, 60, 108), 8: torch.randn(1, 40, 30, 54), 16: torch.randn(1, 112, 15, 27)}
    with torch.no_grad():
        logits = refiner(torch.randn(1, 1, 15, 27), features)
    assert logits.shape == (1, 1, 240, 432)
    assert torch.isfinite(logits).all()


def test_missing_stride_32_features_is_reported() -> None:
    features = resnet_features("resnet18")
    del features[32]
    with pytest.raises(ValueError, match=r"strides \[32\]"):
        Refiner.for_backbone("resnet18")(torch.randn(1, 1, 15, 27), features)


def _bicubic_up2(x: torch.Tensor) -> torch.Tensor:
    """Reference 2x bicubic upsampling (a = -0.75, replicated borders) by explicit 4-tap phases."""
    def weights(t: float) -> list[float]:
        a = -0.75
        out = []
        for d in (1 + t, t, 1 - t, 2 - t):
            out.append((a + 2) * d ** 3 - (a + 3) * d ** 2 + 1 if d < 1 else a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a)
        return out

    def along_last(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        padded = F.pad(x.reshape(-1, 1, n), (2, 2), mode="replicate").reshape(*x.shape[:-1], n + 4)
        # output 2i samples source i - 0.25 (taps i-2..i+1), output 2i+1 samples i + 0.25 (taps i-1..i+2)
        even = sum(w * padded[..., k:k + n] for k, w in enumerate(weights(0.75)))
        odd = sum(w * padded[..., k + 1:k + 1 + n] for k, w in enumerate(weights(0.25)))
        return torch.stack((even, odd), dim=-1).reshape(*x.shape[:-1], 2 * n)

    return along_last(along_last(x).transpose(-1, -2)).transpose(-1, -2)


def test_head_matches_official_upsampling_scheme() -> None:
    """project = up2 -> conv1 -> ReLU -> up2 -> bilinear to output size -> conv2."""
    torch.manual_seed(0)
    head = Refiner({4: 8}, width=16).project
    x = torch.randn(1, 16, 9, 13)
    with torch.no_grad():
        h = _bicubic_up2(F.relu(head.conv1(_bicubic_up2(x))))
        expected = head.conv2(F.interpolate(h, size=(35, 53), mode="bilinear", align_corners=False))
        assert torch.allclose(head(x, (35, 53)), expected, atol=1e-5)


def test_missing_key_is_reported(tmp_path: Path) -> None:
    state = random_state(official_shapes("resnet18"))
    del state["refiner.CAB.layer3.convreluconv.2.bias"]
    state["refiner.extra.weight"] = torch.zeros(1)
    save_official(tmp_path / "bad.pth", state)
    with pytest.raises(ValueError, match="missing keys: \\['CAB.layer3.convreluconv.2.bias'\\]") as err:
        load_refiner_checkpoint(tmp_path / "bad.pth", "resnet18")
    assert "unexpected keys: ['extra.weight']" in str(err.value)


def test_wrong_shape_is_reported(tmp_path: Path) -> None:
    save_official(tmp_path / "rn101.pth", random_state(official_shapes("resnet101")))
    with pytest.raises(ValueError, match=r"TSE.layer5.reduce.0.weight: \(64, 2048, 1, 1\) != \(64, 512, 1, 1\)"):
        load_refiner_checkpoint(tmp_path / "rn101.pth", "resnet18")


def test_non_checkpoint_files_are_rejected(tmp_path: Path) -> None:
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="not an FRTM checkpoint"):
        load_refiner_checkpoint(tmp_path / "list.pth", "resnet18")
    torch.save({"model": {"conv1.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="unexpected keys: \\['conv1.weight'\\]"):
        load_refiner_checkpoint(tmp_path / "other.pth", "resnet18")
    torch.save({"model": {}, "stats": Path("x")}, tmp_path / "pickled.pth")
    with pytest.raises(ValueError, match="refusing to unpickle"):
        load_refiner_checkpoint(tmp_path / "pickled.pth", "resnet18")
    with pytest.raises(ValueError, match="no FRTM refiner layout"):
        load_refiner_checkpoint(tmp_path / "list.pth", "vgg16")


def test_segmenter_runs_frtm_with_an_official_layout_refiner(tmp_path: Path) -> None:
    """End to end wiring: ResNet-18 backbone weights from a file (no download) + an
    official-layout refiner checkpoint -> stride-16 target model, refined full-res masks."""
    import numpy as np

    from synthetic import moving_discs
    from vos_ros.engine.backbone.compat import import_torchvision
    from vos_ros.engine.config import EngineConfig
    from vos_ros.engine.session import Segmenter

    backbone_file = tmp_path / "resnet18.pth"
    torch.save(import_torchvision().models.resnet18(weights=None).state_dict(), backbone_file)
    ckpt = tmp_path / "rn18_all.pth"
    save_official(ckpt, random_state(official_shapes("resnet18")))
    cfg = EngineConfig().replace(**{
        "resolution": 0, "backbone.name": "resnet18", "backbone.weights": str(backbone_file),
        "frtm.refiner_weights": str(ckpt), "frtm.augment_samples": 1})
    seg = Segmenter(cfg)
    assert seg.method.stride == 16 and 32 in seg.backbone.channels
    frames, labels = moving_discs(frames=3, size=(96, 128))
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    raw = seg.method.predict(seg.extract(torch.from_numpy(frames[1]).permute(2, 0, 1)[None].float()))
    assert raw[1].shape == (96, 128) and bool(((raw[1] >= 0) & (raw[1] <= 1)).all())
    res = seg.step(frames[1])
    assert res.labels.shape == (96, 128) and res.labels.dtype == np.uint16
