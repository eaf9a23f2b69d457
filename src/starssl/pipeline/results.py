"""Reading the evaluation JSONs the registry expects, and summarising them over seeds.

Which files exist is decided by the registry (not by globbing), so a missing result is named
exactly. By default a missing file becomes an ``n/a`` cell plus a note naming it; with
``strict`` the first missing file is a one-line :class:`~starssl.errors.StarsslError`.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starssl.errors import StarsslError
from starssl.pipeline.experiment import Model, models
from starssl.pipeline.render import Cell
from starssl.pipeline.stages import Stage, build_stages, stage_index


class Results:
    """The experiment's result files, read on demand, with a record of what was missing."""

    def __init__(self, params: dict[str, Any], results: str = "results", strict: bool = False):
        self.params = params
        self.strict = strict
        self.stages: list[Stage] = build_stages(params, results.rstrip("/"), ".")
        self._index = stage_index(self.stages)
        self.models: list[Model] = models(params)
        self.missing: list[str] = []
        self._cache: dict[str, Any] = {}

    def path(self, kind: str, model: str, dataset: str | None = None, index: int = 0) -> str:
        wildcards = {"model": model} if dataset is None else {"model": model, "dataset": dataset}
        key = (kind, tuple(sorted(wildcards.items())))
        if key not in self._index:
            raise KeyError(f"the experiment has no {kind} result for {wildcards}")
        return self._index[key].outs[index].path

    def read(self, path: str) -> Any | None:
        if path in self._cache:
            return self._cache[path]
        file = Path(path)
        if not file.is_file():
            if self.strict:
                raise StarsslError(f"{path}: result file missing; run the stage that writes it")
            if path not in self.missing:
                self.missing.append(path)
            return None
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StarsslError(f"{path}: not valid JSON ({exc}); rerun its stage") from None
        self._cache[path] = data
        return data

    def get(self, kind: str, model: str, dataset: str | None = None) -> Any | None:
        return self.read(self.path(kind, model, dataset))

    def run(self, model: str) -> Any | None:
        """A pretraining run's ``run.json``."""
        return self.read(self.path("pretrain", model, index=1))

    def main_models(self, method: str) -> list[Model]:
        """The main models of ``method``, one per seed (seed order)."""
        return [m for m in self.models if m.method == method and not m.ablation]

    def missing_note(self, paths: Sequence[str]) -> list[str]:
        """One note naming the missing files among ``paths`` (at most five named)."""
        gone = [p for p in paths if p in self.missing]
        if not gone:
            return []
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        return [f"n/a: result file missing: {shown}"]


def field(data: Any, *keys: str | int) -> Any:
    """``data[k1][k2]...`` or None when anything on the way is absent or null."""
    for key in keys:
        if data is None:
            return None
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def seed_cell(values: Sequence[float | None], scale: float = 1.0) -> Cell:
    """Mean ± sample std (ddof 1) over seeds; no std for one seed; n/a if any is missing."""
    if not values or any(v is None for v in values):
        return Cell(status="missing")
    xs = [float(v) * scale for v in values]  # type: ignore[arg-type]
    if not all(math.isfinite(x) for x in xs):
        return Cell(status="missing")
    err = statistics.stdev(xs) if len(xs) > 1 else None
    return Cell(statistics.fmean(xs), err)


def per_seed(
    res: Results, method: str, read: Callable[[Model], float | None]
) -> list[float | None]:
    return [read(m) for m in res.main_models(method)]


def average_ranks(scores: dict[str, list[float | None]]) -> dict[str, float | None]:
    """Mean over columns of each row's rank (1 = highest; ties share the average rank).

    ``scores`` maps a row to one value per column; a row missing any value gets None, and
    the other rows are ranked among those present in that column.
    """
    rows = list(scores)
    ncols = len(next(iter(scores.values()), []))
    ranks: dict[str, list[float]] = {r: [] for r in rows}
    for j in range(ncols):
        present = {r: scores[r][j] for r in rows if scores[r][j] is not None}
        for r, v in present.items():
            higher = sum(1 for w in present.values() if w > v)  # type: ignore[operator]
            ties = sum(1 for w in present.values() if w == v)
            ranks[r].append(higher + (ties + 1) / 2)
    return {
        r: statistics.fmean(ranks[r]) if ncols and len(ranks[r]) == ncols else None for r in rows
    }
