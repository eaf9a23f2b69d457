"""Projection experts, routers, parameter projector and equivariant predictor (§3, §4)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MLPHead(nn.Module):
    """Linear(no bias) → BN → ReLU → Linear(no bias) → BN → ReLU → Linear(bias); no final BN.

    The hidden linears have no bias because the BN right after them cancels it.
    """

    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_hidden, bias=False)
        self.bn2 = nn.BatchNorm1d(d_hidden)
        self.fc3 = nn.Linear(d_hidden, d_out)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.fc2(x)))
        return self.fc3(x)


class BatchedExperts(nn.Module):
    """``N`` independent :class:`MLPHead` experts on a shared input, as batched matmuls.

    ``forward(h[B, d_in]) -> [B, N, d_out]``. Expert ``n`` owns slice ``n`` of ``w1, w2, w3,
    b3`` and channels ``n*d_hidden:(n+1)*d_hidden`` of ``bn1``/``bn2``: one BatchNorm1d over
    ``N*d_hidden`` channels normalises every channel on its own, so it is exactly ``N``
    separate BNs, and it stays an ``nn.BatchNorm1d`` so SyncBN conversion still applies.
    """

    def __init__(self, num_experts: int, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.num_experts, self.d_hidden = num_experts, d_hidden
        self.w1 = nn.Parameter(torch.empty(num_experts, d_hidden, d_in))
        self.bn1 = nn.BatchNorm1d(num_experts * d_hidden)
        self.w2 = nn.Parameter(torch.empty(num_experts, d_hidden, d_hidden))
        self.bn2 = nn.BatchNorm1d(num_experts * d_hidden)
        self.w3 = nn.Parameter(torch.empty(num_experts, d_out, d_hidden))
        self.b3 = nn.Parameter(torch.empty(num_experts, d_out))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Same distribution as ``nn.Linear``'s default init, slice by slice: U(±1/√fan_in)."""
        for w in (self.w1, self.w2, self.w3):
            bound = 1.0 / math.sqrt(w.shape[-1])
            nn.init.uniform_(w, -bound, bound)
        bound = 1.0 / math.sqrt(self.w3.shape[-1])
        nn.init.uniform_(self.b3, -bound, bound)
        self.bn1.reset_parameters()
        self.bn2.reset_parameters()

    def forward(self, h: Tensor) -> Tensor:
        b, n, dh = h.shape[0], self.num_experts, self.d_hidden
        # Layer 1 shares its input across experts: one [B, d_in] x [d_in, N*dh] matmul.
        x = F.relu(self.bn1(F.linear(h, self.w1.flatten(0, 1)))).view(b, n, dh)
        x = torch.einsum("bni,noi->bno", x, self.w2)
        x = F.relu(self.bn2(x.reshape(b, n * dh))).view(b, n, dh)
        return torch.einsum("bni,noi->bno", x, self.w3) + self.b3

    @classmethod
    def from_heads(cls, heads: Sequence[MLPHead]) -> BatchedExperts:
        """Batched copy of ``heads`` (weights, BN affine parameters and running statistics)."""
        first = heads[0]
        out = cls(len(heads), first.fc1.in_features, first.fc1.out_features, first.fc3.out_features)
        out = out.to(first.fc1.weight)
        with torch.no_grad():
            for name, attr in (("w1", "fc1"), ("w2", "fc2"), ("w3", "fc3")):
                getattr(out, name).copy_(torch.stack([getattr(h, attr).weight for h in heads]))
            out.b3.copy_(torch.stack([h.fc3.bias for h in heads]))
            for bn in ("bn1", "bn2"):
                for key, value in getattr(out, bn).state_dict(keep_vars=True).items():
                    parts = [getattr(h, bn).state_dict(keep_vars=True)[key] for h in heads]
                    # num_batches_tracked is a scalar shared by all channels.
                    value.copy_(parts[0] if value.dim() == 0 else torch.cat(parts))
        return out


class SoftRouter(nn.Module):
    """Dense soft routing for one task: ``softmax(Linear(d, N)(h))``, weights ``[B, N]``."""

    def __init__(self, d: int, num_experts: int) -> None:
        super().__init__()
        self.gate = nn.Linear(d, num_experts)

    def forward(self, h: Tensor) -> Tensor:
        return self.gate(h).softmax(dim=-1)


class ParamProjector(nn.Linear):
    """ψ: augmentation parameters ``[B, p]`` (standardised) -> ``[B, k]``."""

    def __init__(self, p: int = 11, k: int = 128) -> None:
        super().__init__(p, k)


class ShiftPredictor(nn.Module):
    """φ: predicts the equivariant embedding of a view as ``e0 + MLP([e0; ψ(a)])``.

    The MLP is 2k → hidden → hidden → k with BN+ReLU in the hidden layers and no last BN,
    i.e. the same block as a projection head.
    """

    def __init__(self, k: int, hidden: int = 512) -> None:
        super().__init__()
        self.mlp = MLPHead(2 * k, hidden, k)

    def forward(self, e0: Tensor, psi_a: Tensor) -> Tensor:
        return e0 + self.mlp(torch.cat([e0, psi_a], dim=1))
