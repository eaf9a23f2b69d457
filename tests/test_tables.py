"""Result tables from synthetic JSON: values, ranks, mean ± std, paper rows, byte stability."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata

from starssl.config import load_params
from starssl.errors import StarsslError
from starssl.pipeline.results import Results, average_ranks
from starssl.pipeline.tables import write_tables

SMALL = [
    "experiment.methods=[simclr, equimod, star_mmoe]",
    "experiment.seeds=[0, 1, 2]",
    "experiment.linear_datasets=[cifar10, fashion_mnist]",
    "experiment.fewshot_datasets=[fashion_mnist]",
    "experiment.knn_datasets=[cifar10]",
    "experiment.experts_ablation=[2, 4]",
]


def _write(path: str, obj: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj))


def synthesize(params: dict, results: str, seed: int = 0) -> dict:
    """Write every evaluation JSON the tables read; return the numbers written."""
    res, rng = Results(params, results), np.random.default_rng(seed)
    exp, truth = params["experiment"], {}
    for m in res.models:
        meta = {"model": m.name, "method": m.method, "seed": m.seed, "num_experts": m.num_experts}
        for d in exp["linear_datasets"]:
            acc = float(rng.uniform(0.3, 0.9))
            truth["linear", m.name, d] = acc
            _write(res.path("linear", m.name, d), {**meta, "dataset": d, "test_accuracy": acc})
        corr = sorted(rng.uniform(0, 1, 6).tolist(), reverse=True)
        defined = m.method != "simclr"
        truth["cca", m.name] = float(np.mean(corr))
        cca = {"defined": True, "correlations": corr, "mean": float(np.mean(corr))}
        _write(res.path("cca", m.name), {**meta, **(cca if defined else {"defined": False})})
        if m.ablation:
            continue
        for d in exp["knn_datasets"]:
            truth["knn", m.name, d] = acc = float(rng.uniform(0.3, 0.9))
            _write(res.path("knn", m.name, d), {**meta, "dataset": d, "k": 20, "accuracy": acc})
        for d in exp["fewshot_datasets"]:
            shots = {str(k): {"mean": float(rng.uniform(0.4, 0.9)), "ci95": 0.01} for k in (1, 5)}
            truth["fewshot", m.name, d] = shots
            _write(res.path("fewshot", m.name, d), {**meta, "dataset": d, "shots": shots})
        scores = {"r_equiv": float(rng.uniform()), "p_equiv": float(rng.uniform())}
        own = scores if m.method != "simclr" else None
        _write(res.path("equivariance", m.name), {**meta, "own": own, "posthoc": scores})
    return truth


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {row[next(iter(row))]: row for row in rows}


@pytest.fixture
def small(params_file, tmp_path):
    params = load_params(params_file, SMALL)
    results = str(tmp_path / "results")
    return params, results, synthesize(params, results)


def test_table1_values_ranks_and_means_match_numpy(small, tmp_path):
    params, results, truth = small
    assert write_tables(params, results, tmp_path / "out") == []
    rows = read_csv(tmp_path / "out" / "table1_linear.csv")
    methods, datasets = params["experiment"]["methods"], ["cifar10", "fashion_mnist"]
    acc = np.array(
        [[[truth["linear", f"{m}_s{s}", d] for d in datasets] for s in (0, 1, 2)] for m in methods]
    )  # [method, seed, dataset]
    means = acc.mean(axis=1) * 100
    ranks = np.mean([rankdata(-means[:, j], method="average") for j in range(2)], axis=0)
    for i, method in enumerate(methods):
        row = rows[method]
        for j, d in enumerate(datasets):
            assert float(row[d]) == pytest.approx(means[i, j], abs=6e-5)
            assert float(row[f"{d}_std"]) == pytest.approx(acc[i, :, j].std(ddof=1) * 100, abs=6e-5)
        per_seed = acc[i].mean(axis=1) * 100
        assert float(row["mean"]) == pytest.approx(per_seed.mean(), abs=6e-5)
        assert float(row["mean_std"]) == pytest.approx(per_seed.std(ddof=1), abs=6e-5)
        assert float(row["avg. rank"]) == pytest.approx(ranks[i], abs=6e-5)
        assert row["source"] == "project"
    markdown = (tmp_path / "out" / "table1_linear.md").read_text()
    assert f"| simclr | {means[0, 0]:.2f} ± {acc[0, :, 0].std(ddof=1) * 100:.2f} |" in markdown
    assert "paper" not in markdown  # demo profile: never the paper's numbers


def test_average_ranks_share_ties_like_scipy():
    scores = {"a": [0.5, 0.9, 0.1], "b": [0.5, 0.3, 0.2], "c": [0.7, 0.3, 0.3]}
    expected = np.mean(
        [rankdata([-scores[r][j] for r in "abc"], method="average") for j in range(3)], axis=0
    )
    assert list(average_ranks(scores).values()) == pytest.approx(expected.tolist())
    assert average_ranks({"a": [0.5, None], "b": [0.4, 0.3]}) == {"a": None, "b": 1.5}


def test_other_tables(small, tmp_path):
    params, results, truth = small
    write_tables(params, results, tmp_path / "out")
    out = tmp_path / "out"
    fewshot = read_csv(out / "table4_fewshot.csv")["equimod"]
    values = [truth["fewshot", f"equimod_s{s}", "fashion_mnist"]["5"]["mean"] for s in (0, 1, 2)]
    assert float(fewshot["fashion_mnist 5-shot"]) == pytest.approx(np.mean(values) * 100, abs=6e-5)
    assert float(fewshot["fashion_mnist 5-shot_ci95"]) == pytest.approx(1.0)
    cca_md = (out / "cca.md").read_text()
    assert "| simclr | n/d | n/d |" in cca_md
    cca = [truth["cca", f"star_mmoe_s{s}"] for s in (0, 1, 2)]
    assert float(read_csv(out / "cca.csv")["star_mmoe"]["mean CCA"]) == pytest.approx(
        np.mean(cca), abs=6e-6
    )
    assert "| simclr | n/d | n/d |" in (out / "equivariance.md").read_text()
    ablation = read_csv(out / "experts_ablation.csv")
    assert list(ablation) == ["N = 2", "N = 4"]  # N = 4 is the main star_mmoe run
    lin = [np.mean([truth["linear", f"star_mmoe_s{s}", d] for d in ("cifar10", "fashion_mnist")])
           for s in (0, 1, 2)]  # fmt: skip
    assert float(ablation["N = 4"]["mean linear acc."]) == pytest.approx(
        np.mean(lin) * 100, abs=6e-5
    )
    knn = [truth["knn", f"simclr_s{s}", "cifar10"] for s in (0, 1, 2)]
    assert float(read_csv(out / "knn.csv")["simclr"]["cifar10"]) == pytest.approx(
        np.mean(knn) * 100, abs=6e-5
    )
    index = (out / "README.md").read_text()
    assert index.count("\n## ") == 6 and "star\\_mmoe" in (out / "cca.tex").read_text()


def test_one_seed_has_no_std(params_file, tmp_path):
    params = load_params(params_file, [*SMALL, "experiment.seeds=[0]"])
    results = str(tmp_path / "results")
    truth = synthesize(params, results)
    write_tables(params, results, tmp_path / "out")
    row = read_csv(tmp_path / "out" / "table1_linear.csv")["equimod"]
    assert row["cifar10_std"] == "" and row["mean_std"] == ""
    md = (tmp_path / "out" / "table1_linear.md").read_text()
    assert f"| equimod | {truth['linear', 'equimod_s0', 'cifar10'] * 100:.2f} |" in md


def test_tables_are_byte_identical_on_regeneration(small, tmp_path):
    params, results, _ = small
    write_tables(params, results, tmp_path / "a")
    write_tables(params, results, tmp_path / "b")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 6 * 3 + 1
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_missing_results_are_named(small, tmp_path):
    params, results, _ = small
    gone = Results(params, results).path("linear", "equimod_s1", "fashion_mnist")
    Path(gone).unlink()
    assert write_tables(params, results, tmp_path / "out") == [gone]
    md = (tmp_path / "out" / "table1_linear.md").read_text()
    assert "| equimod | " in md and "n/a" in md and f"result file missing: {gone}" in md
    with pytest.raises(StarsslError, match=r"fashion_mnist\.json: result file missing"):
        write_tables(params, results, tmp_path / "strict", strict=True)


@pytest.mark.parametrize(("extra", "shown"), [([], True), (["pretrain.epochs=10"], False)])
def test_paper_rows_only_for_the_paper_recipe(params_file, tmp_path, extra, shown):
    overrides = [
        "profile=stl10",
        "experiment.methods=[simclr, star_mmoe]",
        "experiment.seeds=[0]",
        "experiment.linear_datasets=[cifar10]",
        "experiment.fewshot_datasets=[]",
        "experiment.experts_ablation=[16]",
        *extra,
    ]
    params = load_params(params_file, overrides)
    results = str(tmp_path / "results")
    synthesize(params, results)
    write_tables(params, results, tmp_path / "out")
    rows = read_csv(tmp_path / "out" / "table1_linear.csv")
    paper = {k: v for k, v in rows.items() if v["source"] == "paper"}
    if not shown:
        assert not paper
        return
    assert list(paper) == ["paper (reported): simclr", "paper (reported): star_mmoe"]
    assert paper["paper (reported): star_mmoe"]["mean"] == "53.0700"
    assert paper["paper (reported): simclr"]["cifar10"] == ""  # not recovered
    md = (tmp_path / "out" / "table1_linear.md").read_text()
    assert "| *paper (reported): simclr* | – | 45.55 | 5.73 |" in md
    ablation = read_csv(tmp_path / "out" / "experts_ablation.csv")
    assert ablation["paper (reported), ≈ from a figure: N = 8"]["mean CCA"] == "0.35000"


def test_tables_command_warns_about_missing_files(small, tmp_path, capsys):
    from starssl.commands import tables as command

    params, results, _ = small
    gone = Results(params, results).path("knn", "simclr_s0", "cifar10")
    Path(gone).unlink()
    args = argparse.Namespace(results=results, out=str(tmp_path / "cmd"), strict=False)
    assert command.run(args, params) == 0
    assert f"1 result file(s) missing, shown as n/a (first: {gone})" in capsys.readouterr().err
    assert (tmp_path / "cmd" / "knn.md").is_file()
