"""Canonical correlations between two views of the same samples (§7, redundancy analysis).

Protocol choices (the paper leaves these open; the CLI's choices are in ``starssl.commands.cca``):

- Both views are centred; no further scaling (CCA is invariant to invertible linear maps of
  either view, so standardising would not change the result).
- Ridge: with ``eps > 0`` each view's covariance Σ = XᵀX/(n−1) becomes Σ + λI with
  λ = eps · tr(Σ)/p, i.e. ``eps`` is relative to the view's mean eigenvalue, so it means the
  same for embeddings of any scale. ``eps = 0`` is plain CCA.
- Whitening by the thin SVD of the centred data, X = U S Vᵀ: the regularised whitened view is
  U diag(s / sqrt(s² + (n−1)λ)), and the correlations are the singular values of the product
  of the two whitened views. This never forms a covariance, so it is as accurate as QR.
- Rank deficiency (constant or duplicate columns, n ≤ p): singular values below
  ``max(n, p) · machine-eps · s_max`` are round-off, not signal, and are dropped; otherwise
  their 1/s amplification would turn noise into spurious correlations of 1. The spectrum is
  padded with zeros to length min(p, q).
- Mathematically the values lie in [0, 1]; they are clamped to [0, 1] because round-off can
  leave a perfectly correlated direction at 1 + 1e-15.
"""

from __future__ import annotations

import torch


def whiten(x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Centred, (ridge-)whitened view [n, r] (r = numerical rank) spanning the columns of ``x``."""
    x = x - x.mean(0, keepdim=True)
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    if s.numel() == 0 or s[0] == 0:
        return x.new_zeros(len(x), 0)
    keep = s > s[0] * max(x.shape) * torch.finfo(x.dtype).eps
    u, s = u[:, keep], s[keep]
    if eps > 0:
        # (n-1)·λ with λ = eps · tr(Σ)/p and tr(Σ) = Σ s² / (n-1).
        ridge = eps * (s.square().sum() / x.shape[1])
        return u * (s / (s.square() + ridge).sqrt())
    return u


def canonical_correlations(x: torch.Tensor, y: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """All canonical correlations of ``x`` [n, p] and ``y`` [n, q], float64, descending."""
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(
            f"need [n, p] and [n, q] with the same n, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    wx = whiten(x.double(), eps)
    wy = whiten(y.to(device=x.device, dtype=torch.float64), eps)
    rho = torch.linalg.svdvals(wx.T @ wy).clamp(0.0, 1.0)
    out = rho.new_zeros(min(x.shape[1], y.shape[1]))
    out[: len(rho)] = rho[: len(out)]
    return out
