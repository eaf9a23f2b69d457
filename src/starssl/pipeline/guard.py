"""Before a pipeline pretraining job: keep the run's checkpoint only if it belongs to the
current fingerprint (``python -m starssl.pipeline.guard --run DIR --fingerprint FILE``).

Both engines delete ``run.json`` before rerunning a pretraining stage but keep the checkpoint,
so ``starssl pretrain`` resumes an interrupted run. When the stage reruns because its
fingerprint changed (a parameter it reads, or its code), resuming would be wrong: the guard
then deletes the stale checkpoint and training starts afresh. The run directory remembers the
fingerprint it was started with in ``.fingerprint`` (its sha256).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from starssl.io import sha256_file, write_text_atomic

MARK = ".fingerprint"
CHECKPOINT = "checkpoint.safetensors"  # starssl.train.CHECKPOINT (not imported: torch-free)


def guard(run: Path, fingerprint: Path) -> bool:
    """Return True when a stale checkpoint was removed."""
    current = sha256_file(fingerprint)
    mark = run / MARK
    stale = mark.is_file() and mark.read_text(encoding="utf-8").strip() != current
    if stale:
        (run / CHECKPOINT).unlink(missing_ok=True)
    # A checkpoint without a mark was made outside the pipeline: `starssl pretrain` itself
    # refuses one made with other parameters, so it is left to that check.
    write_text_atomic(mark, current + "\n")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m starssl.pipeline.guard")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--fingerprint", type=Path, required=True)
    args = parser.parse_args(argv)
    if guard(args.run, args.fingerprint):
        print(f"{args.run}: fingerprint changed, stale checkpoint removed; training afresh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
