"""Frozen-feature extraction (starssl.eval.features) against a direct full-batch forward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from starssl.errors import DataError
from starssl.eval.features import extract_features

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


def encoder() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )
    # Non-trivial running statistics, so train-mode and eval-mode outputs differ.
    net[1].running_mean.uniform_(-1, 1)
    net[1].running_var.uniform_(0.5, 2)
    return net


def images(n: int = 7) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, 10, 10), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )


def test_matches_direct_eval_forward_and_restores_state():
    net, x = encoder().train(), images()
    stats = net[1].running_mean.clone()
    got = extract_features(net, x, MEAN, STD, batch_size=3)  # ragged last batch
    assert net.training and torch.equal(net[1].running_mean, stats)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = net.eval()((x.float() / 255 - mean) / std)
    assert got.dtype == torch.float32 and got.shape == (7, 6)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        train_mode = net.train()((x.float() / 255 - mean) / std)
    assert not torch.allclose(got, train_mode, atol=1e-3)  # eval mode really was used


def test_deterministic_and_keeps_eval_mode():
    net, x = encoder().eval(), images(9)
    a = extract_features(net, x, torch.tensor(MEAN), torch.tensor(STD), batch_size=4)
    b = extract_features(net, x, MEAN, STD, batch_size=4)
    assert torch.equal(a, b) and not net.training


def test_restores_training_flag_on_error():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    net = Boom().train()
    with pytest.raises(RuntimeError, match="boom"):
        extract_features(net, images(), MEAN, STD)
    assert net.training


def test_rejects_float_images():
    with pytest.raises(DataError, match="uint8"):
        extract_features(encoder(), images().float(), MEAN, STD)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_and_moves_back():
    net, x = encoder(), images()
    cpu = extract_features(net, x, MEAN, STD)
    gpu = extract_features(net, x, MEAN, STD, device="cuda")
    assert next(net.parameters()).device.type == "cpu" and gpu.device.type == "cpu"
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)
