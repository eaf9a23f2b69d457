"""k-NN accuracy (starssl.eval.knn) against a plain reference loop and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from starssl.errors import ConfigError
from starssl.eval.knn import knn_accuracy, knn_predict


def reference_predict(bank, bank_y, queries, k, temperature, weighted, num_classes):
    """One query at a time, in numpy: cosine, sort, vote, first maximum."""
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    out = []
    for q in queries:
        sims = bank @ (q / np.linalg.norm(q))
        top = np.argsort(-sims, kind="stable")[:k]
        votes = np.zeros(num_classes)
        for j in top:
            votes[bank_y[j]] += np.exp(sims[j] / temperature) if weighted else 1.0
        out.append(int(np.argmax(votes)))
    return np.array(out)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 8, generator=g)
    bank_y = torch.randint(0, 4, (120,), generator=g)
    bank = centres[bank_y] + torch.randn(120, 8, generator=g)
    test_y = torch.randint(0, 4, (37,), generator=g)
    test = centres[test_y] + torch.randn(37, 8, generator=g)
    return bank, bank_y, test, test_y


@pytest.mark.parametrize("weighting", ["similarity", "majority"])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_matches_reference_loop(data, weighting, k):
    bank, bank_y, test, _ = data
    pred = knn_predict(bank, bank_y, test, k=k, temperature=0.1, weighting=weighting, chunk=7)
    ref = reference_predict(
        bank.double().numpy(),
        bank_y.numpy(),
        test.double().numpy(),
        k,
        0.1,
        weighting == "similarity",
        4,
    )
    np.testing.assert_array_equal(pred.numpy(), ref)


def test_majority_matches_sklearn(data):
    from sklearn.neighbors import KNeighborsClassifier

    bank, bank_y, test, test_y = data
    ref = KNeighborsClassifier(n_neighbors=9, metric="cosine", algorithm="brute")
    ref.fit(bank.numpy(), bank_y.numpy())
    pred = knn_predict(bank, bank_y, test, k=9, weighting="majority")
    np.testing.assert_array_equal(pred.numpy(), ref.predict(test.numpy()))
    acc = knn_accuracy(bank, bank_y, test, test_y, k=9, weighting="majority")
    assert acc == pytest.approx(ref.score(test.numpy(), test_y.numpy()))


def test_similarity_weighting_can_overrule_the_majority():
    # One almost identical neighbour of class 0 against two distant ones of class 1.
    bank = torch.tensor([[1.0, 0.01], [0.6, 0.8], [0.6, -0.8]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0, 0.0]])
    assert knn_predict(bank, labels, query, k=3, temperature=0.07).item() == 0
    assert knn_predict(bank, labels, query, k=3, weighting="majority").item() == 1


def test_scale_invariance_and_k_capped(data):
    bank, bank_y, test, test_y = data
    a = knn_accuracy(bank, bank_y, test, test_y, k=500)  # more neighbours than samples
    b = knn_accuracy(3.0 * bank, bank_y, 0.5 * test, test_y, k=len(bank))
    assert a == b
    assert 0.0 <= a <= 1.0


def test_bad_parameters(data):
    bank, bank_y, test, _ = data
    with pytest.raises(ConfigError, match="weighting"):
        knn_predict(bank, bank_y, test, weighting="distance")
    with pytest.raises(ConfigError, match="k >= 1"):
        knn_predict(bank, bank_y, test, k=0)
