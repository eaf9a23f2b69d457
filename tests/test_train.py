"""Pretraining loop: byte-identical reruns, exact resume after a crash, refusal to mix params."""

from __future__ import annotations

import json
import math

import pytest
import torch

from starssl import train
from starssl.checkpoint import read_checkpoint
from starssl.errors import CheckpointError, ConfigError
from train_fixtures import tiny_params, use_synthetic_data


@pytest.fixture(autouse=True)
def synthetic(monkeypatch):
    use_synthetic_data(monkeypatch)


def _ckpt_bytes(run_dir):
    return (run_dir / train.CHECKPOINT).read_bytes()


@pytest.mark.parametrize("method", ["simclr", "equimod", "star_ss", "star_mmoe"])
def test_every_method_trains_and_records_history(tmp_path, method):
    summary = train.pretrain(tiny_params("pretrain.epochs=1"), method, 0, tmp_path, progress=False)
    assert (tmp_path / train.RUN_SUMMARY).is_file()
    epochs = [h["epoch"] for h in summary["history"]]
    assert epochs == [0, 1]  # epoch 0 = kNN of the random initialisation
    last = summary["history"][-1]
    assert math.isfinite(last["train_loss"]) and 0.0 <= last["knn_top1"] <= 1.0
    assert ("train_loss_eq" in last) == (method != "simclr")
    metrics = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    assert metrics["train_loss"] == pytest.approx(last["train_loss"])


def test_same_config_and_seed_give_identical_checkpoints(tmp_path):
    params = tiny_params()
    for name in ("a", "b"):
        train.pretrain(params, "star_mmoe", 3, tmp_path / name, progress=False)
    train.pretrain(params, "star_mmoe", 4, tmp_path / "other_seed", progress=False)
    assert _ckpt_bytes(tmp_path / "a") == _ckpt_bytes(tmp_path / "b")
    assert _ckpt_bytes(tmp_path / "a") != _ckpt_bytes(tmp_path / "other_seed")


def test_crash_mid_epoch_then_resume_ends_byte_identical(tmp_path, monkeypatch):
    params = tiny_params("pretrain.checkpoint_every_steps=1")
    train.pretrain(params, "star_mmoe", 0, tmp_path / "whole", progress=False)

    real_step = train.Pretrainer.train_step
    calls = {"n": 0}

    def crashing_step(self, order):
        calls["n"] += 1
        if calls["n"] == 6:  # steps_per_epoch is 4: this is step 2 of epoch 2
            raise RuntimeError("simulated crash")
        return real_step(self, order)

    monkeypatch.setattr(train.Pretrainer, "train_step", crashing_step)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train.pretrain(params, "star_mmoe", 0, tmp_path / "crashed", progress=False)
    assert not (tmp_path / "crashed" / train.RUN_SUMMARY).exists()  # nothing looks finished
    _, meta = read_checkpoint(tmp_path / "crashed" / train.CHECKPOINT)
    assert (meta["epoch"], meta["step"]) == (1, 1)  # last checkpoint: after step 1 of epoch 2

    monkeypatch.setattr(train.Pretrainer, "train_step", real_step)
    train.pretrain(params, "star_mmoe", 0, tmp_path / "crashed", progress=False)
    assert _ckpt_bytes(tmp_path / "crashed") == _ckpt_bytes(tmp_path / "whole")
    whole = json.loads((tmp_path / "whole" / train.RUN_SUMMARY).read_text())
    resumed = json.loads((tmp_path / "crashed" / train.RUN_SUMMARY).read_text())
    assert resumed["history"] == whole["history"]


def test_resume_refuses_a_checkpoint_made_with_other_params(tmp_path, monkeypatch):
    params = tiny_params()
    monkeypatch.setattr(train.Pretrainer, "run_epoch", _crash_after_first_save)
    with pytest.raises(RuntimeError):
        train.pretrain(params, "equimod", 0, tmp_path, progress=False)
    changed = tiny_params("pretrain.lr=0.5")
    with pytest.raises(CheckpointError, match="params_hash"):
        train.pretrain(changed, "equimod", 0, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="method"):
        train.pretrain(params, "star_ss", 0, tmp_path, progress=False)


def _crash_after_first_save(self, log, progress):
    self.save()
    raise RuntimeError("stop")


def test_finished_run_is_not_retrained(tmp_path, monkeypatch):
    params = tiny_params("pretrain.epochs=1")
    first = train.pretrain(params, "simclr", 0, tmp_path, progress=False)
    monkeypatch.setattr(train, "Pretrainer", None)  # any attempt to train would fail
    assert train.pretrain(params, "simclr", 0, tmp_path, progress=False) == first


def test_batch_larger_than_dataset_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"pretrain\.batch_size"):
        train.pretrain(tiny_params("pretrain.batch_size=128"), "simclr", 0, tmp_path)


def test_derived_generators_differ_by_key_and_repeat_by_value():
    a = torch.rand(4, generator=train.derived_generator(1, 2, 3))
    b = torch.rand(4, generator=train.derived_generator(1, 2, 3))
    c = torch.rand(4, generator=train.derived_generator(1, 3, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_checkpoint_bytes_do_not_depend_on_the_data_location(tmp_path):
    for name, root in (("a", "data_here"), ("b", "/elsewhere/data")):
        params = tiny_params("pretrain.epochs=1", f"data.root={root}", f"data.mirror={root}/m")
        train.pretrain(params, "simclr", 0, tmp_path / name, progress=False)
    assert _ckpt_bytes(tmp_path / "a") == _ckpt_bytes(tmp_path / "b")
