"""Routing statistics (starssl.eval.routing) on inputs with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from starssl.eval.routing import routing_statistics


def test_uniform_and_one_hot_routers():
    n = 8
    uniform = torch.full((10, n), 1 / n)
    one_hot = torch.eye(n)[torch.tensor([0, 0, 0, 1, 2, 2, 7, 7, 7, 7])]
    stats = routing_statistics({"inv": uniform, "eq": one_hot})
    inv, eq = stats["inv"], stats["eq"]
    assert inv["entropy_mean"] == pytest.approx(math.log(n))
    assert inv["entropy_normalised_mean"] == pytest.approx(1.0)
    assert inv["entropy_std"] == pytest.approx(0.0, abs=1e-12)
    assert inv["std_weight"] == pytest.approx([0.0] * n, abs=1e-12)
    assert eq["entropy_mean"] == 0.0 and eq["entropy_normalised_mean"] == 0.0
    assert eq["argmax_histogram"] == pytest.approx([0.3, 0.1, 0.2, 0, 0, 0, 0, 0.4])
    assert eq["mean_weight"] == pytest.approx(eq["argmax_histogram"])
    assert sum(inv["argmax_histogram"]) == pytest.approx(1.0)
    # min(1/8, m_eq[n]) summed: experts 0, 1, 2, 7 contribute 1/8, 0.1, 1/8, 1/8.
    assert stats["shared_overlap"] == pytest.approx(0.125 * 3 + 0.1)


def test_against_reference_loop():
    w = torch.softmax(torch.randn(50, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    s = routing_statistics({"inv": w})["inv"]
    ent = [-sum(p * math.log(p) for p in row.tolist()) for row in w]
    mean = sum(ent) / len(ent)
    assert s["entropy_mean"] == pytest.approx(mean)
    assert s["entropy_std"] == pytest.approx(math.sqrt(sum((e - mean) ** 2 for e in ent) / 50))
    assert s["entropy_normalised_mean"] == pytest.approx(mean / math.log(4))
    assert s["entropy_normalised_std"] == pytest.approx(s["entropy_std"] / math.log(4))
    assert 0 < s["entropy_normalised_std"] < s["entropy_std"]
    col = [sum(r[j] for r in w.tolist()) / 50 for j in range(4)]
    assert s["mean_weight"] == pytest.approx(col)
    assert sum(s["argmax_histogram"]) == pytest.approx(1.0)
    assert "shared_overlap" not in routing_statistics({"inv": w})
    assert routing_statistics({"inv": w, "eq": w})["shared_overlap"] == pytest.approx(1.0)
