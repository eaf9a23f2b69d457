"""Pickle-free checkpoints: exact round trip of model, optimiser, scheduler and RNG state."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from starssl.checkpoint import read_checkpoint, restore_training_state, save_checkpoint
from starssl.errors import CheckpointError


def _setup(seed: int):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    return model, opt, sched


def _train_step(model, opt, seed):
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(seed))
    loss = model(x).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_round_trip_continues_identically(tmp_path):
    model, opt, sched = _setup(0)
    _train_step(model, opt, 1)
    sched.step()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, sched, {"epoch": 1, "note": "x"})

    model2, opt2, sched2 = _setup(99)  # different init: everything must come from the file
    tensors, meta = read_checkpoint(tmp_path / "c.safetensors")
    restore_training_state(tensors, meta, model2, opt2, sched2)
    assert meta["epoch"] == 1 and meta["note"] == "x"
    assert sched2.get_last_lr() == sched.get_last_lr()

    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        _train_step(m, o, 2)
        s.step()
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_same_state_gives_same_bytes(tmp_path):
    model, opt, sched = _setup(0)
    _train_step(model, opt, 1)
    for name in ("a", "b"):
        save_checkpoint(tmp_path / name, model, opt, sched, {"epoch": 1, "z": 1, "a": [1, 2]})
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_corrupt_or_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable starssl checkpoint"):
        read_checkpoint(bad)


def test_pickled_file_is_never_unpickled(tmp_path):
    evil = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, evil)  # a pickle archive, not safetensors
    with pytest.raises(CheckpointError):
        read_checkpoint(evil)
