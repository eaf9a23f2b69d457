"""``starssl figures``: the result figures as PNG and PDF."""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "draw the result figures (PNG, PDF) from the runs and evaluation JSONs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", help="results root (default: %(default)s)")
    parser.add_argument("--out", default="results/figures", help="output folder")
    parser.add_argument(
        "--strict", action="store_true", help="fail on the first missing result file"
    )


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.pipeline.figures import write_figures

    missing = write_figures(params, args.results, args.out, strict=args.strict)
    if missing:
        print(
            f"starssl figures: {len(missing)} result file(s) missing, left out "
            f"(first: {missing[0]})",
            file=sys.stderr,
        )
    print(f"figures -> {args.out}")
    return 0
