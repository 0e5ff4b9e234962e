"""A first mask from a box and/or clicks through the learned prompt encoder (and, when the
encoder was trained through it, the mask decoder)."""
from __future__ import annotations

import torch

from ..backbone.features import Features
from ..learned.layers import resize
from ..learned.prompt_encoder import Prompt, PromptEncoder


def encoded_mask(encoder: PromptEncoder, decoder: torch.nn.Module | None, features: Features,
                 prompt: Prompt) -> torch.Tensor:
    """(H, W) float {0, 1} mask at processing resolution; ValueError when the encoder needs a
    decoder that is not loaded."""
    levels = features.levels
    scores = encoder(levels, encoder.prompt_maps([prompt], levels))
    if encoder.shape.decoded:
        if decoder is None:
            raise ValueError("this prompt encoder was trained through the mask decoder: set decoder")
        logits = decoder(levels, scores)
    else:
        logits = torch.logit(resize(scores, levels[4].shape[-2:]), 1e-4)
    return (resize(logits, features.image_size)[0, 0] > 0).float()
