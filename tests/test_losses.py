"""NT-Xent and the equivariant NT-Xent (§4) against plain loop-over-anchors references."""

from __future__ import annotations

import math

import pytest
import torch

from starssl.losses import equivariant_nt_xent, nt_xent


def _cos(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.dot(u, v) / (u.norm() * v.norm())


def _ref_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR as written: for each of the 2M views, -log softmax of its partner among the rest."""
    views = list(z1) + list(z2)
    m = len(z1)
    total = torch.zeros((), dtype=z1.dtype)
    for i, anchor in enumerate(views):
        partner = (i + m) % (2 * m)
        numerator = torch.exp(_cos(anchor, views[partner]) / tau)
        denominator = sum(torch.exp(_cos(anchor, v) / tau) for j, v in enumerate(views) if j != i)
        total = total - torch.log(numerator / denominator)
    return total / (2 * m)


def _ref_equivariant(targets: torch.Tensor, predictions: torch.Tensor, tau: float) -> torch.Tensor:
    """§4 in words: target row m <-> prediction row m positive; every other row of both stacks
    is a negative; averaged over the anchors of both stacks."""
    rows = len(targets)
    losses = []
    for anchors, partners in ((targets, predictions), (predictions, targets)):
        for m in range(rows):
            pos = torch.exp(_cos(anchors[m], partners[m]) / tau)
            neg = sum(
                torch.exp(_cos(anchors[m], other[j]) / tau)
                for other in (anchors, partners)
                for j in range(rows)
                if j != m
            )
            losses.append(-torch.log(pos / (pos + neg)))
    return torch.stack(losses).mean()


@pytest.mark.parametrize(("m", "k", "tau"), [(1, 3, 0.5), (5, 4, 0.2), (8, 16, 1.0)])
def test_nt_xent_matches_loop_reference(m: int, k: int, tau: float) -> None:
    torch.manual_seed(m)
    z1 = torch.randn(m, k, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(m, k, dtype=torch.float64, requires_grad=True)
    loss = nt_xent(z1, z2, tau)
    (g1, g2) = torch.autograd.grad(loss, (z1, z2))
    ref = _ref_nt_xent(z1, z2, tau)
    (r1, r2) = torch.autograd.grad(ref, (z1, z2))
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(g1, r1)
    torch.testing.assert_close(g2, r2)


def test_nt_xent_known_value() -> None:
    """Two orthonormal pairs: each anchor sees its positive at cos 1 and two negatives at cos 0."""
    tau = 0.2
    z = torch.eye(2, 3)
    expected = math.log(1 + 2 * math.exp(-1 / tau))
    assert nt_xent(z, 2.5 * z, tau).item() == pytest.approx(expected, rel=1e-6)
    # identical pairs with a single sample: no negatives, perfect positive -> zero loss
    assert nt_xent(torch.ones(1, 4), torch.ones(1, 4), tau).item() == pytest.approx(0.0, abs=1e-7)


def test_nt_xent_properties() -> None:
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 5), torch.randn(6, 5)
    base = nt_xent(z1, z2, 0.2)
    torch.testing.assert_close(nt_xent(z2, z1, 0.2), base)  # symmetric in the views
    torch.testing.assert_close(nt_xent(3 * z1, 0.1 * z2, 0.2), base)  # scale invariant
    perm = torch.randperm(6)
    torch.testing.assert_close(nt_xent(z1[perm], z2[perm], 0.2), base)  # order of pairs


def test_nt_xent_in_float32_under_autocast() -> None:
    torch.manual_seed(0)
    z1, z2 = torch.randn(64, 32), torch.randn(64, 32)
    expected = nt_xent(z1, z2, 0.2)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = nt_xent(z1, z2, 0.2)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("b", [1, 3])
def test_equivariant_nt_xent_matches_reference(b: int) -> None:
    torch.manual_seed(b)
    e1, e2, p1, p2 = (torch.randn(b, 4, dtype=torch.float64, requires_grad=True) for _ in range(4))
    targets, predictions = torch.cat([e1, e2]), torch.cat([p1, p2])
    loss = equivariant_nt_xent(targets, predictions, 0.2)
    ref = _ref_equivariant(targets, predictions, 0.2)
    torch.testing.assert_close(loss, ref)
    got = torch.autograd.grad(loss, (e1, e2, p1, p2))
    want = torch.autograd.grad(ref, (e1, e2, p1, p2))
    for g, w in zip(got, want, strict=True):
        assert g.abs().sum() > 0  # no stop-gradient on either side
        torch.testing.assert_close(g, w)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="nt_xent expects"):
        nt_xent(torch.ones(3, 2), torch.ones(4, 2), 0.2)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.ones(3, 2), torch.ones(3, 2), 0.0)
