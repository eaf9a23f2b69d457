"""``starssl figures``: the result figures as PNG and PDF (byte-identical on regeneration)."""

from __future__ import annotations

import argparse
from typing import Any

from starssl.commands._report import add_report_arguments, report_missing

HELP = "draw the result figures (PNG, PDF) from the runs and evaluation JSONs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_report_arguments(parser, "results/figures")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.pipeline.figures import write_figures

    missing = write_figures(params, args.results, args.out, strict=args.strict)
    report_missing("figures", missing, "left out")
    print(f"figures -> {args.out}")
    return 0
