"""Per-epoch training metrics in the files DVC tracks (via dvclive).

The log is rebuilt from the run's history (which lives in the checkpoint) on every write, so a
run that crashed between logging and checkpointing never shows an epoch twice after resuming.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MetricsLog:
    """Writes ``<dir>/metrics.json`` and ``<dir>/plots/metrics/<name>.tsv`` (step = epoch)."""

    def __init__(self, directory: Path, history: list[dict[str, Any]] | None = None) -> None:
        self.directory = Path(directory)
        if history:
            self.write(history)

    def write(self, history: list[dict[str, Any]]) -> None:
        from dvclive import Live  # imported lazily: it pulls in DVC, slow to import

        # resume=False makes dvclive clear the folder first; we replay the whole history.
        with Live(
            str(self.directory),
            resume=False,
            save_dvc_exp=False,
            dvcyaml=None,
            report=None,
            monitor_system=False,
        ) as live:
            for record in history:
                live.step = int(record["epoch"])
                for key, value in sorted(record.items()):
                    if (
                        key != "epoch"
                        and isinstance(value, (int, float))
                        and not isinstance(value, bool)
                    ):
                        live.log_metric(key, float(value))
