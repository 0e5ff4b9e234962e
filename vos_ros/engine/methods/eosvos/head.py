"""The fine-tuned model of e-OSVOS and its inner loop.

A small segmentation head over the frozen backbone's stride-8 features (stride 8 plus
upsampled stride 16): conv 1x1 -> ReLU -> conv 3x3 -> ReLU -> conv 3x3 -> one logit per
cell. Its parameters are the initialisation theta^0; beside them it holds one learning
rate per neuron and tensor (per output channel: one for the weight kernel, one for the
bias), stored as log-rates so they stay positive. `fine_tune` is plain SGD with these rates.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: one fine-tuning sample: (1, C, h, w) region features and its (1, 1, h, w) target in [0, 1]
Sample = tuple[torch.Tensor, torch.Tensor]


@dataclass
class HeadShape:
    feature_channels: tuple[int, int] = (40, 112)  # backbone channels at strides 8 and 16
    width: int = 32  # hidden channels
    initial_lr: float = 0.1  # the rates' starting value (before meta-training)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "HeadShape":
        data = dict(data)
        data["feature_channels"] = tuple(data["feature_channels"])
        return cls(**data)


class EOSVOSHead(nn.Module):
    kind = "eosvos"

    def __init__(self, shape: HeadShape):
        super().__init__()
        self.shape = shape
        c, w = sum(shape.feature_channels), shape.width
        self.convs = nn.ModuleList([nn.Conv2d(c, w, 1), nn.Conv2d(w, w, 3, padding=1), nn.Conv2d(w, 1, 3, padding=1)])
        self.log_lr = nn.ParameterList([nn.Parameter(torch.full((p.shape[0],), math.log(shape.initial_lr)))
                                        for p in self.initial()])

    def initial(self) -> list[torch.Tensor]:
        """theta^0: weight, bias of each conv in order."""
        return [p for conv in self.convs for p in (conv.weight, conv.bias)]

    def rates(self) -> list[torch.Tensor]:
        """Per tensor of `initial`, its per-neuron learning rates shaped to broadcast."""
        return [r.exp().view(-1, *([1] * (p.dim() - 1))) for r, p in zip(self.log_lr, self.initial())]

    def set_rate(self, lr: float) -> None:
        """Every neuron at learning rate `lr` (the plain baseline)."""
        with torch.no_grad():
            for r in self.log_lr:
                r.fill_(math.log(lr))

    @staticmethod
    def run(x: torch.Tensor, theta: list[torch.Tensor]) -> torch.Tensor:
        """(N, C, h, w) features -> (N, 1, h, w) logits with parameters `theta`."""
        for i in range(0, len(theta), 2):
            conv = F.conv2d(x, theta[i], theta[i + 1], padding=theta[i].shape[-1] // 2)
            x = F.relu(conv) if i + 2 < len(theta) else conv
        return x


def region_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus (1 - soft IoU) of one region's logits and coverage target."""
    p = torch.sigmoid(logits)
    inter = (p * target).sum()
    iou = (inter + 1.0) / (p.sum() + target.sum() - inter + 1.0)
    return F.binary_cross_entropy_with_logits(logits, target) + 1.0 - iou


def samples_loss(theta: list[torch.Tensor], samples: list[Sample]) -> torch.Tensor:
    return sum(region_loss(EOSVOSHead.run(x, theta), y) for x, y in samples) / len(samples)


def fine_tune(theta: list[torch.Tensor], rates: list[torch.Tensor], samples: list[Sample], steps: int,
              meta: bool = False, second_order: bool = False) -> list[torch.Tensor]:
    """`steps` plain SGD steps theta <- theta - rate * grad on the mean loss of `samples`.

    meta=False (test time): the result is detached. meta=True: the steps stay in the graph,
    so a loss on the result back-propagates to the initialisation and the rates; the
    gradients themselves are constants (first-order) unless `second_order`."""
    theta = [p if meta else p.detach().requires_grad_() for p in theta]
    rates = rates if meta else [r.detach() for r in rates]
    with torch.inference_mode(False), torch.enable_grad():
        for _ in range(steps):
            grads = torch.autograd.grad(samples_loss(theta, samples), theta, create_graph=second_order)
            theta = [p - r * g for p, r, g in zip(theta, rates, grads)]
            if not meta:
                theta = [p.detach().requires_grad_() for p in theta]
    return theta if meta else [p.detach() for p in theta]
