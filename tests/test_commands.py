"""The stage commands end to end on a tiny pretrained model and synthetic images:
export round trip, the weights' hash check, and evaluation JSONs that are identical bytes on a
rerun (no wall-clock times or other run-dependent fields in a result)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from starssl import cli, train
from starssl.commands import _analysis, _evaluate
from starssl.data.loaders import LabeledImages
from starssl.errors import CheckpointError
from starssl.export import export_backbone, load_backbone, load_trained_method
from train_fixtures import TINY, tiny_params, use_synthetic_data

CLASSES = 5


def synthetic_split(name, split, cfg, image_size):
    seed = {"train": 1, "val": 2, "test": 3, "fewshot": 4}[split]
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(80) % CLASSES
    # Class-dependent brightness, so the probes have something to find.
    base = (labels * 40).view(-1, 1, 1, 1).expand(-1, 3, 16, 16)
    noise = torch.randint(0, 40, (80, 3, 16, 16), generator=g)
    images = (base + noise).clamp(0, 255).to(torch.uint8)
    names = [str(c) for c in range(CLASSES)]
    return LabeledImages(images, labels, CLASSES, names, "top1", name, split)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        use_synthetic_data(mp)
        train.pretrain(tiny_params(), "star_mmoe", 0, root / "run", progress=False)
    export_backbone(root / "run", root / "model")
    return root


@pytest.fixture
def synthetic_data(monkeypatch):
    monkeypatch.setattr(_evaluate, "load_split", synthetic_split)
    monkeypatch.setattr(_analysis, "load_split", synthetic_split)


def test_export_keeps_the_trained_backbone(trained):
    method, _ = load_trained_method(trained / "run")
    backbone, card = load_backbone(trained / "model")
    x = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(backbone(x), method.backbone(x), rtol=0, atol=0)
    assert (card["method"], card["seed"], card["num_experts"]) == ("star_mmoe", 0, 3)
    assert "cpu" in card["environment"]


def test_tampered_weights_are_refused(trained, tmp_path):
    export_backbone(trained / "run", tmp_path / "model")
    weights = tmp_path / "model" / "backbone.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_backbone(tmp_path / "model")


QUICK = [
    *TINY,
    "eval.max_images=null",
    "eval.linear.num_wd=4",
    "eval.linear.max_iter=50",
    "eval.fewshot.shots=[1]",
    "eval.fewshot.episodes=5",
    "eval.fewshot.queries=8",
    "eval.cca.samples=64",
    "eval.equivariance.samples=32",
    "eval.equivariance.posthoc_steps=3",
]
COMMANDS = {
    "linear": ("--model", "model", "--dataset", "cifar10"),
    "knn": ("--model", "model", "--dataset", "cifar10"),
    "fewshot": ("--model", "model", "--dataset", "fashion_mnist"),
    "cca": ("--run", "run"),
    "equivariance": ("--run", "run"),
    "routing": ("--run", "run"),
}


@pytest.mark.parametrize("stage", sorted(COMMANDS))
def test_evaluation_rerun_gives_identical_bytes(stage, trained, tmp_path, synthetic_data):
    flag, where, *rest = COMMANDS[stage]
    outs = [tmp_path / f"{i}.json" for i in range(2)]
    for out in outs:
        argv = [stage, flag, str(trained / where), *rest, "--out", str(out)]
        assert cli.main([*argv, *(a for o in QUICK for a in ("--set", o))]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    record = json.loads(outs[0].read_text())
    assert record["protocol"] == stage
    assert not any("time" in key for key in record)  # timings go to the log, not the result


def test_synthetic_split_is_well_formed():
    split = synthetic_split("x", "train", None, 16)
    assert dataclasses.asdict(split)["num_classes"] == CLASSES
    assert split.images.dtype == torch.uint8 and len(split) == 80
