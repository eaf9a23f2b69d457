"""The paper's reported numbers (``paper_results.yaml``) and when they may be shown.

They appear beside the project's rows, labelled "paper (reported)", only when the run follows
the paper's recipe: the matching profile *and* its dataset, backbone, image size and epochs
(a shortened ``--set pretrain.epochs=10`` run of the stl10 profile gets no paper row). Never in
the demo profile.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from starssl.io import parse_yaml
from starssl.pipeline.paramdeps import lookup

PAPER_LABEL = "paper (reported)"
# profile -> (key in paper_results.yaml, the settings the paper used)
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "stl10": (
        "stl10_resnet18",
        {
            "pretrain.dataset": "stl10",
            "pretrain.backbone": "resnet18",
            "pretrain.image_size": 96,
            "pretrain.epochs": 200,
        },
    ),
    "imagenet100": (
        "imagenet100_resnet50",
        {
            "pretrain.dataset": "imagenet100",
            "pretrain.backbone": "resnet50",
            "pretrain.image_size": 224,
            "pretrain.epochs": 500,
        },
    ),
}


@cache
def paper_results() -> dict[str, Any]:
    text = resources.files("starssl.pipeline").joinpath("paper_results.yaml").read_text("utf-8")
    return parse_yaml(text)


def paper_setting(params: dict[str, Any]) -> str | None:
    """``stl10_resnet18`` / ``imagenet100_resnet50`` when the run follows that recipe, else None."""
    entry = SETTINGS.get(params.get("profile", ""))
    if entry is None:
        return None
    setting, wanted = entry
    if all(lookup(params, key, None) == value for key, value in wanted.items()):
        return setting
    return None


def linear_rows(setting: str | None) -> dict[str, dict[str, float | None]]:
    """method -> {dataset|mean|avg_rank: value (percent) or None} for Table 1."""
    if setting is None:
        return {}
    block = (paper_results().get("linear_transfer") or {}).get(setting) or {}
    return dict(block.get("rows") or {})


def experts_rows(setting: str | None) -> list[dict[str, Any]]:
    """[{num_experts, mean_canonical_correlation, mean_linear_accuracy}] (approximate)."""
    if setting != "stl10_resnet18":
        return []
    block = paper_results().get("experts_ablation_stl10") or {}
    return list(block.get("rows") or [])
