"""Inference-time rewrites: folded batch norms, inlined 'same' padding, in-place activations."""
import pytest
import torch
# EfficientNet-Lite's TF-'same' convolution, which pads with F.pad before convolving
from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding as PaddedConv
from torch import nn

from vos_ros.engine.backbone.inference_rewrite import (SamePadConv, activations_in_place, fold_pairs, fold_sequential,
                                              inline_same_padding)


def _trained_bn(channels: int) -> nn.BatchNorm2d:
    """A batch norm with non-trivial statistics and affine parameters, in eval mode."""
    bn = nn.BatchNorm2d(channels)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn.eval()


def test_folded_sequential_matches_conv_then_norm():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), _trained_bn(8), nn.ReLU6()).eval()
    x = torch.randn(2, 3, 17, 23)
    before = seq(x)
    fold_sequential(seq)
    assert isinstance(seq[1], nn.Identity) and seq[0].bias is not None
    torch.testing.assert_close(seq(x), before, rtol=1e-5, atol=1e-5)


def test_fold_pairs_replaces_named_norms_and_skips_missing_ones():
    torch.manual_seed(1)
    block = nn.Module()
    block.conv1, block.bn1 = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), _trained_bn(4)
    block.eval()
    x = torch.randn(1, 4, 9, 9)
    before = block.bn1(block.conv1(x))
    fold_pairs(block, (("conv1", "bn1"), ("conv2", "bn2")))  # no conv2/bn2: left alone
    assert isinstance(block.bn1, nn.Identity)
    torch.testing.assert_close(block.bn1(block.conv1(x)), before, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel, stride, dilation", [(3, 1, 1), (5, 1, 1), (3, 2, 1), (5, 2, 1), (2, 1, 1),
                                                     (3, 1, 2), (3, 2, 2)])
@pytest.mark.parametrize("size", [(13, 20), (16, 21), (12, 12)])
def test_same_pad_conv_equals_padded_conv(kernel: int, stride: int, dilation: int, size: tuple[int, int]):
    torch.manual_seed(2)
    padded = PaddedConv(6, 6, kernel, stride=stride, dilation=dilation, groups=6, bias=True).eval()
    x = torch.randn(1, 6, *size)
    with torch.inference_mode():
        torch.testing.assert_close(SamePadConv(padded)(x), padded(x))


def test_same_pad_conv_pads_inside_the_convolution():
    conv = SamePadConv(PaddedConv(2, 2, 3, stride=2))  # even size: one more pixel on the far side
    with torch.inference_mode():
        conv(torch.randn(1, 2, 8, 8))
    weight, pads = conv._variants[(1, 1)]
    assert weight.shape[-2:] == (4, 4) and pads == (1, 1) and float(weight[..., 0, :].abs().sum()) == 0


def test_inline_same_padding_reaches_nested_children():
    torch.manual_seed(3)
    net = nn.Sequential(PaddedConv(3, 4, 3, stride=2), nn.Sequential(PaddedConv(4, 4, 3))).eval()
    x = torch.randn(1, 3, 15, 22)
    before = net(x)
    inline_same_padding(net, PaddedConv)
    assert isinstance(net[0], SamePadConv) and isinstance(net[1][0], SamePadConv)
    torch.testing.assert_close(net(x), before)


def test_activations_in_place_give_the_same_output():
    net = nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU6(), nn.Conv2d(2, 2, 1), nn.ReLU()).eval()
    x = torch.randn(1, 2, 5, 5) * 10
    before = net(x)
    activations_in_place(net)
    assert net[1].inplace and net[3].inplace
    with torch.inference_mode():
        torch.testing.assert_close(net(x), before)
