"""Contrastive losses of §4 as pure functions (no state, no distributed logic).

Callers that train on several processes gather the embeddings (with gradient) before calling
these, so every rank evaluates the loss over the global batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """NT-Xent (SimCLR) between paired rows of ``z1`` and ``z2`` (both ``[M, k]``).

    All ``2M`` rows are anchors; the anchor's partner row in the other tensor is its positive,
    the remaining ``2M - 2`` rows are negatives. Logits are cosine similarity / ``temperature``;
    returns the mean cross-entropy over the ``2M`` anchors. Computed in at least float32 even
    under autocast, since the exponentials of low-precision logits lose the small differences.
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(
            f"nt_xent expects two [M, k] tensors, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"nt_xent temperature must be positive, got {temperature}")
    m = z1.shape[0]
    with torch.autocast(device_type=z1.device.type, enabled=False):
        z = torch.cat([z1, z2])
        z = F.normalize(z.to(torch.promote_types(z.dtype, torch.float32)), dim=1)
        logits = z @ z.T / temperature
        # An anchor is never its own negative.
        self_mask = torch.eye(2 * m, dtype=torch.bool, device=z.device)
        logits = logits.masked_fill(self_mask, float("-inf"))
        idx = torch.arange(m, device=z.device)
        targets = torch.cat([idx + m, idx])
        return F.cross_entropy(logits, targets)


def equivariant_nt_xent(targets: Tensor, predictions: Tensor, temperature: float) -> Tensor:
    """Equivariant loss of §4: NT-Xent between the stacks ``[e1; e2]`` and ``[ê1; ê2]``.

    ``targets`` and ``predictions`` are the already stacked ``[2B, k]`` tensors. Row ``m`` of
    the targets is positive with row ``m`` of the predictions (and vice versa, symmetric);
    every other row of both stacks is a negative; no stop-gradient. This is exactly
    :func:`nt_xent` applied to the two stacks, so it simply delegates.
    """
    return nt_xent(targets, predictions, temperature)
