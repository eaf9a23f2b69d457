"""The Snakefile's side of the registry: config overrides, rule inputs, params and outputs.

``snakemake --config`` overrides reach the ``starssl`` commands through a parameters file:
when the merged config differs from params.yaml, it is written once to
``.snakemake/starssl/params-<hash>.yaml`` (content-addressed, so concurrent or cluster jobs
never see a file change under them) and every command gets ``--params`` pointing at it.
Reruns: the ``fingerprint`` rule's ``params.values`` holds the resolved values of exactly the
keys its stage group reads, so Snakemake's ``params`` trigger reruns the fingerprints an
override touches, and the ``mtime`` trigger everything that reads them (and the code files
they list). The other rules' only param is their command, which names the instance and never
a parameter value, and one shell template serves every rule, so the ``code`` trigger stays
quiet.
"""

from __future__ import annotations

import copy
import hashlib
import shlex
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from starssl.config import load_params
from starssl.io import read_yaml, write_text_atomic
from starssl.pipeline.paramdeps import resolved_values
from starssl.pipeline.stages import Stage, build_stages, layout, stage_index

SCHEMA = str(resources.files("starssl").joinpath("params.schema.json"))
OVERRIDES_DIR = Path(".snakemake") / "starssl"
WILDCARDS = {
    "model": r"[a-z0-9_]+(-e[0-9]+)?_s[0-9]+",
    "dataset": r"[a-z0-9_]+",
    "group": r"[a-z0-9_-]+",
}


def _coerce(value: Any) -> Any:
    """``--config`` parses nested values with YAML's BaseLoader: every scalar is a string."""
    if isinstance(value, str):
        return yaml.safe_load(value) if value.strip() else value
    if isinstance(value, Mapping):
        return {k: _coerce(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce(v) for v in value]
    return value


def coerce_overrides(config: dict[str, Any], file_tree: Mapping[str, Any]) -> None:
    """Give overridden values their YAML types again (in place), leaving file values alone:
    ``--config 'pretrain={epochs: 8}'`` means the integer 8."""
    for key, value in list(config.items()):
        base = file_tree.get(key, None) if isinstance(file_tree, Mapping) else None
        if value == base:
            continue
        if isinstance(value, dict) and isinstance(base, Mapping):
            coerce_overrides(value, base)
        else:
            config[key] = _coerce(value)


class Pipeline:
    """The registry as Snakemake sees it: from the (validated) config to rule helpers."""

    def __init__(
        self, config: Mapping[str, Any], params_path: str = "params.yaml", results: str = "results"
    ) -> None:
        file_tree = read_yaml(params_path)
        self.params_file = params_path
        if dict(config) != file_tree:
            text = yaml.safe_dump(copy.deepcopy(dict(config)), sort_keys=True)
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            target = OVERRIDES_DIR / f"params-{digest}.yaml"
            if not target.is_file():
                write_text_atomic(target, text)
            self.params_file = target.as_posix()
        self.params = load_params(self.params_file)  # every profile validated, one-line errors
        self.results = results.rstrip("/")
        self.stages = build_stages(self.params, self.results, ".")
        self._index = stage_index(self.stages)
        self._persistent = {o.path for s in self.stages for o in s.outs if o.persist}

    def stage(self, kind: str, wildcards: Mapping[str, str]) -> Stage:
        key = (kind, tuple(sorted((k, str(v)) for k, v in dict(wildcards).items())))
        if key not in self._index:
            raise KeyError(f"no {kind} stage for {dict(wildcards)} in this experiment")
        return self._index[key]

    def only(self, kind: str) -> Stage:
        return self.stage(kind, {})

    def outputs(self, kind: str) -> list[Any]:
        """Output patterns (``{model}``/``{dataset}`` wildcards); persistent outputs (the
        checkpoint) are left out: Snakemake deletes a job's outputs before running it."""
        from snakemake.io import directory

        if kind in ("tables", "figures"):
            outs = self.only(kind).outs
        else:  # one pattern for all instances
            outs = tuple(layout(kind, self.results, self.params["data"]["root"].rstrip("/")))
        return [directory(o.path) if o.is_dir else o.path for o in outs if not o.persist]

    def reported_outputs(self, kind: str, category: str, caption: Callable[[str], str]) -> list:
        """``outputs(kind)`` with the PNG and CSV files flagged for ``snakemake --report``."""
        from snakemake.io import report

        return [
            report(p, caption=caption(p), category=category) if p.endswith((".png", ".csv")) else p
            for p in self.outputs(kind)
        ]

    def snake_deps(self, stage: Stage) -> list[str]:
        return [d for d in stage.deps if d not in self._persistent]

    def inputs(self, kind: str) -> Callable[[Any], list[str]]:
        return lambda wildcards: self.snake_deps(self.stage(kind, wildcards))

    def cmd(self, kind: str, skip: int = 0) -> Callable[[Any], str]:
        """The stage's command (without its first ``skip`` words). It names the instance only,
        never a parameter value, so as a rule param it triggers no rerun of its own."""
        return lambda wildcards: shlex.join(self.stage(kind, wildcards).command[skip:])

    def setup(self, kind: str) -> Callable[[Any], str]:
        """The command run before the stage's own (pretrain: the checkpoint guard)."""
        return lambda wildcards: shlex.join(self.stage(kind, wildcards).setup) or "true"

    def values(self, kind: str) -> Callable[[Any], str]:
        """Resolved values of the keys a fingerprint covers: Snakemake's params trigger."""
        return lambda wildcards: resolved_values(self.params, self.stage(kind, wildcards).params)

    def threads(self, kind: str) -> int:
        return max((s.threads for s in self.stages if s.kind == kind), default=1)

    def targets(self) -> list[str]:
        """Every output of the experiment: what ``rule all`` asks for."""
        return [o.path for s in self.stages for o in s.outs if not o.persist]
