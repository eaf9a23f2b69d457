"""The stage registry: every stage instance of the pipeline, computed from the resolved params.

One pure description feeds both engines (``dvc.yaml`` and the Snakefile), the tables and the
figures. prepare (per dataset) → pretrain (method × seed, + star_mmoe experts-ablation
variants) → export → knn / linear / fewshot (model × dataset) → cca / equivariance / routing
(per model) → tables → figures.

What a stage reads besides result files — the resolved parameter keys (``STAGE_KEYS``) and the
code it runs (:mod:`~starssl.pipeline.codedeps`) — is collected once per *group* of identical
stages (all linear stages; the pretraining of one method) in a ``fingerprint`` stage that
writes ``results/fingerprints/<group>.json`` (the values and the code's sha256). Each stage
depends on its group's fingerprint: changing ``eval.linear.max_iter`` or ``eval/linear.py``
reruns the linear stages and what reads them, nothing else; and both engines parse
params.yaml and list the code once per group instead of once per stage (``dvc status`` on the
374-stage stl10 pipeline stays fast).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starssl.pipeline.codedeps import code_deps
from starssl.pipeline.experiment import (
    FIGURE_FORMATS,
    TABLE_FORMATS,
    Model,
    ablation_models,
    datasets_to_prepare,
    figure_names,
    models,
    table_names,
)

# Never change trained bytes. (`threads` does, on CPU: float sums are split per thread.)
OPERATIONAL = frozenset({"checkpoint_every_steps"})
# pretrain keys a method never reads, so changing them does not retrain it.
UNUSED_BY_METHOD = {
    "simclr": frozenset({"num_experts", "temperature_eq", "lambda_eq", "predictor_hidden"}),
    "equimod": frozenset({"num_experts"}),
    "star_ss": frozenset({"num_experts"}),
    "star_mmoe": frozenset(),
}
# Keys that decide whether the paper's reported numbers apply (see paper.py).
PAPER_MATCH_KEYS = (
    "pretrain.dataset",
    "pretrain.backbone",
    "pretrain.image_size",
    "pretrain.epochs",
)
FIGURE_KEYS = ("profile", "experiment", "pretrain.num_experts", *PAPER_MATCH_KEYS)
TABLE_KEYS = (
    *FIGURE_KEYS,
    "eval.fewshot.ways",
    "eval.fewshot.shots",
    "eval.fewshot.episodes",
    "eval.knn.k",
)
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "prepare": ("pretrain.image_size",),
    "export": (),
    "knn": ("eval.threads", "eval.batch_size", "eval.max_images", "eval.knn"),
    "linear": ("eval.threads", "eval.batch_size", "eval.max_images", "eval.linear"),
    "fewshot": ("eval.threads", "eval.batch_size", "eval.max_images", "eval.fewshot"),
    "cca": ("eval.threads", "eval.batch_size", "eval.cca", "experiment.analysis_dataset"),
    "equivariance": (
        "eval.threads",
        "eval.batch_size",
        "eval.equivariance",
        "augment",
        "experiment.analysis_dataset",
    ),
    # routing reads the CCA's images
    "routing": ("eval.threads", "eval.batch_size", "eval.cca", "experiment.analysis_dataset"),
    "tables": TABLE_KEYS,
    "figures": FIGURE_KEYS,
}
# Threads of the stages that only move files or draw; the computing stages take theirs from
# pretrain.threads / eval.threads (part of their results, see starssl.threads).
THREADS = {"prepare": 2, "export": 1, "tables": 1, "figures": 1, "fingerprint": 1}
FINGERPRINT_PROGRAM = ("python", "-m", "starssl.pipeline.fingerprint")
GUARD_PROGRAM = ("python", "-m", "starssl.pipeline.guard")


@dataclass(frozen=True)
class Out:
    """One output; ``path`` may hold ``{model}``/``{dataset}``/``{group}`` placeholders."""

    path: str
    kind: str = "out"  # "out" | "metric"
    cache: bool = True
    persist: bool = False  # survives reruns: the pretraining checkpoint (resume)
    is_dir: bool = False


@dataclass(frozen=True)
class Stage:
    kind: str
    wildcards: dict[str, str]
    command: tuple[str, ...]
    deps: tuple[str, ...]  # files: results of other stages, prepared data, code, fingerprints
    outs: tuple[Out, ...]
    params: tuple[str, ...] = ()  # dotted keys of the resolved params (fingerprints only)
    threads: int = 1
    gpus: int = 0
    setup: tuple[str, ...] = ()  # a command run first (pretrain: the checkpoint guard)

    @property
    def name(self) -> str:
        return "-".join([self.kind, *self.wildcards.values()])

    @property
    def out_paths(self) -> list[str]:
        return [o.path for o in self.outs]


def layout(kind: str, results: str, data: str) -> list[Out]:
    """Outputs of a stage kind, with ``{model}``/``{dataset}``/``{group}`` placeholders."""
    run, ev = f"{results}/runs/{{model}}", f"{results}/eval"
    table = {
        "fingerprint": [Out(f"{results}/fingerprints/{{group}}.json")],
        "prepare": [Out(f"{data}/prepared/{{dataset}}.json")],
        "pretrain": [
            Out(f"{run}/checkpoint.safetensors", persist=True),
            Out(f"{run}/run.json"),
            Out(f"{run}/metrics/metrics.json", kind="metric"),
            Out(f"{run}/metrics/plots/metrics", is_dir=True),
        ],
        "export": [
            Out(f"{results}/models/{{model}}/backbone.safetensors"),
            Out(f"{results}/models/{{model}}/card.json"),
        ],
    }
    for name in ("knn", "linear", "fewshot"):
        table[name] = [Out(f"{ev}/{name}/{{model}}/{{dataset}}.json", kind="metric")]
    for name in ("cca", "equivariance", "routing"):
        table[name] = [Out(f"{ev}/{name}/{{model}}.json", kind="metric")]
    return table[kind]


def pretrain_keys(params: dict[str, Any], model: Model) -> tuple[str, ...]:
    skip = OPERATIONAL | UNUSED_BY_METHOD[model.method]
    if model.ablation:  # N comes from the command line, not from params
        skip = skip | {"num_experts"}
    return (*(f"pretrain.{k}" for k in params["pretrain"] if k not in skip), "augment")


@dataclass
class _Builder:
    params: dict[str, Any]
    results: str
    repo_root: str
    stages: list[Stage] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # group -> fingerprint path

    def outs(self, kind: str, **wildcards: str) -> tuple[Out, ...]:
        data = self.params["data"]["root"].rstrip("/")
        return tuple(
            Out(**{**o.__dict__, "path": o.path.format(**wildcards)})
            for o in layout(kind, self.results, data)
        )

    def path(self, kind: str, index: int = 0, **wildcards: str) -> str:
        return self.outs(kind, **wildcards)[index].path

    def fingerprint(self, group: str, kind: str, keys: tuple[str, ...]) -> str:
        """The fingerprint file of ``group``, adding its stage on first use."""
        if group not in self.groups:
            out = self.outs("fingerprint", group=group)
            self.groups[group] = out[0].path
            command = (*FINGERPRINT_PROGRAM, group, "--results", self.results)
            code = tuple(code_deps(kind, self.repo_root))
            self.stages.append(Stage("fingerprint", {"group": group}, command, code, out, keys, 1))
        return self.groups[group]

    def add(
        self,
        kind: str,
        wildcards: dict[str, str],
        args: list[str],
        deps: list[str],
        *,
        group: str | None = None,
        keys: tuple[str, ...] | None = None,
        threads: int | None = None,
        gpus: int = 0,
        outs: list[Out] | None = None,
    ) -> None:
        stamp = self.fingerprint(group or kind, kind, STAGE_KEYS[kind] if keys is None else keys)
        setup: tuple[str, ...] = ()
        if kind == "pretrain":
            run_dir = self.path("pretrain", 1, **wildcards).rpartition("/")[0]
            setup = (*GUARD_PROGRAM, "--run", run_dir, "--fingerprint", stamp)
        self.stages.append(
            Stage(
                kind=kind,
                wildcards=wildcards,
                command=("starssl", kind, *args),
                deps=(*deps, stamp),
                outs=tuple(outs) if outs is not None else self.outs(kind, **wildcards),
                threads=threads or THREADS.get(kind) or self.params["eval"]["threads"],
                gpus=gpus,
                setup=setup,
            )
        )

    def run_files(self, model: str) -> list[str]:
        return [self.path("pretrain", 1, model=model), self.path("pretrain", 0, model=model)]

    def model_files(self, model: str) -> list[str]:
        return [o.path for o in self.outs("export", model=model)]

    def prepared(self, dataset: str) -> str:
        return self.path("prepare", dataset=dataset)

    def files(self, kind: str, wanted: set[str] | None = None) -> list[str]:
        return [
            p
            for s in self.stages
            if s.kind == kind and (wanted is None or s.wildcards["model"] in wanted)
            for p in s.out_paths
        ]


def build_stages(
    params: dict[str, Any], results: str = "results", repo_root: str = "."
) -> list[Stage]:
    """Every stage instance, in a topological order (a stage follows all it reads)."""
    b = _Builder(params, results.rstrip("/"), repo_root)
    exp, all_models = params["experiment"], models(params)
    main = [m for m in all_models if not m.ablation]
    for ds in datasets_to_prepare(params):
        b.add("prepare", {"dataset": ds}, ["--dataset", ds, "--out", b.prepared(ds)], [])
    for m in all_models:
        args = ["--method", m.method, "--seed", str(m.seed), "--out", f"{b.results}/runs/{m.name}"]
        if m.ablation:
            args += ["--set", f"pretrain.num_experts={m.num_experts}"]
        group = f"pretrain-{m.method}" + ("-ablation" if m.ablation else "")
        deps = [b.prepared(params["pretrain"]["dataset"])]
        keys = pretrain_keys(params, m)
        b.add(
            "pretrain",
            {"model": m.name},
            args,
            deps,
            group=group,
            keys=keys,
            threads=params["pretrain"]["threads"],
            gpus=1,
        )
    for m in all_models:
        args = ["--run", f"{b.results}/runs/{m.name}", "--out", f"{b.results}/models/{m.name}"]
        b.add("export", {"model": m.name}, args, b.run_files(m.name))
    for kind, chosen in (("knn", main), ("linear", all_models), ("fewshot", main)):
        for m in chosen:
            for ds in exp[f"{kind}_datasets"]:
                out = b.path(kind, model=m.name, dataset=ds)
                args = ["--model", f"{b.results}/models/{m.name}", "--dataset", ds, "--out", out]
                deps = [*b.model_files(m.name), b.prepared(ds)]
                b.add(kind, {"model": m.name, "dataset": ds}, args, deps)
    analysis = b.prepared(exp["analysis_dataset"])
    mmoe = [m for m in main if m.method == "star_mmoe"]
    for kind, chosen in (("cca", all_models), ("equivariance", main), ("routing", mmoe)):
        for m in chosen:
            args = ["--run", f"{b.results}/runs/{m.name}", "--out", b.path(kind, model=m.name)]
            b.add(kind, {"model": m.name}, args, [*b.run_files(m.name), analysis])
    _add_reports(b, main)
    return b.stages


def _add_reports(b: _Builder, main: list[Model]) -> None:
    main_names = {m.name for m in main}
    ablation = {m.name for ms in ablation_models(b.params).values() for m in ms}
    kinds = ("linear", "fewshot", "knn", "cca", "equivariance")
    table_deps = [p for kind in kinds for p in b.files(kind)]
    figure_deps = [
        *[b.path("pretrain", 1, model=m) for m in sorted(main_names)],
        *b.files("linear", ablation),
        *b.files("cca"),
        *b.files("routing"),
    ]
    for kind, names, formats, deps in (
        ("tables", table_names(b.params), TABLE_FORMATS, table_deps),
        ("figures", figure_names(b.params), FIGURE_FORMATS, figure_deps),
    ):
        out_dir = f"{b.results}/{kind}"
        outs = [Out(f"{out_dir}/{n}.{fmt}", cache=False) for n in names for fmt in formats]
        if kind == "tables":
            outs.append(Out(f"{out_dir}/README.md", cache=False))
        args = ["--results", b.results, "--out", out_dir]
        b.add(kind, {}, args, list(dict.fromkeys(deps)), outs=outs)


def stage_index(stages: list[Stage]) -> dict[tuple[str, tuple[tuple[str, str], ...]], Stage]:
    """Look-up by ``(kind, sorted wildcards)``, as the Snakefile's rules need."""
    return {(s.kind, tuple(sorted(s.wildcards.items()))): s for s in stages}
