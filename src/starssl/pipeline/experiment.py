"""What an experiment contains, from the resolved params: models, datasets, tables, figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TABLE_FORMATS = ("md", "tex", "csv")
FIGURE_FORMATS = ("png", "pdf")


@dataclass(frozen=True)
class Model:
    """A pretrained model: ``<method>_s<seed>`` or ``star_mmoe-e<N>_s<seed>`` (ablation)."""

    name: str
    method: str
    seed: int
    num_experts: int | None  # star_mmoe only
    ablation: bool = False


def model_name(method: str, seed: int, ablation_experts: int | None = None) -> str:
    tag = f"-e{ablation_experts}" if ablation_experts is not None else ""
    return f"{method}{tag}_s{seed}"


def models(params: dict[str, Any]) -> list[Model]:
    """Main models (method × seed) then experts-ablation variants (N × seed).

    The ablation reuses the main star_mmoe run where N equals ``pretrain.num_experts`` and is
    skipped when star_mmoe is not among ``experiment.methods``.
    """
    exp, main_n = params["experiment"], params["pretrain"]["num_experts"]
    out = [
        Model(model_name(m, s), m, s, main_n if m == "star_mmoe" else None)
        for m in exp["methods"]
        for s in exp["seeds"]
    ]
    if "star_mmoe" in exp["methods"]:
        out += [
            Model(model_name("star_mmoe", s, n), "star_mmoe", s, n, ablation=True)
            for n in exp["experts_ablation"]
            if n != main_n
            for s in exp["seeds"]
        ]
    return out


def ablation_models(params: dict[str, Any]) -> dict[int, list[Model]]:
    """N → the star_mmoe models (one per seed) of the experts ablation, main run included."""
    exp, main_n = params["experiment"], params["pretrain"]["num_experts"]
    if "star_mmoe" not in exp["methods"]:
        return {}
    by_name = {m.name: m for m in models(params)}
    return {
        n: [by_name[model_name("star_mmoe", s, None if n == main_n else n)] for s in exp["seeds"]]
        for n in sorted(exp["experts_ablation"])
    }


def datasets_to_prepare(params: dict[str, Any]) -> list[str]:
    exp = params["experiment"]
    ordered = [
        params["pretrain"]["dataset"],
        *exp["knn_datasets"],
        *exp["linear_datasets"],
        *exp["fewshot_datasets"],
        exp["analysis_dataset"],
    ]
    return list(dict.fromkeys(ordered))


def table_names(params: dict[str, Any]) -> list[str]:
    """The tables that apply to this experiment (fixed by params, not by what exists)."""
    exp = params["experiment"]
    names = []
    if exp["linear_datasets"]:
        names.append("table1_linear")
    if exp["fewshot_datasets"]:
        names.append("table4_fewshot")
    names += ["cca", "equivariance"]
    if ablation_models(params) and exp["linear_datasets"]:
        names.append("experts_ablation")
    if exp["knn_datasets"]:
        names.append("knn")
    return names


def figure_names(params: dict[str, Any]) -> list[str]:
    names = ["cca_spectra", "pretraining_curves"]
    if ablation_models(params) and params["experiment"]["linear_datasets"]:
        names.append("experts_ablation")
    if "star_mmoe" in params["experiment"]["methods"]:
        names.append("routing")
    return sorted(names)
