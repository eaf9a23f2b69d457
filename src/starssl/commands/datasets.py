"""``starssl datasets``: every dataset the project knows, with its status."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "list every dataset with its status (ready / downloadable / manual)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.data import DataConfig, format_dataset_table, list_datasets
    from starssl.io import dumps_json

    rows = list_datasets(DataConfig.from_params(params))
    text = dumps_json(rows) if args.json else format_dataset_table(rows) + "\n"
    print(text, end="")
    return 0
