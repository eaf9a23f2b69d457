"""A tiny, fast pretraining set-up on synthetic images (no dataset needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from starssl import train
from starssl.config import load_params

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "pretrain.backbone=resnet18_narrow",
    "pretrain.width=4",
    "pretrain.image_size=16",
    "pretrain.batch_size=16",
    "pretrain.epochs=2",
    "pretrain.subset=null",
    "pretrain.num_experts=3",
    "pretrain.proj_dim=8",
    "pretrain.predictor_hidden=16",
    "pretrain.threads=1",
    "augment.stats_samples=200",
    "pretrain.knn_monitor.bank_size=48",
    "pretrain.knn_monitor.query_size=16",
    "pretrain.knn_monitor.k=5",
]


def tiny_params(*extra: str) -> dict[str, Any]:
    return load_params(ROOT / "params.yaml", [*TINY, *extra])


def use_synthetic_data(monkeypatch: Any = None, n: int = 64) -> None:
    """Replace the dataset loaders the trainer uses by seeded random images (64 by default)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 4

    def pretrain_images(name, cfg, subset=None, seed=0):
        return images

    def split(name, split, cfg, image_size):
        return SimpleNamespace(images=images, labels=labels, num_classes=4)

    for attr, fn in (("load_pretrain_images", pretrain_images), ("load_split", split)):
        if monkeypatch is None:
            setattr(train, attr, fn)
        else:
            monkeypatch.setattr(train, attr, fn)
