"""``starssl fewshot``: seeded N-way K-shot episodes with logistic regression (§7, Table 4)."""

from __future__ import annotations

import argparse
from typing import Any

from starssl.commands._evaluate import add_model_arguments, frozen_features, identity, write_result

HELP = "few-shot: 5-way 1/5-shot episodes, liblinear logistic regression, mean and 95% interval"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="episode seed")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.data.registry import get_info, split_names
    from starssl.eval.fewshot import fewshot_eval

    cfg = params["eval"]["fewshot"]
    # The paper's few-shot sets define a "fewshot" pool (§7); other datasets use their test split.
    split = "fewshot" if "fewshot" in split_names(get_info(args.dataset)) else "test"
    card, feats, _ = frozen_features(args.model, args.dataset, (split,), params)
    result = fewshot_eval(
        *feats[split],
        ways=cfg["ways"],
        shots=tuple(cfg["shots"]),
        queries=cfg["queries"],
        episodes=cfg["episodes"],
        seed=args.seed,
    )
    write_result(
        args.out,
        {
            **identity(card, args.model.name),
            "protocol": "fewshot",
            "dataset": args.dataset,
            "split": split,
            "episode_seed": args.seed,
            **result,
        },
    )
    return 0
