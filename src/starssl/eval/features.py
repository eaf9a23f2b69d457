"""Frozen-backbone feature extraction for the evaluation protocols (spec §7).

Protocol choices:

- Input: cached ``uint8`` images ``[N, 3, S, S]`` already resized and centre-cropped to the
  pretraining size (the data layer does that, bicubic); here they only become float
  ``[0, 1]`` and are normalised with the *pretraining* mean/std, the last step as in the
  architecture contract.
- The encoder runs in eval mode (BatchNorm uses its running statistics) under
  ``torch.no_grad``; its training flag and device are restored afterwards, even on error.
- Outputs are flattened to ``[N, d]`` float32 on the CPU, in input order. Batches are
  processed sequentially, so the result does not depend on anything but the inputs and the
  batch size (on the CPU it is bit-identical run to run; cuDNN may pick other kernels on GPU).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from starssl.errors import DataError


def _device_of(module: nn.Module) -> torch.device:
    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    images_uint8: torch.Tensor,
    mean: Sequence[float] | torch.Tensor,
    std: Sequence[float] | torch.Tensor,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Encode ``images_uint8`` ``[N, 3, S, S]`` with ``encoder``; returns float32 ``[N, d]`` (CPU).

    ``device`` defaults to the encoder's device; another device moves the encoder there for
    the call and back afterwards.
    """
    if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4 or images_uint8.shape[1] != 3:
        raise DataError(
            f"extract_features: need uint8 images [N, 3, H, W], got "
            f"{images_uint8.dtype} {tuple(images_uint8.shape)}"
        )
    if len(images_uint8) == 0:
        raise DataError("extract_features: no images")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    home = _device_of(encoder)
    dev = torch.device(device) if device is not None else home
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=dev).view(1, 3, 1, 1)
    was_training = encoder.training
    encoder.eval()
    encoder.to(dev)
    try:
        out = []
        for start in range(0, len(images_uint8), batch_size):
            batch = images_uint8[start : start + batch_size].to(dev, non_blocking=True)
            x = (batch.float() / 255.0 - mean_t) / std_t
            out.append(encoder(x).flatten(1).float().cpu())
        return torch.cat(out)
    finally:
        encoder.train(was_training)
        encoder.to(home)
