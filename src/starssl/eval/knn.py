"""k-nearest-neighbour accuracy of frozen features.

Protocol choices: cosine similarity (features L2-normalised), the k most similar training
samples vote with weight exp(similarity / temperature) (Wu et al. 2018, the convention of
solo-learn and InstDisc); ``weighting="majority"`` gives every neighbour one vote. Ties
between equal similarities go to the lower training index (``torch.topk`` on CPU is stable
enough for that only up to float ties, which are measure-zero on real features).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def knn_predict(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    weighting: str = "similarity",
    chunk: int = 1024,
) -> torch.Tensor:
    """Predicted class of every test row; queries are processed ``chunk`` at a time."""
    if weighting not in ("similarity", "majority"):
        raise ValueError(f"weighting must be 'similarity' or 'majority', got {weighting!r}")
    classes = num_classes or int(train_labels.max()) + 1
    k = min(k, len(train_feats))
    bank = F.normalize(train_feats.float(), dim=1)
    preds = []
    for lo in range(0, len(test_feats), chunk):
        sim = F.normalize(test_feats[lo : lo + chunk].float(), dim=1) @ bank.T
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = (top_sim / temperature).exp() if weighting == "similarity" else torch.ones_like(top_sim)
        scores = torch.zeros(len(sim), classes).scatter_add_(1, train_labels[top_idx], votes)
        preds.append(scores.argmax(1))
    return torch.cat(preds)


def knn_accuracy(
    train_feats: torch.Tensor,
    train_labels: torch.Tensor,
    test_feats: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    weighting: str = "similarity",
) -> float:
    """Top-1 accuracy (a fraction) of :func:`knn_predict`."""
    pred = knn_predict(train_feats, train_labels, test_feats, k, temperature, num_classes, weighting)
    return (pred == test_labels).double().mean().item()
