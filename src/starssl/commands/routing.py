"""``starssl routing``: how each task's router mixes the experts (star_mmoe only, §7)."""

from __future__ import annotations

import argparse
from typing import Any

from starssl.commands._analysis import add_run_arguments, analysis_images, embed, identity, load
from starssl.commands._evaluate import write_result

HELP = "routing statistics: mean weight per expert per router, per-sample entropy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.eval.routing import routing_statistics

    cfg = params["eval"]["cca"]  # same images as the CCA analysis
    method, summary = load(args)
    record: dict[str, Any] = {**identity(summary, args.run), "protocol": "routing"}
    if summary["method"] != "star_mmoe":
        record.update(defined=False, reason=f"{summary['method']} has no routers")
        write_result(args.out, record)
        return 0
    dataset, images = analysis_images(params, summary, args.dataset, cfg["split"], cfg["samples"])
    emb = embed(method, images, summary, params["eval"]["batch_size"])
    weights = {k.removeprefix("routing_"): v for k, v in emb.items() if k.startswith("routing_")}
    record.update(
        defined=True,
        dataset=dataset,
        split=cfg["split"],
        n_samples=len(images),
        routers=routing_statistics(weights),
    )
    write_result(args.out, record)
    return 0
