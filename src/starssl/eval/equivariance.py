"""Equivariance metrics R-equiv ↑ and P-equiv ↓ (§7: the paper does not define them).

Protocol choices (documented definitions of our own, after the usual retrieval / regression
measures of equivariant SSL papers):

- R-equiv := mean reciprocal rank (MRR). For sample i the predicted embedding pred[i] ranks
  all N targets of the evaluated set by cosine similarity; rank(i) = #{j : s_ij ≥ s_ii}, so
  ties count against the prediction (a constant or zero prediction gets rank N, not 1).
  hit@k = fraction of samples with rank ≤ k. Chance level of MRR is H_N / N.
- P-equiv := mean_i ‖n(pred_i) − n(target_i)‖² / mean_i ‖n(source_i) − n(target_i)‖², n = L2
  normalisation: 0 = perfect, 1 = no better than predicting "no change" (pred = source).
- Post-hoc predictor (so methods without one, SimCLR included, are scored on backbone
  features): ĥ = h0 + σ ⊙ MLP([(h0 − μ)/σ ; (a − μ_a)/σ_a]), MLP = Linear → ReLU → Linear →
  ReLU → Linear (no BN), last layer zero-initialised so training starts at the identity
  (P-equiv 1). μ, σ, μ_a, σ_a are per-dimension statistics of the fitting set. Loss: mean
  ‖n(ĥ) − n(ht)‖² (the quantity P-equiv measures), full-batch Adam, seeded initialisation;
  deterministic on CPU. Fit on one image set, score on another::

      phi = fit_posthoc_predictor(h0_fit, a_fit, ht_fit)
      scores = equivariance_scores(phi.predict(h0_test, a_test), ht_test, h0_test)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def retrieval_scores(
    pred: torch.Tensor, target: torch.Tensor, chunk: int = 1024
) -> dict[str, float]:
    """MRR, hit@1 and hit@5 of retrieving target[i] among all targets by pred[i] (cosine)."""
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(
            f"pred and target must both be [N, k], got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    t = F.normalize(target.double(), dim=1)
    p = F.normalize(pred.double().to(t.device), dim=1)
    ranks = []
    for lo in range(0, len(p), chunk):
        sim = p[lo : lo + chunk] @ t.T
        own = (p[lo : lo + chunk] * t[lo : lo + chunk]).sum(1, keepdim=True)
        # The diagonal of sim equals own up to round-off; counting it explicitly keeps rank ≥ 1.
        sim[torch.arange(len(own)), torch.arange(lo, lo + len(own))] = own.squeeze(1)
        ranks.append((sim >= own).sum(1))
    rank = torch.cat(ranks).double()
    return {
        "mrr": (1 / rank).mean().item(),
        "hit1": (rank <= 1).double().mean().item(),
        "hit5": (rank <= 5).double().mean().item(),
    }


def prediction_error(pred: torch.Tensor, target: torch.Tensor, source: torch.Tensor) -> float:
    """P-equiv: error of the normalised prediction relative to predicting "no change"."""
    t = F.normalize(target.double(), dim=1)
    err = (F.normalize(pred.double().to(t.device), dim=1) - t).square().sum(1).mean()
    base = (F.normalize(source.double().to(t.device), dim=1) - t).square().sum(1).mean()
    if base == 0:
        raise ValueError("source equals target: the transformation changes nothing to predict")
    return (err / base).item()


def equivariance_scores(
    pred: torch.Tensor, target: torch.Tensor, source: torch.Tensor
) -> dict[str, float]:
    """``r_equiv`` (MRR), ``hit1``, ``hit5`` and ``p_equiv`` of one set of predictions."""
    r = retrieval_scores(pred, target)
    return {
        "r_equiv": r["mrr"],
        "hit1": r["hit1"],
        "hit5": r["hit5"],
        "p_equiv": prediction_error(pred, target, source),
    }


class PosthocPredictor(nn.Module):
    """ĥ = h0 + σ ⊙ MLP([standardised h0 ; standardised a]); statistics from the fitting set."""

    def __init__(self, h0: torch.Tensor, a: torch.Tensor, hidden: int = 512) -> None:
        super().__init__()
        d, p = h0.shape[1], a.shape[1]
        for name, v in (("h", h0), ("a", a)):
            self.register_buffer(f"{name}_mean", v.mean(0))
            # Constant dimensions (e.g. a never-used flip) get std 1 to avoid dividing by 0.
            std = v.std(0)
            self.register_buffer(f"{name}_std", torch.where(std > 0, std, torch.ones_like(std)))
        self.mlp = nn.Sequential(
            nn.Linear(d + p, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, d),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, h0: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        z = torch.cat([(h0 - self.h_mean) / self.h_std, (a - self.a_mean) / self.a_std], dim=1)
        return h0 + self.h_std * self.mlp(z)

    @torch.no_grad()
    def predict(self, h0: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Predictions for new data (eval mode, no gradients), on this module's device/dtype."""
        ref = self.h_mean
        return self.eval()(h0.to(ref), a.to(ref))


def fit_posthoc_predictor(
    h0: torch.Tensor,
    a: torch.Tensor,
    ht: torch.Tensor,
    hidden: int = 512,
    steps: int = 500,
    lr: float = 1e-3,
    seed: int = 0,
) -> PosthocPredictor:
    """Fit ĥ(h0, a) ≈ ht by full-batch Adam on the normalised squared error (see module doc)."""
    h0, a, ht = h0.float(), a.float().to(h0.device), ht.float().to(h0.device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PosthocPredictor(h0, a, hidden).to(h0.device)
    target = F.normalize(ht, dim=1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = (F.normalize(model(h0, a), dim=1) - target).square().sum(1).mean()
        loss.backward()
        opt.step()
    return model.eval()
