"""dvc.yaml: generated from the registry, committed, fresh, and loadable by DVC."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from starssl.config import load_params
from starssl.pipeline import dvcgen
from starssl.pipeline.fingerprint import fingerprint, fingerprint_stages
from starssl.pipeline.paramdeps import lookup

ROOT = Path(__file__).resolve().parents[1]


def test_committed_dvc_yaml_is_fresh():
    expected = dvcgen.render(ROOT / "params.yaml", ROOT)
    committed = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    assert committed == expected, "dvc.yaml is stale: run `python -m starssl.pipeline.dvcgen`"


def test_check_mode_reports_staleness(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    out = tmp_path / "dvc.yaml"
    args = ["--params", str(tmp_path / "params.yaml"), "--out", str(out)]
    assert dvcgen.main([*args, "--check"]) == 1  # missing
    assert dvcgen.main(args) == 0
    assert dvcgen.main([*args, "--check"]) == 0
    out.write_text(out.read_text() + "# edited\n")
    assert dvcgen.main([*args, "--check"]) == 1


@pytest.fixture(scope="module")
def stl10_dvc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stl10")
    text = (ROOT / "params.yaml").read_text().replace("profile: demo", "profile: stl10", 1)
    (folder / "params.yaml").write_text(text)
    raw = yaml.safe_load(text)
    return raw, yaml.safe_load(dvcgen.render(folder / "params.yaml", ROOT))


MISSING = object()


def test_every_listed_param_exists_in_params_yaml(stl10_dvc):
    raw, doc = stl10_dvc
    demo = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for tree, source in ((raw, doc), (yaml.safe_load((ROOT / "params.yaml").read_text()), demo)):
        for name, stage in source["stages"].items():
            for key in stage.get("params", []):
                assert lookup(tree, key, MISSING) is not MISSING, (name, key)  # null is a value


def test_one_fingerprints_stage_reads_params_and_code(stl10_dvc):
    _, doc = stl10_dvc
    with_params = [n for n, s in doc["stages"].items() if "params" in s]
    assert with_params == ["fingerprints"]
    prints = doc["stages"]["fingerprints"]
    assert "profiles.stl10.pretrain.epochs" in prints["params"]
    assert "pretrain.epochs" not in prints["params"]  # the stl10 profile replaces it
    assert "src/starssl/train.py" in prints["deps"]
    assert "results/fingerprints/linear.json" in prints["outs"]
    linear = doc["stages"]["linear-simclr_s0-cifar10"]
    assert linear["deps"][-1] == "results/fingerprints/linear.json"
    assert not any(d.startswith("src/") for d in linear["deps"])


def test_outputs_flags(stl10_dvc):
    _, doc = stl10_dvc
    pretrain = doc["stages"]["pretrain-star_mmoe-e2_s1"]
    assert {"results/runs/star_mmoe-e2_s1/checkpoint.safetensors": {"persist": True}} in pretrain[
        "outs"
    ]
    assert "results/runs/star_mmoe-e2_s1/run.json" in pretrain["outs"]
    assert pretrain["metrics"] == ["results/runs/star_mmoe-e2_s1/metrics/metrics.json"]
    assert doc["stages"]["knn-simclr_s2-stl10"]["metrics"] == [
        "results/eval/knn/simclr_s2/stl10.json"
    ]
    for name in ("tables", "figures"):
        outs = doc["stages"][name]["outs"]
        assert outs and all(list(o.values()) == [{"cache": False}] for o in outs)
    curves = doc["plots"][0]["pretraining train_loss"]["y"]
    assert "results/runs/star_mmoe-e2_s1/metrics/plots/metrics/train_loss.tsv" in curves


def test_fingerprints_change_only_for_groups_that_read_the_key(params_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the repository: no code files, parameters only
    base = load_params(params_file)
    edited = load_params(params_file, ["eval.linear.max_iter=7", "pretrain.lambda_eq=0.5"])
    before = {g: fingerprint(base, s) for g, s in fingerprint_stages(base).items()}
    after = {g: fingerprint(edited, s) for g, s in fingerprint_stages(edited).items()}
    changed = sorted(g for g in before if before[g] != after[g])
    assert changed == [
        "linear",
        "pretrain-equimod",
        "pretrain-star_mmoe",
        "pretrain-star_mmoe-ablation",
        "pretrain-star_ss",
    ]
