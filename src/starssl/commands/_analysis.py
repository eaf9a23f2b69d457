"""Shared plumbing of the analyses that need the whole pretrained method (heads and routers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from starssl.data import DataConfig, load_split
from starssl.methods.base import PretrainMethod


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, required=True, help="pretraining run directory")
    parser.add_argument(
        "--dataset", default=None, help="images to analyse (default: experiment.analysis_dataset)"
    )
    parser.add_argument("--out", type=Path, required=True, help="result JSON")


def load(args: argparse.Namespace) -> tuple[PretrainMethod, dict[str, Any]]:
    from starssl.export import load_trained_method

    return load_trained_method(args.run)


def analysis_images(
    params: dict[str, Any], summary: dict[str, Any], dataset: str | None, split: str, samples: int
) -> tuple[str, torch.Tensor]:
    """A fixed, seeded subset of one split as uint8 images at the pretraining size."""
    name = dataset or params["experiment"]["analysis_dataset"]
    size = summary["params"]["pretrain"]["image_size"]
    images = load_split(name, split, DataConfig.from_params(params), size).images
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:samples]
    return name, images[pick.sort().values]


@torch.no_grad()
def embed(
    method: PretrainMethod, images: torch.Tensor, summary: dict[str, Any], batch_size: int
) -> dict[str, torch.Tensor]:
    """Backbone features, embeddings and routing weights of un-augmented images (float64, CPU)."""
    from starssl.train import normalisation_for

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    method.to(device).eval()
    mean, std = (
        t.view(1, 3, 1, 1).to(device)
        for t in normalisation_for(summary["params"]["pretrain"]["dataset"])
    )
    parts: dict[str, list[torch.Tensor]] = {}
    for lo in range(0, len(images), batch_size):
        x = (images[lo : lo + batch_size].to(device).float() / 255 - mean) / std
        h = method.features(x)
        emb = method.embed(h)
        out = {"h": h, "inv": emb.inv, "eq": emb.eq}
        out.update({f"routing_{k}": v for k, v in (emb.routing or {}).items()})
        for key, value in out.items():
            if value is not None:
                parts.setdefault(key, []).append(value.double().cpu())
    return {k: torch.cat(v) for k, v in parts.items()}


def identity(summary: dict[str, Any], run: Path) -> dict[str, Any]:
    from starssl.commands._evaluate import identity as evaluation_identity

    return evaluation_identity(summary, run.name)
