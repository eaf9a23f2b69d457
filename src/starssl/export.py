"""Checkpoint export and loading.

``export_backbone`` keeps what the paper keeps after pretraining — the backbone — as safetensors
plus a JSON card (method, params, seed, parameter statistics, versions, sha256 of the weights).
``load_backbone`` verifies that hash before building the network. ``load_trained_method``
rebuilds the whole method (heads, routers, predictor) from the full checkpoint for the analyses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from starssl.checkpoint import model_state, read_checkpoint
from starssl.errors import CheckpointError
from starssl.io import atomic_path, environment_info, read_json, sha256_file, write_json
from starssl.methods import build_method
from starssl.methods.base import PretrainMethod
from starssl.models.backbone import build_backbone
from starssl.train import CHECKPOINT, RUN_SUMMARY, method_config, normalisation_for

WEIGHTS = "backbone.safetensors"
CARD = "card.json"


def load_trained_method(run_dir: str | Path) -> tuple[PretrainMethod, dict[str, Any]]:
    """The full pretrained method (eval mode) and its run summary; the run must be finished."""
    run = Path(run_dir)
    if not (run / RUN_SUMMARY).is_file():
        raise CheckpointError(
            f"{run}: no {RUN_SUMMARY}; the pretraining run is missing or unfinished"
        )
    summary = read_json(run / RUN_SUMMARY)
    tensors, _ = read_checkpoint(run / CHECKPOINT)
    method = build_method(summary["method"], method_config(summary["params"]))
    method.load_state_dict(model_state(tensors))
    return method.eval(), summary


def export_backbone(run_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write ``backbone.safetensors`` and ``card.json`` into ``out_dir``; returns the card."""
    method, summary = load_trained_method(run_dir)
    out = Path(out_dir)
    weights = {k: v.contiguous() for k, v in method.backbone.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(weights, str(tmp))
    p = summary["params"]["pretrain"]
    mean, std = normalisation_for(p["dataset"])
    card = {
        "model": out.name,
        "method": summary["method"],
        "seed": summary["seed"],
        "num_experts": p["num_experts"] if summary["method"] == "star_mmoe" else None,
        "epochs": summary["epochs"],
        "backbone": {"name": p["backbone"], "stem": p["stem"], "width": p["width"]},
        "image_size": p["image_size"],
        "pretrain_dataset": p["dataset"],
        "normalisation": {"mean": mean.tolist(), "std": std.tolist()},
        "param_stats": summary["param_stats"],
        "params": summary["params"],
        "weights": WEIGHTS,
        "sha256": sha256_file(out / WEIGHTS),
        "environment": environment_info(),
    }
    write_json(out / CARD, card)  # written last: its presence marks a finished export
    return card


def load_backbone(model_dir: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the backbone from an export, after checking the weights' sha256 against the card."""
    model = Path(model_dir)
    if not (model / CARD).is_file():
        raise CheckpointError(f"{model}: no {CARD}; run `starssl export` first")
    card = read_json(model / CARD)
    weights = model / card["weights"]
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing; rerun `starssl export`")
    actual = sha256_file(weights)
    if actual != card["sha256"]:
        raise CheckpointError(
            f"{weights}: sha256 {actual[:12]}… does not match the card's {card['sha256'][:12]}…; "
            "the file is corrupt or was replaced — rerun `starssl export`"
        )
    spec = card["backbone"]
    backbone, _ = build_backbone(spec["name"], spec["stem"], spec["width"])
    backbone.load_state_dict(load_file(str(weights)))
    return backbone.eval(), card
