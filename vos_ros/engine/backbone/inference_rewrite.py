"""Inference-time rewrites of frozen backbones, exact up to float rounding.

- Batch norms in eval mode are affine maps per channel: folded into the weights and bias of
  the convolution before them, they disappear from the forward pass.
- EfficientNet-Lite's TensorFlow-style 'same' padding pads the input with a separate copy
  (`F.pad`) before every convolution; the convolution can pad by itself instead (an
  asymmetric padding becomes a symmetric one with a zero tap, see SamePadConv).
- Clipping activations (ReLU6) run in place on the fresh tensors they get: no new buffer.

On the 2-core CPU this removes about 40 % of efficientnet_lite0's time (docs/RESULTS.md);
features agree with the unchanged network to ~3e-6 relative.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_pairs(module: nn.Module, pairs: Iterable[tuple[str, str]]) -> None:
    """For each (conv attribute, batch-norm attribute) of `module` that both exist: fold the
    norm into the convolution and replace the norm by an identity."""
    for conv_name, bn_name in pairs:
        conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(module, bn_name, nn.Identity())


def fold_sequential(seq: nn.Sequential) -> None:
    """Fold every batch norm that directly follows a convolution inside `seq`."""
    for i in range(len(seq) - 1):
        if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
            seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
            seq[i + 1] = nn.Identity()


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Total TF-'same' padding of one dimension: the output has ceil(size / stride) cells."""
    out = -(-size // stride)
    return max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


class SamePadConv(nn.Module):
    """A TF-'same' convolution without a padded copy of its input.

    An even total padding is split evenly, which conv2d does itself. An odd total puts one
    more pixel on the far side; a kernel grown by one leading zero tap and padded by one more
    on both sides computes the same output (the extra near-side pixel meets the zero tap).
    The weight variants are made once per padding pattern (input size parity)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv
        self._variants: dict[tuple[int, int], tuple[torch.Tensor, tuple[int, int]]] = {}

    def _variant(self, totals: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        if totals not in self._variants:
            weight, pads = self.conv.weight, []
            for dim, total in enumerate(totals):
                if total % 2:
                    weight = F.pad(weight, (1, 0) if dim == 1 else (0, 0, 1, 0))
                pads.append(total // 2 + total % 2)
            layout = torch.channels_last if self.conv.weight.is_contiguous(memory_format=torch.channels_last) \
                and not self.conv.weight.is_contiguous() else torch.contiguous_format
            self._variants[totals] = (weight.contiguous(memory_format=layout), (pads[0], pads[1]))
        return self._variants[totals]

    def _apply(self, fn, *args, **kwargs):  # .to() / .float() etc.: remake the variants
        self._variants.clear()
        return super()._apply(fn, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        totals = tuple(same_padding(n, k, s, d) for n, k, s, d in
                       zip(x.shape[-2:], c.kernel_size, c.stride, c.dilation))
        if c.dilation != (1, 1) and any(t % 2 for t in totals):  # a zero tap would shift by d
            x = F.pad(x, [totals[1] // 2, totals[1] - totals[1] // 2, totals[0] // 2, totals[0] - totals[0] // 2])
            return F.conv2d(x, c.weight, c.bias, c.stride, 0, c.dilation, c.groups)
        weight, pads = self._variant(totals)
        return F.conv2d(x, weight, c.bias, c.stride, pads, c.dilation, c.groups)


def inline_same_padding(module: nn.Module, padded_type: type) -> None:
    """Replace every child of type `padded_type` (a TF-'same' conv that pads with a separate
    F.pad) by an equivalent SamePadConv."""
    for name, child in list(module.named_children()):
        if isinstance(child, padded_type):
            setattr(module, name, SamePadConv(child))
        else:
            inline_same_padding(child, padded_type)


def activations_in_place(module: nn.Module) -> None:
    """Make every ReLU / ReLU6 in `module` work in place (inference only: the input is
    overwritten, so it must not be needed afterwards, as in conv -> norm -> activation)."""
    for child in module.modules():
        if isinstance(child, (nn.ReLU, nn.ReLU6)):
            child.inplace = True
