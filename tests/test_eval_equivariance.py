"""Equivariance metrics and the post-hoc predictor (starssl.eval.equivariance)."""

from __future__ import annotations

import math

import pytest
import torch

from starssl.eval.equivariance import (
    equivariance_scores,
    fit_posthoc_predictor,
    prediction_error,
    retrieval_scores,
)


def rotation_data(n: int, seed: int, d: int = 8):
    """ht = h0 with its first two coordinates rotated by θ; a = (cos θ, sin θ)."""
    g = torch.Generator().manual_seed(seed)
    h0 = torch.randn(n, d, generator=g)
    th = (torch.rand(n, generator=g) * 2 - 1) * math.pi
    c, s = th.cos(), th.sin()
    ht = h0.clone()
    ht[:, 0], ht[:, 1] = c * h0[:, 0] - s * h0[:, 1], s * h0[:, 0] + c * h0[:, 1]
    return h0, torch.stack([c, s], 1), ht


def reference_ranks(pred: torch.Tensor, target: torch.Tensor) -> list[int]:
    """Plain loop: 1 + number of other targets at least as similar as the true one."""
    ranks = []
    for i in range(len(pred)):
        sims = [torch.cosine_similarity(pred[i], t, dim=0).item() for t in target]
        ranks.append(1 + sum(s >= sims[i] for j, s in enumerate(sims) if j != i))
    return ranks


def test_perfect_and_identity_predictors():
    h0, _, ht = rotation_data(200, 0)
    perfect = equivariance_scores(ht * 2.5, ht, h0)  # scale does not matter (cosine)
    assert perfect == pytest.approx({"r_equiv": 1.0, "hit1": 1.0, "hit5": 1.0, "p_equiv": 0.0})
    assert prediction_error(h0, ht, h0) == pytest.approx(1.0)


def test_retrieval_matches_reference_loop():
    g = torch.Generator().manual_seed(1)
    target = torch.randn(40, 5, generator=g)
    pred = target + 1.5 * torch.randn(40, 5, generator=g)
    ranks = torch.tensor(reference_ranks(pred, target), dtype=torch.float64)
    got = retrieval_scores(pred, target, chunk=7)  # chunking must not matter
    assert got["mrr"] == pytest.approx((1 / ranks).mean().item())
    assert got["hit1"] == pytest.approx((ranks <= 1).double().mean().item())
    assert got["hit5"] == pytest.approx((ranks <= 5).double().mean().item())
    assert 0.0 < got["hit1"] < got["hit5"] < 1.0


def test_random_predictions_are_at_chance_and_ties_count_against():
    n = 400
    g = torch.Generator().manual_seed(2)
    chance = sum(1 / k for k in range(1, n + 1)) / n  # H_N / N
    mrr = [
        retrieval_scores(torch.randn(n, 16, generator=g), torch.randn(n, 16, generator=g))["mrr"]
        for _ in range(5)
    ]
    assert abs(sum(mrr) / 5 - chance) < 0.3 * chance  # ~3.5 standard errors
    assert retrieval_scores(torch.zeros(n, 16), torch.randn(n, 16, generator=g))["mrr"] == 1 / n


def test_posthoc_predictor_learns_a_rotation_on_held_out_data():
    phi = fit_posthoc_predictor(*rotation_data(1024, 0), hidden=64, steps=200, lr=3e-3)
    h0, a, ht = rotation_data(256, 1)
    pred = phi.predict(h0, a)
    learnt, identity = equivariance_scores(pred, ht, h0), equivariance_scores(h0, ht, h0)
    assert learnt["p_equiv"] < 0.1 and identity["p_equiv"] == pytest.approx(1.0)
    assert learnt["r_equiv"] > identity["r_equiv"] + 0.2
    again = fit_posthoc_predictor(*rotation_data(1024, 0), hidden=64, steps=200, lr=3e-3)
    assert torch.equal(again.predict(h0, a), pred)  # deterministic on CPU


def test_untrained_predictor_is_the_identity():
    h0, a, ht = rotation_data(64, 0)
    phi = fit_posthoc_predictor(h0, a, ht, hidden=16, steps=0)
    assert torch.equal(phi.predict(h0, a), h0)
