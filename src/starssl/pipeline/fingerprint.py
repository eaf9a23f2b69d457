"""Write stage-group fingerprints: the resolved values of the keys a group reads and the
sha256 of the code it runs (``python -m starssl.pipeline.fingerprint [GROUP ...]``; all
groups when none is named).

Every stage of a group depends on its ``<results>/fingerprints/<group>.json`` (see
:mod:`starssl.pipeline.stages`), so it reruns exactly when one of these changes. Snakemake
writes one group per job; dvc.yaml has a single ``fingerprints`` stage writing them all (one
params.yaml read for ``dvc status``), and DVC compares contents, so a rewritten but unchanged
fingerprint reruns nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starssl.config import load_params
from starssl.errors import StarsslError
from starssl.io import sha256_file, write_json
from starssl.pipeline.paramdeps import lookup
from starssl.pipeline.stages import Stage, build_stages


def fingerprint_stages(params: dict[str, Any], results: str = "results") -> dict[str, Stage]:
    return {
        s.wildcards["group"]: s for s in build_stages(params, results) if s.kind == "fingerprint"
    }


def fingerprint(params: dict[str, Any], stage: Stage) -> dict[str, Any]:
    missing = [path for path in stage.deps if not Path(path).is_file()]
    if missing:
        raise StarsslError(f"{missing[0]}: source file missing (stage group {stage.name})")
    return {
        "group": stage.wildcards["group"],
        "params": {key: lookup(params, key) for key in stage.params},
        "code": {path: sha256_file(path) for path in stage.deps},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m starssl.pipeline.fingerprint")
    parser.add_argument("groups", nargs="*", help="stage groups (default: all)")
    parser.add_argument("--results", default="results")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params, args.overrides)
        stages = fingerprint_stages(params, args.results)
        for group in args.groups or list(stages):
            if group not in stages:
                raise StarsslError(
                    f"no stage group {group!r}; this experiment has {', '.join(stages)}"
                )
            write_json(stages[group].outs[0].path, fingerprint(params, stages[group]))
    except StarsslError as exc:
        print(f"fingerprint: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
