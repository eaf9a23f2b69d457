"""The figures (PNG + PDF): CCA spectra, experts ablation, routing weights, pretraining curves.

Rendering is byte-stable: no pyplot state (a bare :class:`~matplotlib.figure.Figure` on the Agg
canvas), matplotlib's built-in defaults instead of the user's matplotlibrc, the bundled DejaVu
font, a fixed dpi, and no timestamps or version strings in the file metadata.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from starssl.io import atomic_path
from starssl.pipeline import paper
from starssl.pipeline.experiment import FIGURE_FORMATS, ablation_models, figure_names
from starssl.pipeline.results import Results, field

DPI = 150
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "pdf.fonttype": 42,
    "savefig.dpi": DPI,
    "figure.dpi": 100,
}
METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": "starssl", "Producer": "starssl", "CreationDate": None},
}
COLORS = {"simclr": "#7f7f7f", "equimod": "#1f77b4", "star_ss": "#ff7f0e", "star_mmoe": "#d62728"}


def _color(method: str) -> str:
    return COLORS.get(method, "#2ca02c")


def _mean_std(rows: list[list[float]]) -> tuple[list[float], list[float]]:
    """Per-position mean and std (0 for one row) over equally long rows (truncated to min)."""
    n = min(len(r) for r in rows)
    cols = [[r[i] for r in rows] for i in range(n)]
    return [statistics.fmean(c) for c in cols], [
        statistics.stdev(c) if len(c) > 1 else 0.0 for c in cols
    ]


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)


def cca_spectra(res: Results, fig: Figure) -> None:
    ax = fig.subplots()
    drawn = False
    for method in res.params["experiment"]["methods"]:
        runs = [res.get("cca", m.name) for m in res.main_models(method)]
        spectra = [
            r["correlations"] for r in runs if r and r.get("defined") and r.get("correlations")
        ]
        if not spectra:
            continue
        mean, _ = _mean_std(spectra)
        x = range(1, len(mean) + 1)
        ax.plot(x, mean, color=_color(method), label=method)
        if len(spectra) > 1:
            n = len(mean)
            low = [min(s[i] for s in spectra) for i in range(n)]
            high = [max(s[i] for s in spectra) for i in range(n)]
            ax.fill_between(x, low, high, color=_color(method), alpha=0.2, linewidth=0)
        drawn = True
    ax.set(xlabel="canonical component", ylabel="canonical correlation", ylim=(0, 1.02))
    ax.set_title(
        f"CCA spectra, inv. vs eq. embeddings ({res.params['experiment']['analysis_dataset']})"
    )
    if drawn:
        ax.legend()
    else:
        _empty(ax, "no CCA results yet")


def experts_ablation(res: Results, fig: Figure) -> None:
    axes = fig.subplots(1, 2)
    datasets = res.params["experiment"]["linear_datasets"]
    groups = ablation_models(res.params)

    def series(read: Callable[[Any], float | None]) -> tuple[list[int], list[float], list[float]]:
        xs, ms, ss = [], [], []
        for n, models in groups.items():
            vals = [read(m) for m in models]
            if vals and all(v is not None for v in vals):
                xs.append(n)
                ms.append(statistics.fmean(vals))  # type: ignore[arg-type]
                ss.append(statistics.stdev(vals) if len(vals) > 1 else 0.0)  # type: ignore[arg-type]
        return xs, ms, ss

    def linear_mean(m: Any) -> float | None:
        accs = [field(res.get("linear", m.name, d), "test_accuracy") for d in datasets]
        return None if any(a is None for a in accs) else 100 * statistics.fmean(accs)

    reported = paper.experts_rows(paper.paper_setting(res.params))
    panels = (
        (
            axes[0],
            lambda m: field(res.get("cca", m.name), "mean"),
            "mean canonical correlation",
            "mean_canonical_correlation",
        ),
        (axes[1], linear_mean, "mean linear accuracy (%)", "mean_linear_accuracy"),
    )
    for ax, read, label, paper_key in panels:
        xs, ms, ss = series(read)
        if xs:
            ax.errorbar(
                xs, ms, yerr=ss, color=_color("star_mmoe"), marker="o", capsize=3, label="this run"
            )
        else:
            _empty(ax, "no results yet")
        if reported:
            ax.plot(
                [r["num_experts"] for r in reported],
                [r[paper_key] for r in reported],
                linestyle="none",
                marker="o",
                markerfacecolor="none",
                color="black",
                label=f"{paper.PAPER_LABEL}, approx.",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(groups), [str(n) for n in sorted(groups)])
        ax.minorticks_off()
        ax.set(xlabel="number of experts N", ylabel=label)
        if xs or reported:
            ax.legend()
    fig.suptitle("STAR-MMoE: experts ablation")


def routing(res: Results, fig: Figure) -> None:
    routers = ("inv", "eq")
    axes = fig.subplots(1, len(routers), sharey=True)
    runs = [res.get("routing", m.name) for m in res.main_models("star_mmoe")]
    for ax, router in zip(axes, routers, strict=True):
        weights = [field(r, "routers", router, "mean_weight") for r in runs]
        if not weights or any(w is None for w in weights):
            _empty(ax, "no routing results yet")
        else:
            mean, std = _mean_std(weights)  # type: ignore[arg-type]
            x = list(range(1, len(mean) + 1))
            ax.bar(
                x,
                mean,
                yerr=std if len(weights) > 1 else None,
                color=_color("star_mmoe"),
                capsize=2,
            )
            ax.axhline(1 / len(mean), color="black", linewidth=0.8, linestyle="--")
            ax.set_xticks(x)
        ax.set(xlabel="expert", title=f"{router} router")
    axes[0].set_ylabel("mean routing weight (dashed: uniform)")
    fig.suptitle(f"STAR-MMoE routing on {res.params['experiment']['analysis_dataset']}")


def pretraining_curves(res: Results, fig: Figure) -> None:
    axes = fig.subplots(1, 2)
    for ax, key, label in (
        (axes[0], "train_loss", "training loss"),
        (axes[1], "knn_top1", "kNN top-1 accuracy (%)"),
    ):
        drawn = False
        for method in res.params["experiment"]["methods"]:
            histories = [field(res.run(m.name), "history") or [] for m in res.main_models(method)]
            curves = [
                [(h["epoch"], h[key]) for h in hist if h.get(key) is not None] for hist in histories
            ]
            if not curves or not all(curves):
                continue
            scale = 100.0 if key == "knn_top1" else 1.0
            mean, _ = _mean_std([[v * scale for _, v in c] for c in curves])
            ax.plot(
                [e for e, _ in curves[0]][: len(mean)],
                mean,
                color=_color(method),
                label=method,
                marker="." if len(mean) < 30 else None,
            )
            drawn = True
        ax.set(xlabel="epoch", ylabel=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if drawn:
            ax.legend()
        else:
            _empty(ax, "no history yet")
    fig.suptitle("Pretraining (mean over seeds)")


FIGURES: dict[str, tuple[Callable[[Results, Figure], None], tuple[float, float]]] = {
    "cca_spectra": (cca_spectra, (5.5, 3.6)),
    "experts_ablation": (experts_ablation, (8.0, 3.4)),
    "pretraining_curves": (pretraining_curves, (8.0, 3.4)),
    "routing": (routing, (8.0, 3.2)),
}


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    paths = []
    for fmt in FIGURE_FORMATS:
        path = out_dir / f"{name}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata=METADATA[fmt])
        paths.append(path)
    return paths


def write_figures(
    params: dict[str, Any], results: str, out: str | Path, strict: bool = False
) -> list[str]:
    """Render every figure that applies to ``params``; returns the missing result files."""
    res = Results(params, results, strict)
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # ignore the user's matplotlibrc: same bytes everywhere
        matplotlib.rcParams.update(STYLE)
        for name in figure_names(params):
            draw, size = FIGURES[name]
            fig = Figure(figsize=size)
            draw(res, fig)
            # Fixed margins instead of a layout engine: cheaper, and nothing to converge.
            fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.8, wspace=0.28)
            save(fig, Path(out), name)
    return res.missing
