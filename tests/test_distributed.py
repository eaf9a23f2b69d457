"""Multi-process training on CPU with gloo: global negatives, gradient sync, a full DDP run."""

from __future__ import annotations

import json
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from torch import nn

from ddp_workers import gather_grad_worker, pretrain_worker
from starssl.losses import nt_xent

pytestmark = pytest.mark.xdist_group("ddp")  # keep the multi-process tests on one worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gathered_loss_gradient_equals_single_process(tmp_path):
    mp.spawn(gather_grad_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    torch.manual_seed(0)
    model = nn.Linear(6, 4)
    x1, x2 = torch.randn(8, 6), torch.randn(8, 6)
    loss = nt_xent(model(x1), model(x2), 0.2)
    loss.backward()
    for rank in range(2):
        got = load_file(str(tmp_path / f"rank{rank}.safetensors"))
        torch.testing.assert_close(got["loss"][0], loss.detach())
        torch.testing.assert_close(got["weight_grad"], model.weight.grad, rtol=1e-5, atol=1e-6)


def test_two_process_pretraining_keeps_ranks_in_sync(tmp_path):
    mp.spawn(pretrain_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    for key, value in rank0.items():
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue  # BN statistics stay per rank on CPU (SyncBN needs CUDA)
        assert torch.equal(value, rank1[key]), key
    summary = json.loads((tmp_path / "run" / "run.json").read_text())
    assert summary["world_size"] == 2 and summary["history"][-1]["epoch"] == 1
