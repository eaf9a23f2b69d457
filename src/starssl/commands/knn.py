"""``starssl knn``: cosine kNN accuracy of frozen features (a cheap in-domain check)."""

from __future__ import annotations

import argparse
from typing import Any

from starssl.commands._evaluate import add_model_arguments, frozen_features, identity, write_result

HELP = "kNN accuracy (cosine, similarity-weighted votes) of frozen backbone features"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.eval.knn import knn_accuracy

    cfg = params["eval"]["knn"]
    card, feats, info = frozen_features(args.model, args.dataset, ("train", "test"), params)
    accuracy = knn_accuracy(
        *feats["train"],
        *feats["test"],
        k=cfg["k"],
        temperature=cfg["temperature"],
        num_classes=info.num_classes,
    )
    write_result(
        args.out,
        {
            **identity(card, args.model.name),
            "protocol": "knn",
            "dataset": args.dataset,
            "k": cfg["k"],
            "temperature": cfg["temperature"],
            "accuracy": accuracy,
            "sizes": {k: len(v[1]) for k, v in feats.items()},
        },
    )
    return 0
