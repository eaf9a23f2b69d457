"""Linear transfer evaluation: the AugSelf L-BFGS protocol on frozen features (spec §7).

Protocol choices (the paper and AugSelf leave these open or we changed them on purpose):

- Objective, exactly AugSelf's (github hankook/AugSelf, ``transfer_linear_eval.py``):
  ``sum_i CE(W x_i + b, y_i) + w * (||W||^2 + ||b||^2)`` on features as given (not
  normalised). The bias is penalised. We minimise it divided by N, which has the same
  minimiser and makes the tolerances independent of the data-set size.
- Grid: ``num_wd`` log-spaced values in ``wd_range`` (45 in [1e-6, 1e5]). AugSelf sweeps
  ascending from ``nn.Linear``'s random init; we sweep **descending** from the zero matrix:
  the objective is strictly convex, so the minimiser at each w does not depend on the start,
  and a strongly penalised first fit converges in a few steps and then warm-starts the harder,
  weakly penalised ones. The zero start also keeps sum_c theta_c = 0 (true at the optimum),
  a direction the loss does not see and only the tiny penalty would otherwise correct.
  Each fit after the second starts from the secant extrapolation 2 theta(w_prev) -
  theta(w_prev2) instead of theta(w_prev) (same minimiser, about half the iterations).
- Optimiser: ``torch.optim.LBFGS`` (strong Wolfe, lr 1, history 100, a fresh optimiser per
  w as in AugSelf) in preconditioned coordinates theta = (gamma * s) V^T, where
  V diag(e) V^T = X~^T X~ / N (X~ = [X, 1]) and s = (e / C + 2 w / N)^(-1/2): the
  Hessian at the zero start is then close to the identity. Only the path to the minimiser
  changes, not the minimiser; it cuts the iterations several-fold.
- Stopping: ``max_iter`` (5000) iterations, or max |gradient| in those whitened coordinates
  below ``tol`` (1e-6; whitened units are roughly logit units), or an objective change or
  step below ``1e-3 * tol`` (AugSelf: gradient 1e-10 on the summed loss, change 0, i.e.
  run to float32 stagnation). Nearly separable data at tiny w may stop before the optimum,
  as in AugSelf; ``LinearResult.converged`` records which fits hit ``max_iter``.
- Precision: float32 by default; the loss and its gradient are computed in a form that keeps
  the precision of tiny per-sample losses (see ``_loss_grad``). ``dtype=torch.float64``
  is available.
- Selection: best validation metric; ties go to the smallest w (AugSelf's ascending sweep
  with ``best < acc`` does the same). Refit on train+val at that w, warm-started from the
  train-only solution at that w (as AugSelf), and report the test metric.
- Metric: ``"top1"`` or ``"class_avg"`` (mean per-class accuracy over the classes present in
  the labels, as AugSelf's ``class-avg``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from starssl.errors import ConfigError, DataError

Split = tuple[torch.Tensor, torch.Tensor]
METRICS = ("top1", "class_avg")


def top1_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of predictions equal to the labels."""
    return (pred == labels).double().mean().item()


def mean_per_class_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of the per-class accuracy."""
    classes = torch.unique(labels)
    per_class = [(pred[labels == c] == c).double().mean() for c in classes]
    return torch.stack(per_class).mean().item()


def _score(metric: str, pred: torch.Tensor, labels: torch.Tensor) -> float:
    score = top1_accuracy if metric == "top1" else mean_per_class_accuracy
    return score(pred, labels)


@dataclass
class LinearFit:
    """One fitted classifier: ``logits = x @ weight.T + bias``."""

    weight: torch.Tensor
    bias: torch.Tensor
    objective: float  # (sum CE + w ||theta||^2) / N at the returned parameters
    iterations: int
    converged: bool  # False when max_iter was reached


class _Problem:
    """Features with a ones column, labels and the whitening eigenbasis, on one device/dtype."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int, dtype: torch.dtype):
        n = x.shape[0]
        self.x = torch.cat([x.to(dtype), x.new_ones(n, 1, dtype=dtype)], dim=1)
        self.y = y.to(x.device, torch.long)[:, None]
        self.n, self.c = n, num_classes
        # The eigenbasis in float64: it is computed once and float32 Gram matrices of
        # uncentred features are badly conditioned.
        gram = self.x.double().T @ self.x.double() / n
        evals, evecs = torch.linalg.eigh(gram)
        self.evals, self.v = evals.clamp_min(0), evecs.to(dtype)

    def scale(self, w: float) -> torch.Tensor:
        return (self.evals / self.c + 2.0 * w / self.n).rsqrt().to(self.x.dtype)

    def theta(self, gamma: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return (gamma * s) @ self.v.T

    def gamma(self, theta: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return (theta @ self.v) / s

    def loss_grad(self, theta: torch.Tensor, w: float) -> tuple[torch.Tensor, torch.Tensor]:
        return _loss_grad(self.x, self.y, theta, w)


def _loss_grad(
    x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, w: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum CE + w ||theta||^2) / N and its gradient, without autograd.

    Per sample, CE = m + log1p(sum of the other exp(logit - logit_y - m)) with m the largest
    margin: unlike logsumexp - logit_y, it keeps full relative precision when the loss is
    tiny (well-separated samples at small w), which float32 needs.
    """
    n = x.shape[0]
    logits = x @ theta.T
    margins = logits - logits.gather(1, y)
    m, top = margins.max(dim=1, keepdim=True)
    e = torch.exp(margins - m)
    rest = e.scatter(1, top, 0.0).sum(1, keepdim=True)  # the top term is exactly 1
    ce = m + torch.log1p(rest)
    p = e / (1.0 + rest)
    # d CE / d logit_y = p_y - 1 = -(sum of the other p): summed directly, no cancellation.
    p.scatter_(1, y, -p.scatter(1, y, 0.0).sum(1, keepdim=True))
    # Sums in float64: in float32 the objective (about log C at large w) cannot resolve the
    # small decreases the line search must see, and L-BFGS stalls early.
    loss = (ce.sum(dtype=torch.float64) + w * theta.square().sum(dtype=torch.float64)) / n
    grad = (p.T @ x + (2.0 * w) * theta) / n
    return loss, grad


def _fit(
    prob: _Problem, w: float, theta0: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, LinearFit]:
    s = prob.scale(w)
    gamma = torch.nn.Parameter(prob.gamma(theta0, s))
    opt = torch.optim.LBFGS(
        [gamma],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-3 * tol,
        history_size=100,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        theta = prob.theta(gamma.detach(), s)
        loss, grad = prob.loss_grad(theta, w)
        gamma.grad = (grad @ prob.v) * s  # chain rule through theta = (gamma * s) V^T
        return loss

    opt.step(closure)
    iters = int(opt.state[gamma]["n_iter"])
    theta = prob.theta(gamma.detach(), s)
    loss, _ = prob.loss_grad(theta, w)
    fit = LinearFit(theta[:, :-1], theta[:, -1], loss.item(), iters, iters < max_iter)
    return theta, fit


def fit_linear(
    x: torch.Tensor,
    y: torch.Tensor,
    w: float,
    num_classes: int | None = None,
    init: LinearFit | None = None,
    max_iter: int = 5000,
    tol: float = 1e-6,
    dtype: torch.dtype = torch.float32,
) -> LinearFit:
    """Minimise (sum CE + w ||[W, b]||^2) / N from ``init`` (zero by default), on x's device."""
    c = int(y.max()) + 1 if num_classes is None else num_classes
    prob = _Problem(x, y, c, dtype)
    theta0 = prob.x.new_zeros(c, prob.x.shape[1])
    if init is not None:
        theta0 = torch.cat([init.weight, init.bias[:, None]], 1).to(theta0)
    return _fit(prob, w, theta0, max_iter, tol)[1]


@dataclass
class LinearResult:
    """Outcome of :func:`linear_probe`; accuracies are fractions in [0, 1]."""

    metric: str
    best_w: float
    val_accuracy: float
    test_accuracy: float
    sweep: list[tuple[float, float]]  # (w, validation metric) in sweep order
    iterations: list[int]  # L-BFGS iterations per sweep fit, then the refit
    converged: list[bool]  # same order as iterations
    timings: dict[str, float] = field(default_factory=dict)  # seconds: setup, sweep, refit, total
    weight: torch.Tensor | None = None  # refit classifier, on the CPU
    bias: torch.Tensor | None = None


def _check(name: str, split: Split) -> None:
    x, y = split
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise DataError(
            f"linear probe: {name} features {tuple(x.shape)} and labels "
            f"{tuple(y.shape)} must be [N, d] and [N] with N > 0"
        )


def linear_probe(
    train: Split,
    val: Split,
    test: Split,
    metric: str = "top1",
    wd_range: tuple[float, float] = (1e-6, 1e5),
    num_wd: int = 45,
    max_iter: int = 5000,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    tol: float = 1e-6,
) -> LinearResult:
    """Sweep w, select by the validation ``metric``, refit on train+val, score the test split."""
    if metric not in METRICS:
        raise ConfigError(f"linear probe: metric must be one of {METRICS}, got {metric!r}")
    if not 0 < wd_range[0] <= wd_range[1] or num_wd < 1:
        raise ConfigError(
            f"linear probe: need 0 < wd_range[0] <= wd_range[1] and num_wd >= 1, "
            f"got {wd_range}, {num_wd}"
        )
    for name, split in (("train", train), ("val", val), ("test", test)):
        _check(name, split)
    dev = torch.device(device) if device is not None else train[0].device
    t0 = time.perf_counter()
    c = int(max(int(s[1].max()) for s in (train, val, test))) + 1
    x_val, y_val = val[0].to(dev, dtype), val[1].to(dev)
    prob = _Problem(train[0].to(dev), train[1].to(dev), c, dtype)
    lo, hi = math.log10(wd_range[0]), math.log10(wd_range[1])
    grid = torch.logspace(lo, hi, num_wd, dtype=torch.float64)
    t1 = time.perf_counter()

    theta = prob.x.new_zeros(c, prob.x.shape[1])
    prev = None
    sweep, fits, best = [], [], None
    for w in grid.flip(0).tolist():  # descending: see the module docstring
        # Secant warm start: on a log grid, consecutive solutions move by similar steps, so
        # extrapolating the last step halves the iterations (measured in bench_linear.py).
        start = theta if prev is None else 2.0 * theta - prev
        prev = theta
        theta, fit = _fit(prob, w, start, max_iter, tol)
        acc = _score(metric, (x_val @ fit.weight.T + fit.bias).argmax(1), y_val)
        sweep.append((w, acc))
        fits.append(fit)
        if best is None or acc >= best[1]:  # >= in descending order: ties go to the smaller w
            best = (w, acc, theta)
    t2 = time.perf_counter()

    w_best, val_acc, theta_best = best
    both = _Problem(
        torch.cat([train[0].to(dev), val[0].to(dev)]),
        torch.cat([train[1].to(dev), y_val]),
        c,
        dtype,
    )
    _, refit = _fit(both, w_best, theta_best, max_iter, tol)
    x_test = test[0].to(dev, dtype)
    test_acc = _score(metric, (x_test @ refit.weight.T + refit.bias).argmax(1), test[1].to(dev))
    t3 = time.perf_counter()
    return LinearResult(
        metric=metric,
        best_w=w_best,
        val_accuracy=val_acc,
        test_accuracy=test_acc,
        sweep=sweep,
        iterations=[f.iterations for f in fits] + [refit.iterations],
        converged=[f.converged for f in fits] + [refit.converged],
        timings={"setup": t1 - t0, "sweep": t2 - t1, "refit": t3 - t2, "total": t3 - t0},
        weight=refit.weight.cpu(),
        bias=refit.bias.cpu(),
    )
