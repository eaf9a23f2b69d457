"""Public entry points: cached pretraining images, labelled evaluation splits, ``prepare``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from starssl.data.cache import cache_file, load_images, read_header, save_images
from starssl.data.config import DataConfig
from starssl.data.images import Samples, materialize
from starssl.data.locate import open_source
from starssl.data.registry import DatasetInfo, get_info, split_names
from starssl.data.sources import Source
from starssl.data.splitting import Selection, check_split_name, select
from starssl.errors import DataError
from starssl.io import sha256_file

SelectFn = Callable[[], Selection]


@dataclass
class LabeledImages:
    """One evaluation split: uint8 images [N, 3, S, S] and int64 labels [N]."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    class_names: list[str]
    metric: str  # "top1" or "mean_per_class"
    name: str
    split: str

    def __len__(self) -> int:
        return len(self.labels)


class _Parts:
    """Opens the raw source on first need; reads and decodes each raw part at most once."""

    def __init__(self, info: DatasetInfo, cfg: DataConfig) -> None:
        self.info, self.cfg = info, cfg
        self._read: dict[str, Samples] = {}
        self._decoded: dict[tuple[str, int], torch.Tensor] = {}

    @functools.cached_property
    def source(self) -> Source:
        return open_source(self.info, self.cfg)

    def read(self, part: str) -> Samples:
        if part not in self._read:
            self._read[part] = self.source.read(part)
        return self._read[part]

    def decoded(self, part: str, size: int) -> torch.Tensor:
        if (part, size) not in self._decoded:
            self._decoded[part, size] = materialize(self.read(part), size)
        return self._decoded[part, size]

    def build(self, selection: Selection, size: int) -> tuple[torch.Tensor, torch.Tensor, list]:
        """Images, labels and class names of a selection (see ``splitting.select``)."""
        images, labels = [], []
        for part, idx in selection:
            decoded, samples = self.decoded(part, size), self.read(part)
            keep = slice(None) if idx is None else torch.from_numpy(idx)
            images.append(decoded[keep])
            labels.append(torch.from_numpy(samples.labels)[keep])
        names = self.read(selection[0][0]).class_names
        return torch.cat(images), torch.cat(labels), names


def _ensure(
    info: DatasetInfo, cfg: DataConfig, key: str, size: int, selection: SelectFn, parts: _Parts
) -> Path:
    """Path of ``<cache>/<name>_<key>_<size>px.safetensors``, building the file when absent.

    ``selection`` is called only when the file has to be built (it may read the raw data).
    """
    path = cache_file(cfg.cache_dir, info.name, key, size)
    if path.is_file():
        return path
    images, labels, names = parts.build(selection(), size)
    if key != "pretrain" and len(names) != info.num_classes:
        raise DataError(
            f"{info.name}: found {len(names)} classes, expected "
            f"{info.num_classes}; the copy on disk differs from the reference one"
        )
    meta = {
        "dataset": info.name,
        "split": key,
        "image_size": size,
        "count": len(labels),
        "class_names": names,
        "origin": parts.source.origin,
        "preprocess": "PIL bicubic resize (shorter side) + centre crop; greyscale to RGB",
    }
    save_images(path, images, labels, meta)
    return path


def _check_meta(path: Path, meta: dict[str, Any], info: DatasetInfo, key: str, size: int) -> None:
    if (meta.get("dataset"), meta.get("split"), meta.get("image_size")) != (info.name, key, size):
        raise DataError(f"cache file {path} holds other data; delete it to rebuild")


def _load(
    info: DatasetInfo, key: str, size: int, path: Path
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    images, labels, meta = load_images(path)
    _check_meta(path, meta, info, key, size)
    return images, labels, meta


def _split_path(info: DatasetInfo, cfg: DataConfig, split: str, size: int, parts: _Parts) -> Path:
    return _ensure(info, cfg, split, size, lambda: select(info, parts.read, split), parts)


def load_split(name: str, split: str, cfg: DataConfig, image_size: int) -> LabeledImages:
    """A labelled split (train, val, trainval, test, fewshot) at ``image_size`` pixels.

    ``trainval`` is train followed by val (AugSelf refits on that concatenation). The first call
    decodes and caches; later calls only read the cache.
    """
    info = get_info(name)
    check_split_name(info, split)
    parts = _Parts(info, cfg)
    keys = ("train", "val") if split == "trainval" else (split,)
    paths = [_split_path(info, cfg, key, image_size, parts) for key in keys]
    loaded = [_load(info, key, image_size, path) for key, path in zip(keys, paths, strict=True)]
    images = torch.cat([x[0] for x in loaded]) if len(loaded) > 1 else loaded[0][0]
    labels = torch.cat([x[1] for x in loaded]) if len(loaded) > 1 else loaded[0][1]
    class_names = list(loaded[0][2]["class_names"])
    return LabeledImages(images, labels, info.num_classes, class_names, info.metric, name, split)


def _pretrain_path(info: DatasetInfo, cfg: DataConfig, parts: _Parts) -> tuple[Path, int]:
    if not info.pretrain_parts or info.pretrain_size is None:
        raise DataError(
            f"{info.name} is not a pretraining dataset; use cifar10, stl10 or imagenet100"
        )
    selection = lambda: [(p, None) for p in info.pretrain_parts]  # noqa: E731
    size = info.pretrain_size
    return _ensure(info, cfg, "pretrain", size, selection, parts), size


def load_pretrain_images(
    name: str, cfg: DataConfig, subset: int | None = None, seed: int = 0
) -> torch.Tensor:
    """Pretraining images, uint8 [N, 3, H, W] at the stored resolution (native for CIFAR/STL10).

    ``subset`` keeps a seeded random subset of that many images (in dataset order).
    """
    info = get_info(name)
    path, size = _pretrain_path(info, cfg, _Parts(info, cfg))
    images = _load(info, "pretrain", size, path)[0]
    if subset is None:
        return images
    if not 0 < subset <= len(images):
        raise DataError(f"{name}: subset must be in 1..{len(images)}, got {subset}")
    keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:subset]
    return images[keep.sort().values]


def prepare(name: str, cfg: DataConfig, image_size: int, pretrain: bool = False) -> dict[str, Any]:
    """Materialise every split cache of ``name`` (and the pretraining cache if asked).

    Returns counts, image shapes, cache files (relative to the root) and their sha256, for the
    pipeline's prepare stage. Only file headers are read back, never all images at once.
    """
    info = get_info(name)
    parts = _Parts(info, cfg)
    paths = {
        split: (_split_path(info, cfg, split, image_size, parts), image_size)
        for split in split_names(info)
    }
    if pretrain:
        paths["pretrain"] = _pretrain_path(info, cfg, parts)
    summary: dict[str, Any] = {
        "dataset": name,
        "image_size": image_size,
        "num_classes": info.num_classes,
        "metric": info.metric,
        "splits": {},
    }
    for key, (path, size) in paths.items():
        meta, shape = read_header(path)
        _check_meta(path, meta, info, key, size)
        summary["origin"] = meta["origin"]
        summary["splits"][key] = {
            "count": shape[0],
            "shape": shape[1:],
            "file": path.relative_to(cfg.root).as_posix(),
            "sha256": sha256_file(path),
        }
    return summary
