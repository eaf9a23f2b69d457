"""Load, resolve and validate ``params.yaml``.

Resolution order (later wins): the top-level sections (the ``demo`` profile) → the overrides of
the selected ``profile`` → ``STARSSL_DATA_MIRROR`` for ``data.mirror`` → ``--set key=value``.
The resolved tree is validated against ``params.schema.json``; every problem becomes a one-line
:class:`~starssl.errors.ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from starssl.errors import ConfigError
from starssl.io import read_yaml

Params = dict[str, Any]
DEFAULT_PROFILE = "demo"
MIRROR_ENV = "STARSSL_DATA_MIRROR"


@cache
def schema() -> dict[str, Any]:
    text = resources.files("starssl").joinpath("params.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _schema_at(path: list[str]) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema()
    for part in path:
        if node is None or "properties" not in node:
            return None
        node = node["properties"].get(part)
    return node


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Params:
    """Merge ``override`` into a copy of ``base``: mappings merge, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse ``a.b=value``; the value is read as YAML so numbers, booleans and lists work."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set pretrain.epochs=10")
    path = key.strip().split(".")
    if _schema_at(path) is None:
        parent = _schema_at(path[:-1]) or {}
        allowed = sorted(parent.get("properties", {}))
        hint = difflib.get_close_matches(path[-1], allowed, n=1)
        suggestion = f" (did you mean {'.'.join([*path[:-1], hint[0]])}?)" if hint else ""
        raise ConfigError(
            f"--set {key}: unknown key{suggestion}; allowed under "
            f"{'.'.join(path[:-1]) or 'the top level'}: {', '.join(allowed)}"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r} ({exc.problem})") from None
    return path, value


def apply_overrides(params: Mapping[str, Any], overrides: Iterable[str]) -> Params:
    out = copy.deepcopy(dict(params))
    for item in overrides:
        path, value = parse_override(item)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _format_error(err: jsonschema.ValidationError, origin: str) -> str:
    key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        names = ", ".join(f"{key}.{e}" if err.absolute_path else e for e in extra)
        return f"{origin}: unknown key {names}; allowed: {', '.join(allowed)}"
    if err.validator == "required":
        return f"{origin}: {key}: {err.message}"
    if err.validator == "enum":
        allowed = ", ".join(map(str, err.validator_value))
        return f"{origin}: {key} = {err.instance!r} is not allowed; choose one of: {allowed}"
    if err.validator == "not" and "description" in err.schema:
        must = err.schema["description"]
        return f"{origin}: {key} = {err.instance!r} is not allowed; must be {must}"
    return f"{origin}: {key} = {err.instance!r}: {err.message}"


def validate(params: Mapping[str, Any], origin: str = "params.yaml") -> None:
    """Raise ConfigError for the first (most specific) schema violation."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_format_error(best, origin))


def resolve_profile(raw: Mapping[str, Any], profile: str) -> Params:
    profiles = raw.get("profiles") or {}
    if profile == DEFAULT_PROFILE:
        return copy.deepcopy(dict(raw))
    if profile not in profiles:
        allowed = ", ".join([DEFAULT_PROFILE, *sorted(profiles)])
        raise ConfigError(
            f"params.yaml: profile = {profile!r} is unknown; choose one of: {allowed}"
        )
    return deep_merge(raw, profiles[profile])


def load_params(
    path: str | os.PathLike[str] = "params.yaml", overrides: Iterable[str] = ()
) -> Params:
    """Read, resolve and validate the parameters; the resolved tree has no ``profiles``."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"{file}: parameters file not found; run from the repository root or pass --params"
        )
    try:
        raw = read_yaml(file)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of sections at the top level")
    overrides = list(overrides)
    raw = apply_overrides(raw, [o for o in overrides if o.partition("=")[0].strip() == "profile"])
    validate(raw, str(file))
    # Every profile must resolve to a valid tree, not only the active one: a typo in an unused
    # profile should not wait for the day someone selects it.
    for name in raw.get("profiles") or {}:
        validate(resolve_profile(raw, name), f"{file} (profile {name})")
    params = resolve_profile(raw, raw.get("profile", DEFAULT_PROFILE))
    if os.environ.get(MIRROR_ENV):
        params["data"]["mirror"] = os.environ[MIRROR_ENV]
    params = apply_overrides(
        params, [o for o in overrides if o.partition("=")[0].strip() != "profile"]
    )
    validate(params, "--set")
    params.pop("profiles", None)
    return params


def params_hash(params: Mapping[str, Any]) -> str:
    """A short, stable fingerprint of a parameter tree."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
