"""Decoded splits as pickle-free safetensors files, written atomically.

File: ``images`` uint8 [N, 3, S, S] RGB, ``labels`` int64 [N], and one metadata entry
``starssl`` holding canonical JSON. A single key keeps the header byte-stable: safetensors
writes several metadata keys in hash-map order, which changes from process to process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from starssl.errors import DataError
from starssl.io import atomic_path

FORMAT = "starssl-images-v1"


def cache_file(cache_dir: Path, name: str, split: str, size: int) -> Path:
    return cache_dir / f"{name}_{split}_{size}px.safetensors"


def save_images(
    path: Path, images: torch.Tensor, labels: torch.Tensor, meta: dict[str, Any]
) -> None:
    """Write atomically: a crash mid-write leaves no file at ``path``."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"images must be uint8 [N, 3, H, W], got {images.dtype} {tuple(images.shape)}"
        )
    if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be int64 [N], got {labels.dtype} {tuple(labels.shape)}")
    header = json.dumps({**meta, "format": FORMAT}, sort_keys=True, separators=(",", ":"))
    tensors = {"images": images.contiguous(), "labels": labels.contiguous()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"starssl": header})


def load_images(path: Path) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Read a cache file (no pickle); DataError if it is not one of ours or is damaged."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("starssl", "{}"))
            if meta.get("format") != FORMAT or set(fh.keys()) != {"images", "labels"}:
                raise DataError(f"cache file {path} has an unknown format; delete it to rebuild")
            images, labels = fh.get_tensor("images"), fh.get_tensor("labels")
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(f"cache file {path} is unreadable ({err}); delete it to rebuild") from None
    return images, labels, meta


def read_header(path: Path) -> tuple[dict[str, Any], list[int]]:
    """Metadata and image shape of a cache file, without loading the tensors."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("starssl", "{}"))
            shape = list(fh.get_slice("images").get_shape())
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(f"cache file {path} is unreadable ({err}); delete it to rebuild") from None
    if meta.get("format") != FORMAT:
        raise DataError(f"cache file {path} has an unknown format; delete it to rebuild")
    return meta, shape
