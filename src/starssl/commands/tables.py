"""``starssl tables``: the result tables in Markdown, LaTeX and CSV."""

from __future__ import annotations

import argparse
from typing import Any

from starssl.commands._report import add_report_arguments, report_missing

HELP = "write the result tables (Markdown, LaTeX, CSV) from the evaluation JSONs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_report_arguments(parser, "results/tables")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.pipeline.tables import write_tables

    missing = write_tables(params, args.results, args.out, strict=args.strict)
    report_missing("tables", missing, "shown as n/a")
    print(f"tables -> {args.out}")
    return 0
