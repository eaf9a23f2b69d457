"""Where the data layer reads raw datasets and writes its caches."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starssl.errors import ConfigError

MIRROR_ENV = "STARSSL_DATA_MIRROR"


@dataclass(frozen=True)
class DataConfig:
    """``root``: prepared raw data and ``cache/``; ``mirror``: offline mirror folder (holding a
    ``SHA256SUMS``); ``download``: allow torchvision to fetch public datasets."""

    root: Path = Path("data")
    mirror: Path | None = None
    download: bool = False

    def __post_init__(self) -> None:
        # Accept plain strings from callers; keep the dataclass typed as Path.
        object.__setattr__(self, "root", Path(self.root))
        if self.mirror is not None:
            object.__setattr__(self, "mirror", Path(self.mirror))

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DataConfig:
        """Build from the ``data`` section {root, mirror, download} of the parameters.

        ``params`` may be the whole parameter dict or the ``data`` section itself. A non-empty
        ``STARSSL_DATA_MIRROR`` overrides ``mirror`` so one machine can point at its local copy
        without editing params.yaml.
        """
        allowed = {"root", "mirror", "download"}
        if "data" in params:
            section = params["data"]
        elif set(params) <= allowed:
            section = params
        else:  # a whole parameter dict without a data section: defaults
            section = {}
        if not isinstance(section, dict):
            raise ConfigError(
                f"data: expected a mapping with root/mirror/download, got {section!r}"
            )
        unknown = set(section) - allowed
        if unknown:
            raise ConfigError(
                f"data: unknown keys {sorted(unknown)}; allowed: root, mirror, download"
            )
        download = section.get("download", False)
        if not isinstance(download, bool):
            raise ConfigError(f"data.download: expected true or false, got {download!r}")
        mirror = os.environ.get(MIRROR_ENV) or section.get("mirror") or None
        return cls(root=Path(section.get("root", "data")), mirror=mirror, download=download)
