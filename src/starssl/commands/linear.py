"""``starssl linear``: the AugSelf linear-transfer protocol on one (model, dataset) pair (§7)."""

from __future__ import annotations

import argparse
from typing import Any

from starssl.commands._evaluate import (
    LINEAR_METRIC,
    add_model_arguments,
    device,
    frozen_features,
    identity,
    write_result,
)

HELP = "linear probe: L-BFGS, 45-value weight-decay sweep on val, refit on train+val, test"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.eval.linear import linear_probe

    cfg = params["eval"]["linear"]
    card, feats, info = frozen_features(args.model, args.dataset, ("train", "val", "test"), params)
    result = linear_probe(
        feats["train"],
        feats["val"],
        feats["test"],
        metric=LINEAR_METRIC[info.metric],
        wd_range=(cfg["wd_min"], cfg["wd_max"]),
        num_wd=cfg["num_wd"],
        max_iter=cfg["max_iter"],
        device=device(),
    )
    write_result(
        args.out,
        {
            **identity(card, args.model.name),
            "protocol": "linear",
            "dataset": args.dataset,
            "metric": info.metric,
            "best_w": result.best_w,
            "val_accuracy": result.val_accuracy,
            "test_accuracy": result.test_accuracy,
            "sweep": [{"w": w, "val_accuracy": acc} for w, acc in result.sweep],
            "iterations": result.iterations,
            "converged": result.converged,
            "sizes": {k: len(v[1]) for k, v in feats.items()},
        },
    )
    # Wall-clock times go to the log only: a result must be the same bytes on every rerun.
    print("linear probe seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))
    return 0
