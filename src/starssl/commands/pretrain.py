"""``starssl pretrain``: pretrain one method with one seed into a run directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from starssl.methods import METHODS

HELP = "pretrain a method (simclr, equimod, star_ss, star_mmoe); resumes from the last checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, choices=sorted(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="run directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.train import pretrain

    summary = pretrain(params, args.method, args.seed, args.out, progress=not args.no_progress)
    last = summary["history"][-1] if summary["history"] else {}
    print(json.dumps({"out": str(args.out), "method": args.method, "seed": args.seed, **last}))
    return 0
