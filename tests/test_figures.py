"""Figures render from synthetic results, byte-identical on regeneration, without timestamps."""

from __future__ import annotations

from pathlib import Path

import pytest

from starssl.config import load_params
from starssl.io import write_json
from starssl.pipeline import fake
from starssl.pipeline.experiment import figure_names
from starssl.pipeline.figures import write_figures
from starssl.pipeline.stages import build_stages

EVALS = ("linear", "cca", "routing", "knn", "fewshot", "equivariance")


def synthesize(params: dict, results: str) -> None:
    """Contract-shaped run.json histories and evaluation JSONs (starssl.pipeline.fake)."""
    for stage in build_stages(params, results):
        model = stage.wildcards.get("model")
        if stage.kind == "pretrain":
            run = Path(stage.out_paths[1]).parent
            fake.pretrain(run, fake.model_info(model, params), params)
        elif stage.kind in EVALS:
            info = fake.model_info(model, params)
            data = fake.evaluation(stage.kind, info, stage.wildcards.get("dataset"), params)
            write_json(stage.out_paths[0], data)


@pytest.fixture(scope="module")
def params():
    return load_params(
        Path(__file__).resolve().parents[1] / "params.yaml", ["experiment.seeds=[0, 1]"]
    )


@pytest.fixture(scope="module")
def rendered(params, tmp_path_factory):
    """The figures of one synthetic experiment, rendered twice into separate folders."""
    tmp = tmp_path_factory.mktemp("figures")
    results = str(tmp / "results")
    synthesize(params, results)
    outs = []
    for name in ("a", "b"):
        assert write_figures(params, results, tmp / name) == []
        outs.append({p.name: p.read_bytes() for p in sorted((tmp / name).iterdir())})
    return outs


def test_figures_are_byte_identical_and_carry_no_timestamps(params, rendered):
    first, second = rendered
    expected = {f"{n}.{fmt}" for n in figure_names(params) for fmt in ("png", "pdf")}
    assert set(first) == expected == {
        "cca_spectra.png", "cca_spectra.pdf", "experts_ablation.png", "experts_ablation.pdf",
        "pretraining_curves.png", "pretraining_curves.pdf", "routing.png", "routing.pdf",
    }  # fmt: skip
    assert first == second
    for name, data in first.items():
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in data
        else:
            assert data.startswith(b"%PDF") and b"/CreationDate" not in data
            assert b"/Producer (starssl)" in data


def test_missing_results_still_render(params, rendered, tmp_path):
    missing = write_figures(params, str(tmp_path / "nothing"), tmp_path / "out")
    # 2 seeds: run.json of 4 methods, cca of 6 models, routing of star_mmoe, linear of the
    # 3 ablation models on 2 datasets: each missing file named once.
    assert len(missing) == len(set(missing)) == 2 * (4 + 6 + 1 + 3 * 2)
    assert len(list((tmp_path / "out").iterdir())) == 8
    # Empty panels differ from drawn ones: the byte comparison above can fail.
    assert (tmp_path / "out" / "routing.png").read_bytes() != rendered[0]["routing.png"]
