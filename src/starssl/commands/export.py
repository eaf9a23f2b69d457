"""``starssl export``: backbone-only safetensors + JSON card from a finished run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "export the pretrained backbone (safetensors + JSON card with sha256)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, required=True, help="pretraining run directory")
    parser.add_argument("--out", type=Path, required=True, help="export directory")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.export import export_backbone

    card = export_backbone(args.run, args.out)
    print(f"{args.out}/{card['weights']} sha256={card['sha256']}")
    return 0
