"""From the resolved keys a stage reads to what each engine tracks.

A stage reads dotted keys of the *resolved* parameters (``pretrain.epochs``). The value of such
a key comes from the top-level sections of params.yaml, unless the active profile overrides it
(``profiles.<name>.pretrain.epochs``, or a whole sub-tree above it). DVC tracks keys of
params.yaml, so a stage lists the top-level key, ``profile``, and the profile's overriding key
when the profile has one; changing a key of another profile, or one no stage reads, reruns
nothing. Snakemake tracks values, so a rule's ``params`` carry the resolved values themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starssl.config import DEFAULT_PROFILE

_MISSING = object()  # lookup(): raise KeyError
_ABSENT = object()


def lookup(tree: Mapping[str, Any], dotted: str, default: Any = _MISSING) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            if default is _MISSING:
                raise KeyError(dotted)
            return default
        node = node[part]
    return node


def _profile_key(subtree: Mapping[str, Any], dotted: str) -> str | None:
    """The key of ``subtree`` that overrides ``dotted``: itself, an ancestor that replaces a
    whole non-mapping value, or — when the profile overrides only some keys below — itself."""
    node: Any = subtree
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
        if not isinstance(node, Mapping) and i < len(parts) - 1:
            return ".".join(parts[: i + 1])  # a scalar replaces everything below it
    return dotted


def _overridable(raw: Mapping[str, Any], dotted: str) -> bool:
    """Whether any profile in params.yaml sets ``dotted``, a key below it, or above it."""
    profiles = raw.get("profiles") or {}
    return any(_profile_key(tree, dotted) for tree in profiles.values())


def _top_level_keys(raw: Mapping[str, Any], active: Mapping[str, Any], dotted: str) -> list[str]:
    """The top-level keys at or below ``dotted`` that the active profile does not replace."""
    override = lookup(active, dotted, _ABSENT)
    if override is _ABSENT:
        parts = dotted.split(".")
        # A non-mapping ancestor in the profile replaces everything below it.
        for i in range(1, len(parts)):
            above = lookup(active, ".".join(parts[:i]), _ABSENT)
            if above is not _ABSENT and not isinstance(above, Mapping):
                return []
        return [dotted] if lookup(raw, dotted, _ABSENT) is not _ABSENT else []
    top = lookup(raw, dotted, _ABSENT)
    if not isinstance(override, Mapping) or not isinstance(top, Mapping):
        return []  # deep_merge replaces a value unless both sides are mappings
    return [k for child in top for k in _top_level_keys(raw, active, f"{dotted}.{child}")]


def dvc_param_keys(raw: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """params.yaml keys (for DVC's ``params:``) behind the resolved ``keys`` of a stage: the
    top-level keys the active profile leaves alone, the profile's own overriding key, and
    ``profile`` when any profile could change the value."""
    profile = raw.get("profile", DEFAULT_PROFILE)
    active = (raw.get("profiles") or {}).get(profile, {}) if profile != DEFAULT_PROFILE else {}
    out: list[str] = []
    for key in keys:
        if key == "profile":
            out.append("profile")
            continue
        out += _top_level_keys(raw, active, key)
        if _overridable(raw, key):
            out.append("profile")
        override = _profile_key(active, key)
        if override:
            out.append(f"profiles.{profile}.{override}")
    return list(dict.fromkeys(out))


def resolved_values(params: Mapping[str, Any], keys: Iterable[str]) -> str:
    """Canonical JSON of the resolved values of ``keys`` (Snakemake's params trigger)."""
    return json.dumps({k: lookup(params, k) for k in keys}, sort_keys=True, separators=(",", ":"))
