"""Shared plumbing of the evaluation stages: arguments, frozen features, result identity."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import torch

from starssl.data import DataConfig, LabeledImages, load_split
from starssl.io import environment_info, write_json

# The data registry says "mean_per_class"; the linear probe calls it AugSelf's "class_avg".
LINEAR_METRIC = {"top1": "top1", "mean_per_class": "class_avg"}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="export directory (card.json)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", type=Path, required=True, help="result JSON")


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def identity(card_or_summary: dict[str, Any], model: str) -> dict[str, Any]:
    """The fields every result repeats so tables can group rows without parsing paths."""
    params = card_or_summary["params"]["pretrain"]
    method = card_or_summary["method"]
    return {
        "model": model,
        "method": method,
        "seed": card_or_summary["seed"],
        "num_experts": params["num_experts"] if method == "star_mmoe" else None,
        "pretrain_dataset": params["dataset"],
    }


def cap_images(split: LabeledImages, limit: int | None) -> LabeledImages:
    """At most ``limit`` images of a split: a seeded subset in the split's order (demo profile)."""
    if limit is None or len(split.labels) <= limit:
        return split
    keep = torch.randperm(len(split.labels), generator=torch.Generator().manual_seed(0))[:limit]
    keep = keep.sort().values
    return dataclasses.replace(split, images=split.images[keep], labels=split.labels[keep])


def frozen_features(
    model_dir: Path, dataset: str, splits: tuple[str, ...], params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[torch.Tensor, torch.Tensor]], LabeledImages]:
    """Backbone features of each split, computed once (§7: no augmentation, not normalised)."""
    from starssl.eval.features import extract_features
    from starssl.export import load_backbone

    backbone, card = load_backbone(model_dir)
    mean = torch.tensor(card["normalisation"]["mean"])
    std = torch.tensor(card["normalisation"]["std"])
    cfg = DataConfig.from_params(params)
    feats, last = {}, None
    for split in splits:
        last = cap_images(
            load_split(dataset, split, cfg, card["image_size"]), params["eval"]["max_images"]
        )
        x = extract_features(
            backbone,
            last.images,
            mean,
            std,
            batch_size=params["eval"]["batch_size"],
            device=device(),
        )
        feats[split] = (x.cpu(), last.labels)
    return card, feats, last


def write_result(out: Path, record: dict[str, Any]) -> None:
    write_json(out, {**record, "environment": environment_info()})
    print(f"{record.get('dataset', '')} -> {out}")
