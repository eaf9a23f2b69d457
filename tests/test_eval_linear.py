"""Linear probe (starssl.eval.linear) against scipy's L-BFGS-B, scikit-learn and refits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.special import logsumexp

from starssl.errors import ConfigError, DataError
from starssl.eval.linear import (
    fit_linear,
    linear_probe,
    mean_per_class_accuracy,
    top1_accuracy,
)


def blobs(n: int, seed: int, d: int = 6, classes: int = 3, sep: float = 1.2):
    """Overlapping, non-negative Gaussian clusters (not separable: a well-posed small problem)."""
    centres = np.random.default_rng(100).normal(0.0, sep, (classes, d))
    g = np.random.default_rng(seed)
    y = g.integers(0, classes, n)
    x = np.abs(centres[y] + g.normal(size=(n, d)) + 1.0)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


def scipy_fit(x: np.ndarray, y: np.ndarray, w: float, classes: int):
    """Independent oracle: sum CE + w ||[W, b]||^2 written in numpy, minimised by L-BFGS-B."""
    xt = np.hstack([x, np.ones((len(x), 1))])
    onehot = np.eye(classes)[y]

    def f(v):
        theta = v.reshape(classes, -1)
        logits = xt @ theta.T
        lse = logsumexp(logits, axis=1)
        value = np.sum(lse - logits[np.arange(len(y)), y]) + w * np.sum(theta**2)
        grad = (np.exp(logits - lse[:, None]) - onehot).T @ xt + 2 * w * theta
        return value, grad.ravel()

    opts = {"maxiter": 20000, "gtol": 1e-11, "ftol": 1e-16, "maxcor": 30}
    res = minimize(f, np.zeros(classes * xt.shape[1]), jac=True, method="L-BFGS-B", options=opts)
    theta = res.x.reshape(classes, -1)
    return res.fun, theta[:, :-1], theta[:, -1]


@pytest.mark.parametrize("w", [1e-3, 1.0, 30.0])
def test_fit_matches_scipy_lbfgsb(w):
    x, y = blobs(150, seed=0)
    f_ref, w_ref, b_ref = scipy_fit(x.double().numpy(), y.numpy(), w, 3)
    fit = fit_linear(x, y, w, dtype=torch.float64, tol=1e-10)
    assert fit.converged
    assert fit.objective * len(x) == pytest.approx(f_ref, rel=1e-10)
    np.testing.assert_allclose(fit.weight.numpy(), w_ref, atol=1e-5)
    np.testing.assert_allclose(fit.bias.numpy(), b_ref, atol=1e-5)
    # The float32 default reaches the same optimum to float32 accuracy.
    fit32 = fit_linear(x, y, w)
    assert fit32.weight.dtype == torch.float32
    assert fit32.objective * len(x) == pytest.approx(f_ref, rel=1e-6)
    np.testing.assert_allclose(fit32.weight.numpy(), w_ref, rtol=1e-3, atol=1e-3)


def test_fit_matches_sklearn_with_penalised_intercept_column():
    # sklearn does not penalise its intercept, so the objectives coincide only with
    # fit_intercept=False and a column of ones (whose weight is our penalised bias).
    from sklearn.linear_model import LogisticRegression

    x, y = blobs(200, seed=1)
    w = 2.0
    ones = np.hstack([x.double().numpy(), np.ones((len(x), 1))])
    ref = LogisticRegression(C=1 / (2 * w), fit_intercept=False, tol=1e-12, max_iter=10000)
    ref.fit(ones, y.numpy())
    fit = fit_linear(x, y, w, dtype=torch.float64, tol=1e-10)
    np.testing.assert_allclose(fit.weight.numpy(), ref.coef_[:, :-1], atol=1e-5)
    np.testing.assert_allclose(fit.bias.numpy(), ref.coef_[:, -1], atol=1e-5)
    xt, _ = blobs(300, seed=2)
    ours = (xt.double() @ fit.weight.T + fit.bias).argmax(1).numpy()
    theirs = ref.predict(np.hstack([xt.double().numpy(), np.ones((300, 1))]))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    g = torch.Generator().manual_seed(0)
    labels = torch.cat([torch.zeros(50), torch.ones(5), torch.full((20,), 3.0)]).long()
    pred = torch.randint(0, 5, (75,), generator=g)  # predicts class 2 and 4, absent in labels
    assert top1_accuracy(pred, labels) == pytest.approx(accuracy_score(labels, pred))
    ref = balanced_accuracy_score(labels.numpy(), pred.numpy())
    assert mean_per_class_accuracy(pred, labels) == pytest.approx(ref)
    assert mean_per_class_accuracy(pred, labels) != pytest.approx(top1_accuracy(pred, labels))


@pytest.fixture(scope="module")
def splits():
    return blobs(120, seed=3), blobs(60, seed=4), blobs(200, seed=5)


@pytest.fixture(scope="module")
def probe(splits):
    return linear_probe(*splits, metric="top1", num_wd=12, dtype=torch.float64, tol=1e-9)


def test_probe_sweep_selection_and_refit(splits, probe):
    train, val, test = splits
    ws = [w for w, _ in probe.sweep]
    np.testing.assert_allclose(ws, np.logspace(-6, 5, 12)[::-1], rtol=1e-12)  # descending
    accs = [a for _, a in probe.sweep]
    assert probe.val_accuracy == max(accs)
    assert probe.best_w == min(w for w, a in probe.sweep if a == max(accs))  # ties: smallest w
    assert len(probe.iterations) == len(probe.converged) == 13 and all(probe.converged)
    assert set(probe.timings) == {"setup", "sweep", "refit", "total"}
    # Each warm-started sweep fit agrees with a cold fit from zero (unique minimiser).
    for w, acc in probe.sweep:
        cold = fit_linear(*train, w, num_classes=3, dtype=torch.float64, tol=1e-9)
        cold_acc = top1_accuracy((val[0].double() @ cold.weight.T + cold.bias).argmax(1), val[1])
        assert abs(cold_acc - acc) <= 1 / len(val[1]) + 1e-12
    # The refit is the train+val optimum at best_w and gives the reported test accuracy.
    both = (torch.cat([train[0], val[0]]), torch.cat([train[1], val[1]]))
    ref = fit_linear(*both, probe.best_w, num_classes=3, dtype=torch.float64, tol=1e-10)
    torch.testing.assert_close(probe.weight, ref.weight, atol=1e-4, rtol=0)
    pred = (test[0].double() @ ref.weight.T + ref.bias).argmax(1)
    assert probe.test_accuracy == pytest.approx(top1_accuracy(pred, test[1]), abs=1 / 200)


def test_probe_is_bit_deterministic(splits, probe):
    again = linear_probe(*splits, metric="top1", num_wd=12, dtype=torch.float64, tol=1e-9)
    assert again.sweep == probe.sweep and again.test_accuracy == probe.test_accuracy
    assert torch.equal(again.weight, probe.weight) and torch.equal(again.bias, probe.bias)


def test_probe_class_average_metric(splits):
    train, val, test = splits
    res = linear_probe(train, val, test, metric="class_avg", num_wd=6)
    fit = fit_linear(*train, res.best_w, num_classes=3, dtype=torch.float64, tol=1e-9)
    pred = (val[0].double() @ fit.weight.T + fit.bias).argmax(1)
    assert res.val_accuracy == pytest.approx(mean_per_class_accuracy(pred, val[1]), abs=0.02)
    assert res.metric == "class_avg" and 0 < res.test_accuracy <= 1


def test_probe_rejects_bad_input(splits):
    train, val, test = splits
    with pytest.raises(ConfigError, match="metric"):
        linear_probe(train, val, test, metric="top5")
    with pytest.raises(ConfigError, match="wd_range"):
        linear_probe(train, val, test, wd_range=(0.0, 1.0))
    with pytest.raises(DataError, match="val"):
        linear_probe(train, (val[0], val[1][:-1]), test)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(splits, probe):
    res = linear_probe(*splits, num_wd=12, dtype=torch.float64, tol=1e-9, device="cuda")
    assert res.best_w == probe.best_w
    assert res.test_accuracy == pytest.approx(probe.test_accuracy, abs=1 / 200)
