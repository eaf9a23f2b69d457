"""How each task's soft router mixes the experts (§7 routing analysis; star_mmoe).

Protocol choices (the paper reports only the mean weight per expert):

- Statistics are over the analysed samples (one weight vector per sample and router); std is
  the population std (no Bessel correction).
- Entropy is per sample in nats, H(w) = −Σ_n w_n log w_n with 0 log 0 = 0; the normalised
  entropy divides by log N (1 = uniform mixing, 0 = one expert). With N = 1 it is 0.
- ``argmax_histogram``: fraction of samples whose largest weight is on each expert (ties go to
  the lower expert index).
- ``shared_overlap`` (only when routers "inv" and "eq" both exist): Σ_n min(m_inv[n], m_eq[n])
  over the two mean-weight vectors, the routing mass the two tasks put on the same experts;
  1 = identical mean routing, 0 = disjoint experts.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def router_statistics(w: torch.Tensor) -> dict[str, Any]:
    """Statistics of one router's weights [B, N] (rows on the simplex); JSON-ready."""
    w = w.detach().double()
    n = w.shape[1]
    entropy = -torch.special.xlogy(w, w).sum(1)
    norm = entropy / math.log(n) if n > 1 else torch.zeros_like(entropy)
    hist = torch.bincount(w.argmax(1), minlength=n).double() / len(w)
    return {
        "mean_weight": w.mean(0).tolist(),
        "std_weight": w.std(0, correction=0).tolist(),
        "entropy_mean": entropy.mean().item(),
        "entropy_std": entropy.std(correction=0).item(),
        "entropy_normalised_mean": norm.mean().item(),
        "entropy_normalised_std": norm.std(correction=0).item(),
        "argmax_histogram": hist.tolist(),
    }


def routing_statistics(weights: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Per-router statistics keyed by router name, plus ``shared_overlap`` for inv and eq."""
    out: dict[str, Any] = {name: router_statistics(w) for name, w in weights.items()}
    if "inv" in weights and "eq" in weights:
        m_inv, m_eq = (weights[k].detach().double().mean(0) for k in ("inv", "eq"))
        out["shared_overlap"] = torch.minimum(m_inv, m_eq.to(m_inv.device)).sum().item()
    return out
