"""Canonical correlations (starssl.eval.cca) against textbook formulas and scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from starssl.eval.cca import canonical_correlations


def textbook(x: np.ndarray, y: np.ndarray, ridge_eps: float = 0.0) -> np.ndarray:
    """sqrt of the eigenvalues of Σxx⁻¹ Σxy Σyy⁻¹ Σyx, with the documented relative ridge."""
    x, y = x - x.mean(0), y - y.mean(0)
    n = len(x)
    sxx, syy, sxy = x.T @ x / (n - 1), y.T @ y / (n - 1), x.T @ y / (n - 1)
    sxx = sxx + ridge_eps * np.trace(sxx) / len(sxx) * np.eye(len(sxx))
    syy = syy + ridge_eps * np.trace(syy) / len(syy) * np.eye(len(syy))
    m = np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T)
    ev = np.sort(np.linalg.eigvals(m).real)[::-1][: min(x.shape[1], y.shape[1])]
    return np.sqrt(np.clip(ev, 0, None))


def correlated(n: int, p: int, q: int, seed: int = 0):
    """Views sharing a few latent factors with graded strength, plus independent noise."""
    g = np.random.default_rng(seed)
    z = g.normal(size=(n, 4)) * np.array([3.0, 1.5, 0.8, 0.4])
    x = z @ g.normal(size=(4, p)) + g.normal(size=(n, p))
    y = z @ g.normal(size=(4, q)) + g.normal(size=(n, q))
    return x, y


@pytest.mark.parametrize("eps", [0.0, 1e-2])
def test_matches_textbook_formula(eps):
    x, y = correlated(500, 6, 9)
    rho = canonical_correlations(torch.from_numpy(x), torch.from_numpy(y), eps=eps)
    assert rho.dtype == torch.float64 and rho.shape == (6,)
    assert torch.all(rho[:-1] >= rho[1:])
    np.testing.assert_allclose(rho.numpy(), textbook(x, y, eps), atol=1e-8)
    if eps:  # the ridge must shrink the correlations, so the test can tell the two apart
        assert (rho < canonical_correlations(torch.from_numpy(x), torch.from_numpy(y))).all()


def test_matches_sklearn_cca_leading_components():
    from sklearn.cross_decomposition import CCA

    x, y = correlated(2000, 5, 7, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xs, ys = CCA(n_components=3, max_iter=20000, tol=1e-14).fit(x, y).transform(x, y)
    ref = [np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(3)]
    rho = canonical_correlations(torch.from_numpy(x).float(), torch.from_numpy(y).float())
    np.testing.assert_allclose(rho[:3].numpy(), ref, atol=1e-4)


def test_known_cases():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 5, generator=g, dtype=torch.float64)
    mapped = x @ torch.randn(5, 8, generator=g, dtype=torch.float64) + 3.0
    ones = canonical_correlations(x, mapped)
    torch.testing.assert_close(ones, torch.ones(5, dtype=torch.float64), atol=1e-10, rtol=0)
    noise = canonical_correlations(x, torch.randn(1000, 4, generator=g, dtype=torch.float64))
    assert noise.max() < 0.15  # ~ sqrt(p q / n) for independent views
    assert noise.max() > 0


def test_rank_deficient_views_stay_finite_and_bounded():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 4, generator=g, dtype=torch.float64)
    xd = torch.cat([x, x[:, :1], torch.full((300, 1), 7.0, dtype=torch.float64)], 1)  # dup + const
    y = torch.cat(
        [
            x[:, :2] @ torch.randn(2, 3, generator=g, dtype=torch.float64),
            torch.randn(300, 3, generator=g, dtype=torch.float64),
        ],
        1,
    )
    rho = canonical_correlations(xd, y)
    assert rho.shape == (6,) and torch.isfinite(rho).all()
    assert (rho >= 0).all() and (rho <= 1).all()
    # Same spectrum as without the redundant columns (which add nothing), padded with zeros.
    torch.testing.assert_close(rho[:4], canonical_correlations(x, y), atol=1e-10, rtol=0)
    assert (rho[4:] == 0).all()
    # A constant-only view has no correlations at all.
    assert (canonical_correlations(torch.ones(50, 3), torch.randn(50, 2)) == 0).all()


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same n"):
        canonical_correlations(torch.randn(10, 2), torch.randn(9, 2))
