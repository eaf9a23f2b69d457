"""The result tables (Markdown + LaTeX + CSV): Table 1 (linear transfer), Table 4 (few-shot),
canonical correlation, equivariance, experts ablation, kNN.

Rows are methods (mean ± std over seeds); accuracies are shown in percent. A "paper
(reported)" row copies paper_results.yaml only when the run follows the paper's recipe
(:func:`starssl.pipeline.paper.paper_setting`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starssl.io import write_text_atomic
from starssl.pipeline import paper
from starssl.pipeline.experiment import TABLE_FORMATS, ablation_models, table_names
from starssl.pipeline.render import RENDERERS, Cell, Column, Table, to_markdown
from starssl.pipeline.results import Results, average_ranks, field, per_seed, seed_cell

PCT = 100.0


def _paper_cell(value: float | None) -> Cell:
    return Cell(status="not_reported") if value is None else Cell(float(value))


def _mean_over(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else statistics.fmean(values)  # type: ignore[arg-type]


def linear_table(res: Results) -> Table:
    exp = res.params["experiment"]
    datasets, methods = exp["linear_datasets"], exp["methods"]
    cols = [Column(d) for d in datasets] + [Column("mean"), Column("avg. rank", 2, "")]
    table = Table(
        "table1_linear",
        "Table 1: linear transfer",
        f"Top-1 accuracy (%) of a linear probe on frozen features (pretrained on "
        f"{res.params['pretrain']['dataset']}); mean over datasets; average rank among the "
        "methods of this table (1 = best, ties averaged).",
        "method",
        cols,
    )
    acc: dict[str, dict[str, list[float | None]]] = {}
    for method in methods:
        acc[method] = {
            d: per_seed(
                res, method, lambda m, d=d: field(res.get("linear", m.name, d), "test_accuracy")
            )
            for d in datasets
        }
    seed_means = {m: {d: seed_cell(acc[m][d], PCT).value for d in datasets} for m in methods}
    ranks = average_ranks({m: [seed_means[m][d] for d in datasets] for m in methods})
    for method in methods:
        cells = [seed_cell(acc[method][d], PCT) for d in datasets]
        per_seed_mean = [
            _mean_over([acc[method][d][i] for d in datasets]) for i in range(len(exp["seeds"]))
        ]
        rank = ranks[method]
        cells += [
            seed_cell(per_seed_mean, PCT),
            Cell(status="missing") if rank is None else Cell(rank),
        ]
        table.rows.append((method, cells))
    reported = paper.linear_rows(paper.paper_setting(res.params))
    for method in methods:
        if method in reported:
            row = reported[method]
            cells = [_paper_cell(row.get(d)) for d in datasets]
            cells += [_paper_cell(row.get("mean")), _paper_cell(row.get("avg_rank"))]
            table.paper_rows.append((f"{paper.PAPER_LABEL}: {method}", cells))
    if reported:
        table.notes.append(
            "paper rows: as reported (its average rank is among all the paper's methods)."
        )
    table.notes += res.missing_note(
        [
            res.path("linear", m.name, d)
            for meth in methods
            for m in res.main_models(meth)
            for d in datasets
        ]
    )
    return table


def fewshot_table(res: Results) -> Table:
    exp, fs = res.params["experiment"], res.params["eval"]["fewshot"]
    keys = [(d, k) for d in exp["fewshot_datasets"] for k in fs["shots"]]
    table = Table(
        "table4_fewshot",
        "Table 4: few-shot classification",
        f"{fs['ways']}-way accuracy (%) with k labelled images per class, ± the 95% interval "
        f"over {fs['episodes']} episodes (averaged over seeds when there are several).",
        "method",
        [Column(f"{d} {k}-shot", 2, "ci95") for d, k in keys],
    )
    for method in exp["methods"]:
        cells = []
        for d, k in keys:
            runs = [res.get("fewshot", m.name, d) for m in res.main_models(method)]
            means = seed_cell([field(r, "shots", str(k), "mean") for r in runs], PCT)
            ci = seed_cell([field(r, "shots", str(k), "ci95") for r in runs], PCT)
            cells.append(
                means if means.status != "ok" or ci.status != "ok" else Cell(means.value, ci.value)
            )
        table.rows.append((method, cells))
    table.notes += res.missing_note(
        [
            res.path("fewshot", m.name, d)
            for m in res.models
            if not m.ablation
            for d in exp["fewshot_datasets"]
        ]
    )
    return table


def _defined_cell(runs: list[Any], read: Callable[[Any], float | None], scale: float = 1.0) -> Cell:
    if any(r is not None and r.get("defined") is False for r in runs):
        return Cell(status="undefined")
    return seed_cell([read(r) for r in runs], scale)


def cca_table(res: Results) -> Table:
    table = Table(
        "cca",
        "Canonical correlation between invariant and equivariant embeddings",
        f"On {res.params['experiment']['analysis_dataset']}; mean of all canonical "
        "correlations and the largest (ρ1). Lower: less redundancy between the two tasks.",
        "method",
        [Column("mean CCA", 3), Column("ρ1", 3)],
    )
    for method in res.params["experiment"]["methods"]:
        runs = [res.get("cca", m.name) for m in res.main_models(method)]
        table.rows.append(
            (
                method,
                [
                    _defined_cell(runs, lambda r: field(r, "mean")),
                    _defined_cell(runs, lambda r: field(r, "correlations", 0)),
                ],
            )
        )
    table.notes.append("n/d: not defined (the method has no equivariant embedding).")
    table.notes += res.missing_note([res.path("cca", m.name) for m in res.models if not m.ablation])
    return table


def equivariance_table(res: Results) -> Table:
    cols = [
        ("own", "r_equiv", "own R-equiv ↑"),
        ("own", "p_equiv", "own P-equiv ↓"),
        ("posthoc", "r_equiv", "post-hoc R-equiv ↑"),
        ("posthoc", "p_equiv", "post-hoc P-equiv ↓"),
    ]
    table = Table(
        "equivariance",
        "Equivariance of the representations",
        "R-equiv: mean reciprocal rank of the true transformed image (↑); P-equiv (↓). "
        "own: the method's predictor on its equivariant embedding; post-hoc: a predictor "
        f"fitted on frozen backbone features. On {res.params['experiment']['analysis_dataset']}.",
        "method",
        [Column(label, 3) for _, _, label in cols],
    )
    for method in res.params["experiment"]["methods"]:
        runs = [res.get("equivariance", m.name) for m in res.main_models(method)]
        cells = []
        for part, metric, _ in cols:
            if runs and all(r is not None and r.get(part) is None for r in runs):
                cells.append(Cell(status="undefined"))
            else:
                cells.append(seed_cell([field(r, part, metric) for r in runs]))
        table.rows.append((method, cells))
    table.notes.append("n/d: the method has no predictor of its own.")
    table.notes += res.missing_note(
        [res.path("equivariance", m.name) for m in res.models if not m.ablation]
    )
    return table


def experts_table(res: Results) -> Table:
    datasets = res.params["experiment"]["linear_datasets"]
    table = Table(
        "experts_ablation",
        "Experts ablation (STAR-MMoE)",
        "Number of experts N against the mean canonical correlation and the mean linear "
        f"transfer accuracy (%) over {', '.join(datasets)}.",
        "experts",
        [Column("mean CCA", 3), Column("mean linear acc.", 2)],
    )
    paths = []
    for n, group in ablation_models(res.params).items():
        ccas = [field(res.get("cca", m.name), "mean") for m in group]
        linear = [
            _mean_over([field(res.get("linear", m.name, d), "test_accuracy") for d in datasets])
            for m in group
        ]
        table.rows.append((f"N = {n}", [seed_cell(ccas), seed_cell(linear, PCT)]))
        paths += [res.path("cca", m.name) for m in group]
        paths += [res.path("linear", m.name, d) for m in group for d in datasets]
    for row in paper.experts_rows(paper.paper_setting(res.params)):
        cells = [
            _paper_cell(row.get("mean_canonical_correlation")),
            _paper_cell(row.get("mean_linear_accuracy")),
        ]
        table.paper_rows.append(
            (f"{paper.PAPER_LABEL}, ≈ from a figure: N = {row['num_experts']}", cells)
        )
    table.notes += res.missing_note(paths)
    return table


def knn_table(res: Results) -> Table:
    exp, knn = res.params["experiment"], res.params["eval"]["knn"]
    table = Table(
        "knn",
        "kNN classification",
        f"Top-1 accuracy (%) of a weighted kNN classifier (k = {knn['k']}) on frozen features.",
        "method",
        [Column(d) for d in exp["knn_datasets"]],
    )
    for method in exp["methods"]:
        cells = [
            seed_cell(
                per_seed(res, method, lambda m, d=d: field(res.get("knn", m.name, d), "accuracy")),
                PCT,
            )
            for d in exp["knn_datasets"]
        ]
        table.rows.append((method, cells))
    table.notes += res.missing_note(
        [
            res.path("knn", m.name, d)
            for m in res.models
            if not m.ablation
            for d in exp["knn_datasets"]
        ]
    )
    return table


BUILDERS: dict[str, Callable[[Results], Table]] = {
    "table1_linear": linear_table,
    "table4_fewshot": fewshot_table,
    "cca": cca_table,
    "equivariance": equivariance_table,
    "experts_ablation": experts_table,
    "knn": knn_table,
}


def build_tables(
    params: dict[str, Any], results: str = "results", strict: bool = False
) -> tuple[list[Table], list[str]]:
    """The tables that apply to ``params``, and the result files that were missing."""
    res = Results(params, results, strict)
    return [BUILDERS[name](res) for name in table_names(params)], res.missing


def write_tables(
    params: dict[str, Any], results: str, out: str | Path, strict: bool = False
) -> list[str]:
    """Write every table in every format, plus ``README.md`` with all of them; returns the
    missing result files (empty when the tables are complete)."""
    tables, missing = build_tables(params, results, strict)
    out = Path(out)
    for table in tables:
        for fmt in TABLE_FORMATS:
            write_text_atomic(out / f"{table.name}.{fmt}", RENDERERS[fmt](table))
    index = [
        "# Result tables",
        "",
        f"Generated by `starssl tables` (profile `{params['profile']}`, seeds "
        f"{', '.join(map(str, params['experiment']['seeds']))}); each table is also in LaTeX "
        "and CSV beside this file. Accuracies in %, mean ± std over seeds.",
        "",
    ]
    index += [to_markdown(t, level=2) for t in tables]
    write_text_atomic(out / "README.md", "\n".join(index))
    return missing
