"""Few-shot accuracy of frozen features: N-way K-shot episodes with logistic regression (§7).

Protocol choices (the paper and the release leave these open):

- Class pool: an episode needs K support and ``queries`` query images per class, so only
  classes with at least ``max(shots) + queries`` images are sampled from (this implies the
  §7 rule "drop classes with ≤ K images"). One pool serves every K, so 1-shot and 5-shot
  see the same classes; the dropped classes are reported.
- Sampling: ``ways`` distinct classes without replacement, then ``K + queries`` distinct
  images per class without replacement; the first K are the support, the rest the queries,
  so support and queries never overlap. Episode labels are 0..ways-1 in sampled order.
- Seeding: shot K uses ``numpy.random.default_rng([seed, K])``, so the K-shot episodes do not
  depend on which other shots are evaluated and the result is deterministic.
- Classifier: scikit-learn ``LogisticRegression(solver="liblinear", C=1.0)`` refitted per
  episode on raw (not normalised) float64 features, as in the release. scikit-learn ≥ 1.8
  refuses liblinear with > 2 classes, so it is wrapped in ``OneVsRestClassifier``, which is
  what older versions did internally (one binary problem per class, argmax of the decision
  values). liblinear penalises its intercept like a weight (``intercept_scaling=1``).
- Summary: mean episode accuracy, population std over episodes, and the 95% interval half
  width ``1.96 · std / sqrt(episodes)``; accuracies are fractions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from starssl.errors import DataError

Episode = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def class_pool(labels: np.ndarray, min_count: int) -> tuple[list[np.ndarray], list[int], list[int]]:
    """Indices of each class with at least ``min_count`` images; the kept and dropped labels."""
    by_class, used, dropped = [], [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) >= min_count:
            by_class.append(idx)
            used.append(int(c))
        else:
            dropped.append(int(c))
    return by_class, used, dropped


def sample_episode(
    rng: np.random.Generator, by_class: list[np.ndarray], ways: int, shots: int, queries: int
) -> Episode:
    """One episode: (support indices, support labels, query indices, query labels)."""
    chosen = rng.choice(len(by_class), size=ways, replace=False)
    sup, qry = [], []
    for idx in (by_class[c] for c in chosen):
        pick = rng.choice(idx, size=shots + queries, replace=False)
        sup.append(pick[:shots])
        qry.append(pick[shots:])
    episode_labels = np.arange(ways)
    return (
        np.concatenate(sup),
        np.repeat(episode_labels, shots),
        np.concatenate(qry),
        np.repeat(episode_labels, queries),
    )


def episode_accuracy(features: np.ndarray, episode: Episode) -> float:
    """Fraction of queries that a liblinear logistic regression fitted on the support gets right."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    sup, sup_y, qry, qry_y = episode
    clf = OneVsRestClassifier(LogisticRegression(solver="liblinear", C=1.0))
    clf.fit(features[sup], sup_y)
    return float((clf.predict(features[qry]) == qry_y).mean())


def summarise(accuracies: np.ndarray) -> dict[str, float]:
    """Mean, population std and the 95% interval half-width 1.96 · std / sqrt(episodes)."""
    std = float(accuracies.std())
    return {
        "mean": float(accuracies.mean()),
        "ci95": 1.96 * std / math.sqrt(len(accuracies)),
        "std": std,
    }


def fewshot_eval(
    features: torch.Tensor,
    labels: torch.Tensor,
    ways: int = 5,
    shots: tuple[int, ...] = (1, 5),
    queries: int = 16,
    episodes: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Seeded ``ways``-way K-shot accuracy for every K in ``shots`` (JSON-ready, fractions)."""
    x = features.detach().cpu().double().numpy()
    y = labels.detach().cpu().numpy()
    need = max(shots) + queries
    by_class, used, dropped = class_pool(y, need)
    if len(by_class) < ways:
        raise DataError(
            f"few-shot needs {ways} classes with >= {need} images each "
            f"({max(shots)} shots + {queries} queries), found {len(by_class)}"
        )
    result: dict[str, Any] = {"ways": ways, "queries": queries, "episodes": episodes, "shots": {}}
    for k in shots:
        rng = np.random.default_rng([seed, k])
        acc = np.array(
            [
                episode_accuracy(x, sample_episode(rng, by_class, ways, k, queries))
                for _ in range(episodes)
            ]
        )
        result["shots"][str(k)] = summarise(acc)
    result.update(classes_used=len(used), classes_dropped=dropped)
    return result
