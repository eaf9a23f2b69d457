"""The stage registry: expansion counts, ablation variants, commands, parameter and code deps."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import yaml

from starssl.config import load_params, resolve_profile
from starssl.pipeline import codedeps
from starssl.pipeline.paramdeps import dvc_param_keys, lookup
from starssl.pipeline.stages import build_stages


def expected_counts(params):
    """Counts from the experiment's definition, written out independently of the registry."""
    exp, n_main = params["experiment"], params["pretrain"]["num_experts"]
    main = len(exp["methods"]) * len(exp["seeds"])
    extra_n = [n for n in exp["experts_ablation"] if n != n_main]
    ablation = len(extra_n) * len(exp["seeds"]) if "star_mmoe" in exp["methods"] else 0
    datasets = {
        params["pretrain"]["dataset"],
        exp["analysis_dataset"],
        *exp["knn_datasets"],
        *exp["linear_datasets"],
        *exp["fewshot_datasets"],
    }
    mmoe_runs = len(exp["seeds"]) if "star_mmoe" in exp["methods"] else 0
    return {
        "prepare": len(datasets),
        "pretrain": main + ablation,
        "export": main + ablation,
        "knn": main * len(exp["knn_datasets"]),
        "linear": (main + ablation) * len(exp["linear_datasets"]),
        "fewshot": main * len(exp["fewshot_datasets"]),
        "cca": main + ablation,
        "equivariance": main,
        "routing": mmoe_runs,
        "tables": 1,
        "figures": 1,
    }


@pytest.mark.parametrize(
    ("profile", "pretrain_runs", "linear_stages"), [("demo", 6, 12), ("stl10", 21, 231)]
)
def test_counts_per_stage(params_file, profile, pretrain_runs, linear_stages):
    params = load_params(params_file, [f"profile={profile}"])
    counts = Counter(s.kind for s in build_stages(params) if s.kind != "fingerprint")
    assert counts == expected_counts(params)
    # The hand-checked numbers: demo 4 methods + N in {2, 8}; stl10 12 main + 3 N x 3 seeds.
    assert counts["pretrain"] == pretrain_runs
    assert counts["linear"] == linear_stages


def test_ablation_variants_reuse_the_main_run(params_file):
    stages = build_stages(load_params(params_file))  # demo: num_experts 4, ablation [2, 4, 8]
    pretrain = {s.wildcards["model"]: s.command for s in stages if s.kind == "pretrain"}
    assert "star_mmoe-e4_s0" not in pretrain
    assert pretrain["star_mmoe-e2_s0"][-2:] == ("--set", "pretrain.num_experts=2")
    assert "--set" not in pretrain["star_mmoe_s0"]
    assert pretrain["simclr_s0"] == (
        *("starssl", "pretrain", "--method", "simclr", "--seed", "0"),
        *("--out", "results/runs/simclr_s0"),
    )


def test_routing_only_for_star_mmoe_and_no_ablation_without_it(params_file):
    stages = build_stages(load_params(params_file))
    assert [s.wildcards["model"] for s in stages if s.kind == "routing"] == ["star_mmoe_s0"]
    plain = build_stages(load_params(params_file, ["experiment.methods=[simclr, equimod]"]))
    kinds = Counter(s.kind for s in plain)
    assert kinds["routing"] == 0 and kinds["pretrain"] == 2
    figures = next(s for s in plain if s.kind == "figures")
    assert not any("routing" in p or "experts" in p for p in figures.out_paths)


def test_commands_follow_the_documented_cli(params_file):
    stages = {s.name: s for s in build_stages(load_params(params_file))}
    assert stages["linear-simclr_s0-cifar10"].command == (
        *("starssl", "linear", "--model", "results/models/simclr_s0", "--dataset", "cifar10"),
        *("--out", "results/eval/linear/simclr_s0/cifar10.json"),
    )
    assert stages["cca-equimod_s0"].command == (
        *("starssl", "cca", "--run", "results/runs/equimod_s0"),
        *("--out", "results/eval/cca/equimod_s0.json"),
    )
    assert stages["prepare-fashion_mnist"].command[-2:] == (
        "--out",
        "data/prepared/fashion_mnist.json",
    )


def test_topological_order_and_single_producer(params_file):
    stages = build_stages(load_params(params_file, ["profile=stl10"]))
    producer: dict[str, str] = {}
    for stage in stages:
        for dep in stage.deps:
            if dep.startswith(("results/", "data/")):
                assert dep in producer, f"{stage.name} reads {dep} before anything writes it"
        for out in stage.out_paths:
            assert out not in producer, f"{out} written by {producer[out]} and {stage.name}"
            producer[out] = stage.name


def test_every_stage_depends_on_its_group_fingerprint(params_file):
    stages = build_stages(load_params(params_file))
    prints = {s.wildcards["group"]: s for s in stages if s.kind == "fingerprint"}
    for stage in stages:
        if stage.kind == "fingerprint":
            continue
        stamps = [d for d in stage.deps if "/fingerprints/" in d]
        assert len(stamps) == 1, stage.name
    groups = {"pretrain-simclr", "pretrain-star_mmoe", "pretrain-star_mmoe-ablation", "linear"}
    assert groups <= set(prints)
    assert "pretrain.num_experts" not in prints["pretrain-simclr"].params
    assert "pretrain.lambda_eq" not in prints["pretrain-simclr"].params
    assert "pretrain.num_experts" in prints["pretrain-star_mmoe"].params
    assert "pretrain.num_experts" not in prints["pretrain-star_mmoe-ablation"].params
    assert "pretrain.checkpoint_every_steps" not in prints["pretrain-star_mmoe"].params
    # The thread count changes float sums on CPU, hence the bytes: it is a real key.
    assert "pretrain.threads" in prints["pretrain-star_mmoe"].params
    linear_keys = {"eval.threads", "eval.batch_size", "eval.max_images", "eval.linear"}
    assert set(prints["linear"].params) == linear_keys


def _leaves(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _perturbed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, list):
        return [*value, value[-1] if value else 1]
    if value is None:
        return 7
    return f"{value}x"


@pytest.mark.parametrize("profile", ["demo", "stl10"])
def test_dvc_param_keys_cover_exactly_what_changes_a_resolved_key(params_file, profile):
    """Oracle: perturb every leaf of params.yaml and see which resolved keys move."""
    raw = yaml.safe_load(params_file.read_text())
    raw["profile"] = profile
    base = resolve_profile(raw, profile)
    keys = ["pretrain.epochs", "pretrain.lr", "augment", "pretrain.knn_monitor.k", "eval.linear"]
    for key in keys:
        listed = dvc_param_keys(raw, [key])
        for path, value in _leaves({k: v for k, v in raw.items() if k != "profile"}):
            changed = copy.deepcopy(raw)
            node = changed
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = _perturbed(value)
            moves = lookup(resolve_profile(changed, profile), key) != lookup(base, key)
            dotted = ".".join(path)
            covered = any(dotted == k or dotted.startswith(f"{k}.") for k in listed)
            assert moves == covered, (profile, key, dotted, listed)
        switching = any(
            lookup(resolve_profile(raw, p), key) != lookup(base, key)
            for p in ["demo", *raw["profiles"]]
        )
        if switching:  # choosing another profile moves the value: `profile` is a dependency
            assert "profile" in listed, (key, listed)


def test_import_closure_follows_relative_and_lazy_imports(tmp_path):
    pkg = tmp_path / "starssl_fake_pkg"
    (pkg / "sub").mkdir(parents=True)
    source = "from . import a\nfrom ..io import b\n\ndef f():\n    import starssl.x.y\n"
    (pkg / "sub" / "mod.py").write_text(source)
    names = codedeps._imported_names(pkg / "sub" / "mod.py", "starssl.eval.mod")
    assert names == {
        "starssl.eval",
        "starssl.eval.a",
        "starssl.io",
        "starssl.io.b",
        "starssl.x.y",
    }


def test_import_scan_matches_a_full_parse_on_every_module():
    """The fast text scan finds exactly what walking each module's syntax tree finds."""
    root = codedeps.package_dir()
    files = sorted(root.rglob("*.py"))
    assert len(files) > 40
    for file in files:
        rel = file.relative_to(root.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        fast = codedeps._imported_names(file, module)
        assert fast == codedeps._imported_names(file, module, full_parse=True), file


def test_import_scan_falls_back_on_backslash_continuations(tmp_path):
    (tmp_path / "m.py").write_text("from starssl import io, \\\n    train\n")
    assert codedeps._imported_names(tmp_path / "m.py", "starssl.m") == {
        "starssl",
        "starssl.io",
        "starssl.train",
    }


def test_code_deps_are_tight(tmp_path):
    pretrain = set(codedeps.code_deps("pretrain", codedeps.package_dir().parents[1]))
    tables = set(codedeps.code_deps("tables", codedeps.package_dir().parents[1]))
    assert {"src/starssl/train.py", "src/starssl/losses.py"} <= pretrain
    assert "src/starssl/commands/pretrain.py" in pretrain
    assert not {"src/starssl/cli.py", "src/starssl/errors.py", "src/starssl/__init__.py"} & pretrain
    assert "src/starssl/pipeline/paper_results.yaml" in tables
    assert not any(p.startswith("src/starssl/pipeline/") for p in pretrain)
    assert "src/starssl/train.py" not in tables
    # Outside the repository (an installed package) there is no code to track.
    assert codedeps.code_deps("tables", tmp_path) == []


def test_stage_names_are_unique_and_dvc_safe(params_file):
    for profile in ("demo", "stl10", "imagenet100"):
        names = [s.name for s in build_stages(load_params(params_file, [f"profile={profile}"]))]
        assert len(names) == len(set(names))
        assert not [n for n in names if set(n) & set(",#:@/ ")]


def test_layout_matches_the_writers_file_names(params_file):
    from starssl import export, train
    from starssl.pipeline import guard

    stages = {s.name: s for s in build_stages(load_params(params_file))}
    pretrain = stages["pretrain-equimod_s0"].out_paths
    assert pretrain[:2] == [
        f"results/runs/equimod_s0/{train.CHECKPOINT}",
        f"results/runs/equimod_s0/{train.RUN_SUMMARY}",
    ]
    assert guard.CHECKPOINT == train.CHECKPOINT
    assert stages["export-equimod_s0"].out_paths == [
        f"results/models/equimod_s0/{export.WEIGHTS}",
        f"results/models/equimod_s0/{export.CARD}",
    ]


def test_guard_drops_a_checkpoint_only_when_the_fingerprint_changed(tmp_path):
    from starssl.pipeline.guard import guard

    run, stamp = tmp_path / "run", tmp_path / "stamp.json"
    run.mkdir()
    checkpoint = run / "checkpoint.safetensors"
    checkpoint.write_bytes(b"state")
    stamp.write_text('{"params": 1}')
    assert guard(run, stamp) is False and checkpoint.exists()  # unknown origin: kept
    assert guard(run, stamp) is False and checkpoint.exists()  # same fingerprint: resume
    stamp.write_text('{"params": 2}')
    assert guard(run, stamp) is True and not checkpoint.exists()
    checkpoint.write_bytes(b"new state")
    assert guard(run, stamp) is False and checkpoint.exists()
