"""Shared arguments and messages of the stages that render results (tables, figures)."""

from __future__ import annotations

import argparse
import sys


def add_report_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument("--results", default="results", help="results root (default: %(default)s)")
    parser.add_argument("--out", default=default_out, help="output folder")
    parser.add_argument(
        "--strict", action="store_true", help="fail on the first missing result file"
    )


def report_missing(stage: str, missing: list[str], shown_as: str) -> None:
    """One line on stderr when result files are missing (they render as ``shown_as``)."""
    if missing:
        print(
            f"starssl {stage}: {len(missing)} result file(s) missing, {shown_as} "
            f"(first: {missing[0]})",
            file=sys.stderr,
        )
