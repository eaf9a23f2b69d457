"""params.yaml loading: profiles, overrides, and one-line errors naming the key."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from starssl.config import load_params, params_hash, schema
from starssl.errors import ConfigError


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"].endswith("2020-12/schema")


def test_default_is_demo_profile(params_file, monkeypatch):
    monkeypatch.delenv("STARSSL_DATA_MIRROR", raising=False)
    params = load_params(params_file)
    assert params["profile"] == "demo"
    assert params["pretrain"]["backbone"] == "resnet18_narrow"
    assert "profiles" not in params


@pytest.mark.parametrize(
    ("profile", "dataset", "backbone", "experts"),
    [("stl10", "stl10", "resnet18", 16), ("imagenet100", "imagenet100", "resnet50", 8)],
)
def test_paper_profiles_follow_section_6(params_file, profile, dataset, backbone, experts):
    params = load_params(params_file, [f"profile={profile}"])
    p = params["pretrain"]
    assert (p["dataset"], p["backbone"], p["num_experts"]) == (dataset, backbone, experts)
    # Keys the profile does not list come from the base sections.
    assert p["lr"] == 0.03 and p["momentum"] == 0.9 and p["weight_decay"] == 5e-4


def test_set_overrides_parse_yaml_values(params_file):
    params = load_params(
        params_file,
        [
            "pretrain.epochs=7",
            "eval.fewshot.shots=[1, 10]",
            "pretrain.subset=null",
            "pretrain.amp=false",
        ],
    )
    assert params["pretrain"]["epochs"] == 7
    assert params["eval"]["fewshot"]["shots"] == [1, 10]
    assert params["pretrain"]["subset"] is None
    assert params["pretrain"]["amp"] is False


def test_mirror_env_overrides_data_mirror(params_file, monkeypatch):
    monkeypatch.setenv("STARSSL_DATA_MIRROR", "/somewhere/mirror")
    assert load_params(params_file)["data"]["mirror"] == "/somewhere/mirror"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("pretrain.epochs=0", "pretrain.epochs = 0"),
        ("pretrain.backbone=vgg11", "choose one of: resnet18, resnet50, resnet18_narrow"),
        ("pretrain.epoch=3", "did you mean pretrain.epochs"),
        ("pretrain.lr=fast", "pretrain.lr = 'fast'"),
        ("augment.blur_kernel=4", "odd kernel size"),
        ("augment.flip_p=1.5", "augment.flip_p = 1.5"),
        ("profile=cifar100", "choose one of: demo, imagenet100, stl10"),
        ("experiment.methods=[simclr, byol]", "experiment.methods.1"),
        ("noequals", "expected key=value"),
    ],
)
def test_bad_values_give_one_line_naming_the_key(params_file, override, fragment):
    with pytest.raises(ConfigError) as info:
        load_params(params_file, [override])
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_unknown_key_in_file_is_rejected(tmp_path, params_file):
    raw = yaml.safe_load(params_file.read_text())
    raw["pretrain"]["learning_rate"] = 0.1
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"unknown key pretrain\.learning_rate"):
        load_params(bad)


def test_broken_unused_profile_is_caught(tmp_path, params_file):
    raw = yaml.safe_load(params_file.read_text())
    raw["profiles"]["stl10"]["pretrain"]["epochs"] = "many"
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"profile stl10.*pretrain\.epochs"):
        load_params(bad)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_params(tmp_path / "nope.yaml")


def test_params_hash_is_order_independent():
    assert params_hash({"a": 1, "b": [1, 2]}) == params_hash({"b": [1, 2], "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})
