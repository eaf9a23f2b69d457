"""Backbones (§3): shapes, stems, init, and the narrow ResNet-18 against torchvision's."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torchvision.models import resnet18
from torchvision.models.resnet import BasicBlock, Bottleneck

from starssl.errors import ConfigError
from starssl.models.backbone import build_backbone


def _spatial_before_pool(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    seen: list[tuple[int, int]] = []
    handle = model.layer4.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[-2:])))
    model(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize(
    ("name", "width", "d"),
    [("resnet18", 64, 512), ("resnet50", 64, 2048), ("resnet18_narrow", 4, 32)],
)
def test_feature_shape_and_dim(name: str, width: int, d: int) -> None:
    torch.manual_seed(0)
    model, dim = build_backbone(name, "cifar", width)
    assert dim == d
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 16, 16))
    assert out.shape == (2, d)


def test_narrow_width_64_is_torchvision_resnet18() -> None:
    """Same parameter names/shapes as torchvision's ResNet-18 and the same function."""
    torch.manual_seed(0)
    reference = resnet18(weights=None)
    reference.fc = nn.Identity()
    narrow, d = build_backbone("resnet18_narrow", "imagenet", 64)
    assert d == 512
    with torch.no_grad():  # give BN non-trivial affine params and running stats
        for t in reference.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) * 0.2 + 0.9)
    narrow.load_state_dict(reference.state_dict(), strict=True)
    x = torch.rand(2, 3, 64, 64)
    for mode in (True, False):
        reference.train(mode)
        narrow.train(mode)
        torch.testing.assert_close(narrow(x), reference(x))


def test_narrow_stage_widths() -> None:
    model, d = build_backbone("resnet18_narrow", "cifar", 16)
    assert d == 128
    assert model.conv1.out_channels == 16
    for i, layer in enumerate((model.layer1, model.layer2, model.layer3, model.layer4)):
        assert len(layer) == 2
        assert all(isinstance(block, BasicBlock) for block in layer)
        assert layer[-1].conv2.out_channels == 16 * 2**i


@pytest.mark.parametrize("name", ["resnet18", "resnet18_narrow"])
def test_stems(name: str) -> None:
    cifar, _ = build_backbone(name, "cifar", 8)
    imagenet, _ = build_backbone(name, "imagenet", 8)
    conv = cifar.conv1
    assert (conv.kernel_size, conv.stride, conv.padding, conv.bias) == (
        (3, 3),
        (1, 1),
        (1, 1),
        None,
    )
    assert isinstance(cifar.maxpool, nn.Identity)
    assert imagenet.conv1.kernel_size == (7, 7) and imagenet.conv1.stride == (2, 2)
    assert isinstance(imagenet.maxpool, nn.MaxPool2d)
    x = torch.rand(1, 3, 32, 32)
    cifar.eval()
    imagenet.eval()
    with torch.no_grad():
        assert _spatial_before_pool(cifar, x) == (4, 4)  # total stride 8
        assert _spatial_before_pool(imagenet, x) == (1, 1)  # total stride 32


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet18_narrow"])
def test_zero_init_residual(name: str) -> None:
    model, _ = build_backbone(name, "cifar", 8)
    last_bns = [
        m.bn2 if isinstance(m, BasicBlock) else m.bn3
        for m in model.modules()
        if isinstance(m, BasicBlock | Bottleneck)
    ]
    assert len(last_bns) == (16 if name == "resnet50" else 8)
    assert all(torch.all(bn.weight == 0) for bn in last_bns)


def test_conv_init_is_he_normal_fan_out() -> None:
    """Narrow model and CIFAR stem use torchvision's init: N(0, 2 / fan_out)."""
    torch.manual_seed(0)
    model, _ = build_backbone("resnet18_narrow", "cifar", 16)
    for conv in (model.layer4[1].conv1, model.layer3[0].conv2):
        w = conv.weight
        expected = math.sqrt(2.0 / (w.shape[0] * w.shape[2] * w.shape[3]))
        assert abs(w.std().item() / expected - 1) < 0.03
        assert abs(w.mean().item()) < 0.03 * expected
    big, _ = build_backbone("resnet18", "cifar")
    w = big.conv1.weight  # 64 * 3 * 9 entries: looser tolerance
    assert abs(w.std().item() / math.sqrt(2.0 / (64 * 9)) - 1) < 0.1


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"name": "vit"}, "pretrain.backbone"),
        ({"name": "resnet18", "stem": "tiny"}, "pretrain.stem"),
        ({"name": "resnet18_narrow", "width": 0}, "pretrain.width"),
        ({"name": "resnet18_narrow", "width": 2.5}, "pretrain.width"),
    ],
)
def test_bad_config(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key) as info:
        build_backbone(**kwargs)  # type: ignore[arg-type]
    if key != "pretrain.width":
        allowed = "resnet18, resnet18_narrow, resnet50" if "backbone" in key else "cifar, imagenet"
        assert allowed in str(info.value)
