"""Speed of the linear-probe protocol (starssl.eval.linear) against scikit-learn.

Both run the same 45-value grid, descending, warm-started, then refit on train+val at the
selected w. scikit-learn gets the identical objective: a column of ones is appended and
``fit_intercept=False``, so the "bias" is penalised too, and C = 1 / (2 w) turns its
``0.5 ||theta||^2 + C sum CE`` into ``sum CE + w ||theta||^2`` up to a constant factor.
Features are synthetic but shaped like pooled ResNet features: non-negative, correlated,
with overlapping class clusters (test accuracy around 80% at the default size).

    python bench/bench_linear.py              # 50,000 x 512, 10 classes
    python bench/bench_linear.py --n 10000    # quicker
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from starssl.eval.linear import linear_probe


def make_features(n: int, d: int, classes: int, seed: int, sep: float = 0.12):
    """ReLU of correlated Gaussian noise plus a class mean; the class structure uses seed 1234."""
    g0 = np.random.default_rng(1234)
    means = g0.normal(0.0, sep, (classes, d))
    mix = g0.normal(0.0, 1.0 / np.sqrt(d), (d, d))
    g = np.random.default_rng(seed)
    y = g.integers(0, classes, n)
    z = g.normal(0.0, 1.0, (n, d)) @ mix.T + g.normal(0.0, 0.5, (n, d)) + means[y]
    x = np.maximum(z + 0.3, 0.0).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


def sklearn_protocol(train, val, test, grid):
    """The same protocol with sklearn's lbfgs (float64, its default tol 1e-4)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    def ones(x):
        x = x.double().numpy()
        return np.hstack([x, np.ones((len(x), 1))])

    xtr, xva, xte = ones(train[0]), ones(val[0]), ones(test[0])
    ytr, yva, yte = train[1].numpy(), val[1].numpy(), test[1].numpy()
    clf = LogisticRegression(fit_intercept=False, warm_start=True, max_iter=5000)
    best, sweep, iters = None, [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for w in grid:
            clf.set_params(C=1.0 / (2.0 * w))
            clf.fit(xtr, ytr)
            iters.append(int(clf.n_iter_.max()))
            acc = float((clf.predict(xva) == yva).mean())
            sweep.append((w, acc))
            if best is None or acc >= best[1]:
                best = (w, acc, clf.coef_.copy())
        w, val_acc, coef = best
        refit = LogisticRegression(
            C=1.0 / (2.0 * w), fit_intercept=False, warm_start=True, max_iter=5000
        )
        refit.coef_ = coef  # warm start from the train-only fit, as the protocol does
        refit.fit(np.vstack([xtr, xva]), np.concatenate([ytr, yva]))
    test_acc = float((refit.predict(xte) == yte).mean())
    return w, val_acc, test_acc, sweep, iters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="training samples (val n/10, test n/5)")
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument(
        "--dtype", choices=["float32", "float64"], nargs="+", default=["float32", "float64"]
    )
    ap.add_argument("--device", default=None)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch and for scikit-learn's BLAS (default: library "
        "defaults); use 1 on a shared machine, where oversubscription distorts timings",
    )
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print the per-w table")
    args = ap.parse_args()

    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    train = make_features(args.n, args.d, args.classes, seed=0)
    val = make_features(args.n // 10, args.d, args.classes, seed=1)
    test = make_features(args.n // 5, args.d, args.classes, seed=2)
    print(f"n={args.n} d={args.d} classes={args.classes} threads={torch.get_num_threads()}")
    results = {}
    for name in args.dtype:
        res = linear_probe(train, val, test, "top1", device=args.device, dtype=getattr(torch, name))
        results[name] = res
        print(
            f"starssl {name}: {res.timings['total']:.1f} s (sweep {res.timings['sweep']:.1f}, "
            f"refit {res.timings['refit']:.1f}), iterations {sum(res.iterations)}, "
            f"best w {res.best_w:.3g}, val {100 * res.val_accuracy:.2f}, "
            f"test {100 * res.test_accuracy:.2f}, all converged {all(res.converged)}"
        )
    if args.skip_sklearn:
        return
    grid = [w for w, _ in next(iter(results.values())).sweep]
    t = time.perf_counter()
    w, val_acc, test_acc, sweep, iters = sklearn_protocol(train, val, test, grid)
    el = time.perf_counter() - t
    print(
        f"sklearn lbfgs float64: {el:.1f} s, iterations {sum(iters)}, best w {w:.3g}, "
        f"val {100 * val_acc:.2f}, test {100 * test_acc:.2f}"
    )
    for name, res in results.items():
        gap = max(abs(a - b) for (_, a), (_, b) in zip(res.sweep, sweep, strict=True))
        print(
            f"  {name}: speed-up {el / res.timings['total']:.1f}x, test difference "
            f"{100 * (res.test_accuracy - test_acc):+.2f} points, largest val difference "
            f"over the grid {100 * gap:.2f} points"
        )
    if args.verbose:
        for i, (w, acc) in enumerate(sweep):
            ours = " ".join(
                f"{100 * r.sweep[i][1]:6.2f} {r.iterations[i]:4d}" for r in results.values()
            )
            print(f"w {w:9.3g}  sklearn {100 * acc:6.2f} {iters[i]:4d}  ours {ours}")


if __name__ == "__main__":
    main()
