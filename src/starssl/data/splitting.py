"""Train/val/test selection of §7: seeded random splits, official parts, packaged index files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from starssl.data.images import Samples
from starssl.data.registry import DatasetInfo, IndexSplit, OfficialSplit, RandomSplit
from starssl.data.sources import package_file
from starssl.errors import DataError

SPLITS = ("train", "val", "trainval", "test", "fewshot")
PartReader = Callable[[str], Samples]


def augself_random_split(
    n: int, sizes: tuple[int, int], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and val indices exactly as AugSelf / the STAR release draw them.

    They call ``torch.utils.data.random_split(trainval, sizes,
    generator=torch.Generator().manual_seed(seed))`` (github hankook/AugSelf, ``datasets.py``,
    ``load_datasets``; same in github YonseiML/star ``datasets.py``). ``random_split`` takes
    ``randperm(sum(sizes), generator)`` and cuts it into consecutive pieces, so the train set is
    the first ``sizes[0]`` entries of that permutation, in permutation order.
    """
    if sum(sizes) != n:
        raise DataError(f"split sizes {sizes} need exactly {sum(sizes)} images, found {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    return perm[: sizes[0]], perm[sizes[0] :]


def load_index_file(rule: IndexSplit) -> dict[str, np.ndarray]:
    """Index lists from ``rule.file`` (packaged, or an absolute path), checked strictly."""
    path = Path(rule.file) if Path(rule.file).is_absolute() else package_file(rule.file)
    lists = json.loads(path.read_text(encoding="utf-8"))
    if set(lists) != set(rule.counts):
        raise DataError(f"split file {path}: lists {sorted(lists)}, expected {sorted(rule.counts)}")
    out = {}
    for key, want in rule.counts.items():
        idx = np.asarray(lists[key], dtype=np.int64)
        if len(idx) != want:
            raise DataError(f"split file {path}: '{key}' has {len(idx)} indices, expected {want}")
        if len(idx) and (idx.min() < 0 or idx.max() >= rule.part_size):
            raise DataError(f"split file {path}: '{key}' indexes outside 0..{rule.part_size - 1}")
        out[key] = idx
    merged = np.concatenate(list(out.values()))
    if len(np.unique(merged)) != len(merged):
        raise DataError(f"split file {path}: its lists overlap or repeat indices")
    return out


# A split as pieces of raw parts: (part name, indices into it or None for the whole part).
Selection = list[tuple[str, np.ndarray | None]]


def _whole(info: DatasetInfo, read: PartReader, part: str, want: int | None) -> Selection:
    """The whole raw ``part``, after checking it has exactly ``want`` images (when known)."""
    n = len(read(part))
    if want is not None and n != want:
        raise DataError(
            f"{info.name}: part {part!r} has {n} images but the protocol expects exactly {want}; "
            "the copy on disk differs from the reference one, so replace it"
        )
    return [(part, None)]


def select(info: DatasetInfo, read: PartReader, split: str) -> Selection:
    """Which raw images form ``split`` (train, val, test or fewshot), in reference order."""
    rule = info.split
    if split == "fewshot" and info.fewshot_parts:
        return [(p, None) for p in info.fewshot_parts]
    if rule is None or split not in ("train", "val", "test"):
        raise DataError(f"{info.name}: no split {split!r}; it has {_available(info)}")
    if isinstance(rule, RandomSplit):
        if split == "test":
            return _whole(info, read, rule.test_part, rule.test_count)
        _whole(info, read, rule.part, sum(rule.sizes))
        train, val = augself_random_split(sum(rule.sizes), rule.sizes, rule.seed)
        return [(rule.part, train if split == "train" else val)]
    if isinstance(rule, OfficialSplit):
        part = {"train": rule.train_part, "val": rule.val_part, "test": rule.test_part}[split]
        return _whole(info, read, part, rule.counts.get(split))
    if split == "test" and rule.test_part is not None:
        return _whole(info, read, rule.test_part, rule.test_count)
    lists = load_index_file(rule)
    _whole(info, read, rule.part, rule.part_size)
    return [(rule.part, lists[split])]


def _available(info: DatasetInfo) -> str:
    names = (["train", "val", "trainval", "test"] if info.split is not None else []) + (
        ["fewshot"] if info.fewshot_parts else []
    )
    return ", ".join(names) or "no splits"


def check_split_name(info: DatasetInfo, split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if (split == "fewshot" and not info.fewshot_parts) or (
        split != "fewshot" and info.split is None
    ):
        raise DataError(f"{info.name}: no split {split!r}; it has {_available(info)}")
