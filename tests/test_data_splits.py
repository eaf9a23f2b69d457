"""§7 split logic: AugSelf's seeded random_split, packaged index files, registry facts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import random_split

from starssl.data.registry import (
    FEWSHOT_SETS,
    REGISTRY,
    TRANSFER_SETS,
    IndexSplit,
    RandomSplit,
    get_info,
)
from starssl.data.splitting import augself_random_split, load_index_file, select
from starssl.errors import DataError


@pytest.mark.parametrize(
    "n,sizes,seed",
    [
        (50000, (45000, 5000), 43),
        (50000, (45000, 5000), 44),
        (75750, (68175, 7575), 42),
        (5360, (4690, 670), 51),
        (3680, (2940, 740), 49),
        (8144, (6494, 1650), 45),
        (5000, (4500, 500), 50),
        (60000, (55000, 5000), 42),
        (10, (7, 3), 0),
    ],
)
def test_random_split_equals_torch_random_split(n, sizes, seed):
    train, val = augself_random_split(n, sizes, seed)
    ref = random_split(range(n), list(sizes), generator=torch.Generator().manual_seed(seed))
    assert train.tolist() == list(ref[0].indices) and val.tolist() == list(ref[1].indices)
    assert len(train) == sizes[0] and len(val) == sizes[1]
    assert len(np.intersect1d(train, val)) == 0 and len(np.union1d(train, val)) == n
    again = augself_random_split(n, sizes, seed)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], val)


def test_random_split_depends_on_seed_and_needs_exact_total():
    assert not np.array_equal(
        augself_random_split(100, (90, 10), 1)[0], augself_random_split(100, (90, 10), 2)[0]
    )
    with pytest.raises(DataError, match="exactly 100"):
        augself_random_split(99, (90, 10), 1)


def test_registry_facts_of_section_7():
    assert len(TRANSFER_SETS) == 11 and set(TRANSFER_SETS) <= set(REGISTRY)
    assert set(FEWSHOT_SETS) <= set(REGISTRY)
    per_class = {n for n, i in REGISTRY.items() if i.metric == "mean_per_class"}
    assert per_class == {"pets", "flowers102", "caltech101", "fgvc_aircraft"}
    expected = {
        "cifar10": ((45000, 5000), 43),
        "cifar100": ((45000, 5000), 44),
        "food101": ((68175, 7575), 42),
        "mit67": ((4690, 670), 51),
        "pets": ((2940, 740), 49),
        "stanford_cars": ((6494, 1650), 45),
        "stl10": ((4500, 500), 50),
        "fashion_mnist": ((55000, 5000), 42),
    }
    for name, (sizes, seed) in expected.items():
        rule = get_info(name).split
        assert isinstance(rule, RandomSplit) and (rule.sizes, rule.seed) == (sizes, seed), name
    manual = {n for n, i in REGISTRY.items() if i.availability == "manual"}
    assert manual == {
        "imagenet100",
        "mit67",
        "sun397",
        "fc100",
        "cub200",
        "plant_disease",
        "stanford_cars",
    }
    with pytest.raises(DataError, match="unknown dataset"):
        get_info("mnist")


@pytest.mark.parametrize("name", ["caltech101", "sun397", "cub200"])
def test_packaged_index_files_load_with_exact_counts(name):
    rule = get_info(name).split
    lists = load_index_file(rule)
    assert {k: len(v) for k, v in lists.items()} == rule.counts
    merged = np.concatenate(list(lists.values()))
    assert len(np.unique(merged)) == len(merged) and merged.max() < rule.part_size


def test_packaged_imagenet100_class_list():
    from starssl.data.sources import package_file

    classes = package_file("imagenet100_classes.txt").read_text().split()
    assert len(classes) == 100 == len(set(classes)) and all(c.startswith("n") for c in classes)


def _rule(tmp_path, lists, counts, part_size=10):
    path = tmp_path / "idx.json"
    path.write_text(json.dumps(lists))
    return IndexSplit(str(path), "all", part_size, counts)


def test_index_file_mismatches_fail_loudly(tmp_path):
    good = {"train": [0, 1, 2], "val": [3], "test": [4, 5]}
    counts = {"train": 3, "val": 1, "test": 2}
    assert load_index_file(_rule(tmp_path, good, counts))["val"].tolist() == [3]
    with pytest.raises(DataError, match="'train' has 3 indices, expected 4"):
        load_index_file(_rule(tmp_path, good, {**counts, "train": 4}))
    with pytest.raises(DataError, match="overlap"):
        load_index_file(_rule(tmp_path, {**good, "val": [2]}, counts))
    with pytest.raises(DataError, match="outside"):
        load_index_file(_rule(tmp_path, {**good, "val": [10]}, counts))
    with pytest.raises(DataError, match="lists"):
        load_index_file(_rule(tmp_path, {"train": [0, 1, 2]}, counts))


class _Part:
    def __init__(self, n: int) -> None:
        self.labels = np.zeros(n)

    def __len__(self) -> int:
        return len(self.labels)


def test_select_checks_part_sizes(tmp_path):
    import dataclasses

    info = dataclasses.replace(
        get_info("caltech101"),
        split=_rule(
            tmp_path,
            {"train": [5, 0], "val": [3], "test": [1]},
            {"train": 2, "val": 1, "test": 1},
            6,
        ),
    )
    assert [(p, i.tolist()) for p, i in select(info, lambda p: _Part(6), "train")] == [
        ("all", [5, 0])
    ]
    with pytest.raises(DataError, match="has 7 images but the protocol expects exactly 6"):
        select(info, lambda p: _Part(7), "test")
    cifar = get_info("cifar10")
    with pytest.raises(DataError, match="expects exactly 50000"):
        select(cifar, lambda p: _Part(49999), "val")
    with pytest.raises(DataError, match="no split 'fewshot'"):
        select(cifar, lambda p: _Part(1), "fewshot")
    assert select(get_info("cub200"), lambda p: _Part(1), "fewshot") == [
        ("train", None),
        ("test", None),
    ]
