"""Speed of the full canonical-correlation spectrum (starssl.eval.cca) against scikit-learn.

Synthetic views shaped like the CCA analysis (10,000 samples of two 128-d embeddings) that
share 32 latent factors of graded strength, so the spectrum spans (0, 1). scikit-learn's
``CCA`` (NIPALS with deflation) computes components one by one; the full spectrum needs
``n_components = 128``. Its correlation per component is that of the transformed scores.
With ``--sk-components m < 128`` only the first m are timed and the full-spectrum time is
extrapolated linearly (each component costs a NIPALS solve plus a deflation of the same size;
later components converge more slowly, so the extrapolation is a lower bound).

    python bench/bench_cca.py                       # 10,000 x 128, sklearn 128 components
    python bench/bench_cca.py --quick               # 2,000 x 64, sklearn 8 components
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from starssl.eval.cca import canonical_correlations


def make_views(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    k = p // 4
    z = g.normal(size=(n, k)) * np.geomspace(3.0, 0.05, k)
    x = z @ g.normal(size=(k, p)) + g.normal(size=(n, p))
    y = z @ g.normal(size=(k, p)) + g.normal(size=(n, p))
    return x.astype(np.float32), y.astype(np.float32)


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--p", type=int, default=128)
    ap.add_argument("--sk-components", type=int, default=None, help="default: p (full)")
    ap.add_argument("--quick", action="store_true", help="n 2000, p 64, 8 sklearn components")
    ap.add_argument("--sk-max-iter", type=int, default=5000, help="sklearn default: 500")
    ap.add_argument("--sk-tol", type=float, default=1e-10, help="sklearn default: 1e-6")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.quick:
        args.n, args.p, args.sk_components = 2000, 64, args.sk_components or 8
    m = args.sk_components or args.p
    x, y = make_views(args.n, args.p)
    xt, yt = torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device)
    print(f"n={args.n} p=q={args.p} threads={torch.get_num_threads()} device={args.device}")

    def ours():
        rho = canonical_correlations(xt, yt)
        if xt.is_cuda:
            torch.cuda.synchronize()
        return rho

    ours()  # warm-up (lazy library loading, CUDA context)
    t_ours, rho = best_of(ours, 5)
    rho = rho.cpu().numpy()
    print(
        f"starssl: {1e3 * t_ours:.1f} ms for all {args.p} correlations "
        f"(mean {rho.mean():.4f}, max {rho[0]:.4f}, min {rho[-1]:.4f})"
    )

    from sklearn.cross_decomposition import CCA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on weak trailing components
        t = time.perf_counter()
        cca = CCA(n_components=m, max_iter=args.sk_max_iter, tol=args.sk_tol).fit(x, y)
        xs, ys = cca.transform(x, y)
        t_sk = time.perf_counter() - t
    ref = np.array([np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(m)])
    gap = np.abs(ref - rho[:m])
    full = t_sk * args.p / m
    kind = "measured" if m == args.p else f"extrapolated x{args.p / m:.1f} from {m} components"
    print(
        f"sklearn CCA (max_iter {args.sk_max_iter}, tol {args.sk_tol:g}): {t_sk:.2f} s for "
        f"{m} components; full spectrum {full:.1f} s ({kind})"
    )
    print(f"speed-up (full spectrum): {full / t_ours:.0f}x")
    print(
        f"largest |difference| over {m} components {gap.max():.2e} (first 10: "
        f"{gap[:10].max():.2e}); components differing by > 1e-4: {int((gap > 1e-4).sum())}"
    )


if __name__ == "__main__":
    main()
