"""One module per pipeline stage: ``HELP``, ``add_arguments(parser)``, ``run(args, params)``."""

from __future__ import annotations

from typing import Any

# Where each computing stage takes its CPU thread count (part of its result, see
# starssl.threads). Pretraining pins its own (starssl.train); the other stages only move files
# or draw tables. This package's __init__ is in every stage's code deps, so changing the rule
# reruns the stages it concerns.
_EVALUATIONS = ("knn", "linear", "fewshot", "cca", "equivariance", "routing")


def pin_stage_threads(stage: str, params: dict[str, Any]) -> None:
    if stage in _EVALUATIONS:
        from starssl.threads import pin_threads

        pin_threads(params["eval"]["threads"])
