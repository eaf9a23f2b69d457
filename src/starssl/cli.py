"""The ``starssl`` command: one sub-command per pipeline stage.

Each stage lives in ``starssl/commands/<stage>.py`` and exposes ``HELP``, ``add_arguments`` and
``run(args, params)``. User errors (:class:`~starssl.errors.StarsslError`) print one line and
exit non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from starssl import __version__
from starssl.commands import pin_stage_threads
from starssl.config import load_params
from starssl.errors import StarsslError

STAGES = (
    "datasets",
    "prepare",
    "pretrain",
    "export",
    "knn",
    "linear",
    "fewshot",
    "cca",
    "equivariance",
    "routing",
    "tables",
    "figures",
)


def _stage_module(name: str):
    return importlib.import_module(f"starssl.commands.{name}")


def build_parser(stages: Sequence[str] = STAGES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starssl", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"starssl {__version__}")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name in stages:
        module = _stage_module(name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        cmd.add_argument(
            "--params", default="params.yaml", help="parameters file (default: %(default)s)"
        )
        cmd.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a parameter, e.g. --set pretrain.epochs=10 (repeatable)",
        )
        module.add_arguments(cmd)
    return parser


def available_stages() -> list[str]:
    """Stages whose module exists (lets the CLI grow stage by stage)."""
    found = []
    for name in STAGES:
        try:
            _stage_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"starssl.commands.{name}":
                raise
        else:
            found.append(name)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(available_stages())
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params, args.overrides)
        pin_stage_threads(args.stage, params)
        result = _stage_module(args.stage).run(args, params)
    except StarsslError as exc:
        print(f"starssl {args.stage}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"starssl {args.stage}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
