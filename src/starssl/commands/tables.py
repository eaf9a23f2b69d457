"""``starssl tables``: the result tables in Markdown, LaTeX and CSV."""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "write the result tables (Markdown, LaTeX, CSV) from the evaluation JSONs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", help="results root (default: %(default)s)")
    parser.add_argument("--out", default="results/tables", help="output folder")
    parser.add_argument(
        "--strict", action="store_true", help="fail on the first missing result file"
    )


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.pipeline.tables import write_tables

    missing = write_tables(params, args.results, args.out, strict=args.strict)
    if missing:
        print(
            f"starssl tables: {len(missing)} result file(s) missing, shown as n/a "
            f"(first: {missing[0]})",
            file=sys.stderr,
        )
    print(f"tables -> {args.out}")
    return 0
