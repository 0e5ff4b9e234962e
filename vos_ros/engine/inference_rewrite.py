"""Inference-time rewrites of frozen backbones, exact up to float rounding.

- Batch norms in eval mode are affine maps per channel: folded into the weights and bias of
  the convolution before them, they disappear from the forward pass.
- EfficientNet-Lite's TensorFlow-style 'same' padding pads the input with a separate copy
  (`F.pad`) before every convolution. For stride 1 the padding does not depend on the input
  size and is symmetric for odd kernels, so the convolution can pad by itself.
- Clipping activations (ReLU6) run in place on the fresh tensors they get: no new buffer.

On the 2-core CPU this removes about 30 % of efficientnet_lite0's time (docs/RESULTS.md);
features agree with the unchanged network to ~3e-6 relative.
"""
from __future__ import annotations

from collections.abc import Iterable

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


def symmetric_same_conv(conv: nn.Conv2d) -> nn.Conv2d | None:
    """A plain nn.Conv2d padding by itself, equivalent to a TF-'same' convolution of stride 1
    and odd effective kernel; None when the padding would be asymmetric or input-dependent."""
    if tuple(conv.stride) != (1, 1):
        return None
    pads = [(k - 1) * d for k, d in zip(conv.kernel_size, conv.dilation)]
    if any(p % 2 for p in pads):
        return None
    plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, 1, (pads[0] // 2, pads[1] // 2),
                      conv.dilation, conv.groups, conv.bias is not None)
    plain.load_state_dict(conv.state_dict())
    return plain.to(conv.weight.device, conv.weight.dtype).eval()


def inline_same_padding(module: nn.Module, padded_type: type) -> None:
    """Replace every child of type `padded_type` (a conv that pads with a separate F.pad) by
    an equivalent plain convolution where `symmetric_same_conv` allows."""
    for name, child in list(module.named_children()):
        if isinstance(child, padded_type):
            plain = symmetric_same_conv(child)
            if plain is not None:
                setattr(module, name, plain)
        else:
            inline_same_padding(child, padded_type)


def activations_in_place(module: nn.Module) -> None:
    """Make every ReLU / ReLU6 in `module` work in place (inference only: the input is
    overwritten, so it must not be needed afterwards, as in conv -> norm -> activation)."""
    for child in module.modules():
        if isinstance(child, (nn.ReLU, nn.ReLU6)):
            child.inplace = True
