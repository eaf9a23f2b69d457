"""k-nearest-neighbour accuracy on frozen features (a quick in-domain monitor).

Protocol choices (the paper does not use k-NN; this follows Wu et al. 2018 and solo-learn):

- Features are L2-normalised, similarity is the cosine, the k most similar training samples
  vote (k = 20 default, capped at the training-set size).
- ``weighting="similarity"``: each neighbour votes exp(s / T) for its class (T = 0.07);
  ``weighting="majority"``: one vote each (the classical rule, as scikit-learn's
  ``KNeighborsClassifier``).
- Ties between classes go to the smallest class index; ties between equally similar
  neighbours follow ``torch.topk`` (continuous features make them rare).
- Queries are processed in chunks so memory is ``chunk x N_train``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from starssl.errors import ConfigError, DataError

WEIGHTINGS = ("similarity", "majority")


@torch.no_grad()
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
    """Predicted class of each test feature (on the training features' device)."""
    if weighting not in WEIGHTINGS:
        raise ConfigError(f"knn: weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if k < 1 or temperature <= 0:
        raise ConfigError(f"knn: need k >= 1 and temperature > 0, got {k}, {temperature}")
    if len(train_feats) == 0 or len(train_feats) != len(train_labels):
        raise DataError("knn: training features and labels must be non-empty and equally long")
    dev = train_feats.device
    c = int(train_labels.max()) + 1 if num_classes is None else num_classes
    k = min(k, len(train_feats))
    bank = F.normalize(train_feats.float(), dim=1)
    labels = train_labels.to(dev, torch.long)
    preds = []
    for start in range(0, len(test_feats), chunk):
        q = F.normalize(test_feats[start : start + chunk].to(dev).float(), dim=1)
        sims, idx = (q @ bank.T).topk(k, dim=1)
        weights = (sims / temperature).exp() if weighting == "similarity" else torch.ones_like(sims)
        votes = torch.zeros(len(q), c, device=dev).scatter_add_(1, labels[idx], weights)
        preds.append(votes.argmax(1))  # argmax returns the first maximum: smallest class
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
    chunk: int = 1024,
) -> float:
    """Top-1 accuracy (fraction) of the k-NN classifier; see the module docstring."""
    pred = knn_predict(
        train_feats, train_labels, test_feats, k, temperature, num_classes, weighting, chunk
    )
    return (pred.cpu() == test_labels.cpu().long()).double().mean().item()
