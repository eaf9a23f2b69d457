"""``starssl prepare``: verify, extract and cache every split of one dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "verify and decode a dataset's splits once into cached tensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True)
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="evaluation image size (default: pretrain.image_size)",
    )
    parser.add_argument("--out", type=Path, required=True, help="summary JSON")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.data import DataConfig, prepare
    from starssl.io import write_json

    size = args.image_size or params["pretrain"]["image_size"]
    summary = prepare(args.dataset, DataConfig.from_params(params), size)
    write_json(args.out, summary)
    print(f"{args.dataset}: prepared -> {args.out}")
    return 0
