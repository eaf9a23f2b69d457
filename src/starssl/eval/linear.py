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
  run to float32 stagnation). On nearly separable data the tiny-w fits are the slowest to
  converge; on such synthetic data (10,000 x 512) the default's validation accuracies stayed
  within 0.3 points of a float64 ``tol=1e-9`` reference at every w, with the same selected w
  and test accuracy. ``LinearResult.converged`` records which fits hit ``max_iter``.
- Precision: float32 by default (as AugSelf on GPU); the loss and its gradient are computed
  in a form that keeps the precision of tiny per-sample losses and sum in float64 (see
  ``_loss_grad``). ``dtype=torch.float64`` is available; on the CPU it costs twice as much
  and changed no selected w or test accuracy in ``bench/bench_linear.py``.
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
    """Transposed features with a ones row, labels and the whitening eigenbasis.

    Features are kept as ``xt = [X, 1]^T`` of shape [D, N]: on the CPU, ``theta @ xt`` and
    ``p @ xt.T`` with logits laid out [C, N] are a quarter faster than the [N, D] layout
    (measured with one thread at 50,000 x 513, C = 10), and no second copy is needed.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        num_classes: int,
        dtype: torch.dtype,
        gram: torch.Tensor | None = None,
    ):
        n = x.shape[0]
        self.xt = torch.cat([x.T.to(dtype), x.new_ones(1, n, dtype=dtype)]).contiguous()
        self.y = y.to(x.device, torch.long)[None, :]
        self.n, self.c, self.dim = n, num_classes, self.xt.shape[0]
        # The Gram matrix only shapes the preconditioner (not the minimiser), so the working
        # precision is enough; it is kept so that train + val can reuse the train part.
        self.gram = self.xt @ self.xt.T if gram is None else gram
        evals, evecs = torch.linalg.eigh(self.gram.double() / n)
        self.evals, self.v = evals.clamp_min(0), evecs.to(dtype)

    def scale(self, w: float) -> torch.Tensor:
        return (self.evals / self.c + 2.0 * w / self.n).rsqrt().to(self.xt.dtype)

    def theta(self, gamma: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return (gamma * s) @ self.v.T

    def gamma(self, theta: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return (theta @ self.v) / s

    def loss_grad(self, theta: torch.Tensor, w: float) -> tuple[torch.Tensor, torch.Tensor]:
        return _loss_grad(self.xt, self.y, theta, w)


def _loss_grad(
    xt: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, w: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum CE + w ||theta||^2) / N and its gradient for xt [D, N], y [1, N], theta [C, D].

    Per sample, CE = m + log1p(sum of the other exp(logit - logit_y - m)) with m the largest
    margin: unlike logsumexp - logit_y, it keeps full relative precision when the loss is
    tiny (well-separated samples at small w), which float32 needs. No autograd.
    """
    n = xt.shape[1]
    logits = theta @ xt  # [C, N]
    margins = logits - logits.gather(0, y)
    m, top = margins.max(dim=0, keepdim=True)
    e = torch.exp(margins - m)
    rest = e.scatter(0, top, 0.0).sum(0, keepdim=True)  # the top term is exactly 1
    ce = m + torch.log1p(rest)
    p = e / (1.0 + rest)
    # d CE / d logit_y = p_y - 1 = -(sum of the other p): summed directly, no cancellation.
    p.scatter_(0, y, -p.scatter(0, y, 0.0).sum(0, keepdim=True))
    # Sums in float64: in float32 the objective (about log C at large w) cannot resolve the
    # small decreases the line search must see, and L-BFGS stalls early.
    loss = (ce.sum(dtype=torch.float64) + w * theta.square().sum(dtype=torch.float64)) / n
    grad = (p @ xt.T + (2.0 * w) * theta) / n
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

    last: list[tuple[torch.Tensor, float]] = []

    def closure() -> torch.Tensor:
        theta = prob.theta(gamma.detach(), s)
        loss, grad = prob.loss_grad(theta, w)
        gamma.grad = (grad @ prob.v) * s  # chain rule through theta = (gamma * s) V^T
        last[:] = [(gamma.detach().clone(), loss.item())]
        return loss

    opt.step(closure)
    iters = int(opt.state[gamma]["n_iter"])
    theta = prob.theta(gamma.detach(), s)
    # The line search usually ends on its last evaluation; only otherwise evaluate again
    # (a full pass over the data costs as much as an iteration).
    if torch.equal(last[0][0], gamma.detach()):
        objective = last[0][1]
    else:
        objective = prob.loss_grad(theta, w)[0].item()
    fit = LinearFit(theta[:, :-1], theta[:, -1], objective, iters, iters < max_iter)
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
    theta0 = prob.xt.new_zeros(c, prob.dim)
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

    theta = prob.xt.new_zeros(c, prob.dim)
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
    x_val_t = torch.cat([x_val.T, x_val.new_ones(1, len(x_val))])
    gram = prob.gram + x_val_t @ x_val_t.T  # the train+val Gram matrix without a new pass
    x_both = torch.cat([prob.xt[:-1].T, x_val])
    del prob  # at most two copies of the features alive at once
    both = _Problem(x_both, torch.cat([train[1].to(dev), y_val]), c, dtype, gram=gram)
    del x_both
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
