"""Frozen-backbone features of cached uint8 images (§7: no augmentation, features not normalised)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    images_uint8: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``encoder`` applied in eval mode to ``images_uint8`` [N,3,S,S]; returns float32 [N,d] on CPU.

    Images become float in [0, 1] and are normalised with ``mean``/``std`` (per channel) on the
    device, batch by batch. The module's training flag is restored afterwards.
    """
    dev = torch.device(device) if device is not None else next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    original = next(encoder.parameters()).device
    encoder.to(dev)
    m = mean.view(1, 3, 1, 1).to(dev)
    s = std.view(1, 3, 1, 1).to(dev)
    try:
        out = [
            encoder((images_uint8[i : i + batch_size].to(dev).float() / 255 - m) / s).float().cpu()
            for i in range(0, len(images_uint8), batch_size)
        ]
    finally:
        encoder.train(was_training)
        encoder.to(original)
    return torch.cat(out) if out else torch.empty(0)
