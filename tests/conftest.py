"""Shared test fixtures: the repository root, the real params file, a tiny parameter set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def mirror_dir() -> Path | None:
    """The offline dataset mirror, if this machine has one (CI has ../shared beside the clone)."""
    env = os.environ.get("STARSSL_DATA_MIRROR")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "datasets")
    return next((c for c in candidates if (c / "SHA256SUMS").is_file()), None)


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # Tests run in parallel (pytest -n 2): one thread each keeps them from fighting over cores.
    torch.set_num_threads(1)


@pytest.fixture
def params_file() -> Path:
    return ROOT / "params.yaml"
