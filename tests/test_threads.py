"""The CPU thread count comes from params: pinned in torch and in the loaded BLAS libraries."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from starssl import cli
from starssl.commands import linear
from starssl.threads import pin_threads


@pytest.fixture
def restore_blas_threads():
    with threadpool_limits(limits=None):  # restores every library's count on exit
        yield


@pytest.mark.parametrize("n", [1, 2])
def test_pin_threads_sets_torch_and_blas(n, restore_blas_threads):
    pin_threads(n)
    assert torch.get_num_threads() == n
    pools = threadpool_info()
    assert any(p["user_api"] == "blas" for p in pools)  # numpy's / scipy's BLAS is covered
    assert {p["num_threads"] for p in pools} == {n}


@pytest.mark.parametrize("n", [1, 2])
def test_evaluation_commands_run_with_eval_threads(n, tmp_path, monkeypatch, restore_blas_threads):
    seen = {}

    def fake_run(args, params):
        seen["threads"] = torch.get_num_threads()
        return 0

    monkeypatch.setattr(linear, "run", fake_run)
    argv = ["linear", "--model", "m", "--dataset", "cifar10", "--out", str(tmp_path / "o.json")]
    assert cli.main([*argv, "--set", f"eval.threads={n}"]) == 0
    assert seen["threads"] == n


def test_zero_threads_is_rejected_with_the_key(capsys):
    argv = ["linear", "--model", "m", "--dataset", "cifar10", "--out", "o.json"]
    assert cli.main([*argv, "--set", "eval.threads=0"]) == 2
    assert "eval.threads" in capsys.readouterr().err
