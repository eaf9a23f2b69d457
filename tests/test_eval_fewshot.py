"""Few-shot episodes (starssl.eval.fewshot): sampler properties, interval formula, accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from starssl.errors import DataError
from starssl.eval.fewshot import class_pool, fewshot_eval, sample_episode, summarise


def blobs(classes: int, per_class: int, d: int, sep: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    means = torch.randn(classes, d, generator=g) * sep
    return means[labels] + torch.randn(len(labels), d, generator=g), labels


def test_sampler_counts_disjoint_distinct_classes():
    labels = np.repeat(np.arange(12), 25)
    by_class, used, dropped = class_pool(labels, 5 + 16)
    assert used == list(range(12)) and dropped == []
    rng = np.random.default_rng(0)
    for _ in range(50):
        sup, sup_y, qry, qry_y = sample_episode(rng, by_class, ways=5, shots=5, queries=16)
        assert len(sup) == 25 and len(qry) == 80
        assert not set(sup) & set(qry) and len(set(sup)) == 25 and len(set(qry)) == 80
        np.testing.assert_array_equal(np.bincount(sup_y), [5] * 5)
        np.testing.assert_array_equal(np.bincount(qry_y), [16] * 5)
        # Each episode label is one original class, and the 5 classes are distinct.
        orig = [set(labels[np.concatenate([sup[sup_y == c], qry[qry_y == c]])]) for c in range(5)]
        assert all(len(s) == 1 for s in orig) and len(set.union(*orig)) == 5


def test_sampler_is_deterministic_per_seed():
    by_class, _, _ = class_pool(np.repeat(np.arange(8), 30), 21)
    a, b, c = (sample_episode(np.random.default_rng(s), by_class, 5, 1, 16) for s in (3, 3, 4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])


def test_class_pool_drops_small_classes():
    labels = np.array([0] * 30 + [1] * 20 + [2] * 21 + [3] * 5)
    _, used, dropped = class_pool(labels, 21)
    assert used == [0, 2] and dropped == [1, 3]


def test_interval_formula():
    acc = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
    s = summarise(acc)
    assert s["mean"] == pytest.approx(0.6)
    assert s["std"] == pytest.approx(np.sqrt(np.mean((acc - 0.6) ** 2)))
    assert s["ci95"] == pytest.approx(1.96 * s["std"] / math.sqrt(5))


def test_separated_classes_are_solved_and_result_is_deterministic():
    x, y = blobs(classes=8, per_class=24, d=16, sep=10.0)
    res = fewshot_eval(x, y, shots=(1, 5), episodes=12, seed=1)
    assert res["shots"]["1"]["mean"] > 0.97 and res["shots"]["5"]["mean"] > 0.99
    assert res["classes_used"] == 8 and res["classes_dropped"] == []
    assert res == fewshot_eval(x, y, shots=(1, 5), episodes=12, seed=1)
    assert res["shots"]["5"] == fewshot_eval(x, y, shots=(5,), episodes=12, seed=1)["shots"]["5"]


def test_random_labels_are_at_chance():
    x, _ = blobs(classes=10, per_class=30, d=16, sep=0.0)
    y = torch.from_numpy(np.random.default_rng(0).permutation(np.repeat(np.arange(10), 30)))
    res = fewshot_eval(x, y, shots=(5,), episodes=100, seed=0)
    s = res["shots"]["5"]
    assert abs(s["mean"] - 0.2) < 3 * s["ci95"] + 0.01


def test_too_few_classes_is_a_data_error():
    x, y = blobs(classes=6, per_class=20, d=4, sep=1.0)  # 20 < 5 shots + 16 queries
    with pytest.raises(DataError, match="5 classes"):
        fewshot_eval(x, y, episodes=2)
