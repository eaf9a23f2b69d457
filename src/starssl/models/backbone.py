"""ResNet backbones (§3): torchvision ResNet-18/50 and a narrow ResNet-18, fc removed.

Every backbone maps ``[B, 3, H, W]`` images to ``[B, d]`` features (global average pool).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision.models import resnet18, resnet50
from torchvision.models.resnet import BasicBlock, ResNet

from starssl.errors import ConfigError

BACKBONES = ("resnet18", "resnet18_narrow", "resnet50")
STEMS = ("cifar", "imagenet")


def _init_conv(conv: nn.Conv2d) -> None:
    """Initialise a convolution the way torchvision's ResNet does (He normal, fan-out)."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")


class NarrowResNet18(ResNet):
    """ResNet-18 with stage widths ``w, 2w, 4w, 8w`` (torchvision hard-codes ``w = 64``).

    ``ResNet.__init__`` builds 64-channel layers unconditionally, so this sets the few
    attributes ``_make_layer`` reads and lets torchvision's own ``_make_layer``/``BasicBlock``
    build the stages; initialisation matches ``resnet18(zero_init_residual=True)``.
    """

    def __init__(self, width: int) -> None:
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, width, 2)
        self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _init_conv(m)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # zero_init_residual=True: every residual branch starts as zero (block = identity).
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)


def _torchvision(factory: Callable[..., ResNet]) -> Callable[[int], ResNet]:
    return lambda width: factory(weights=None, zero_init_residual=True)


_FACTORIES: dict[str, Callable[[int], ResNet]] = {
    "resnet18": _torchvision(resnet18),
    "resnet18_narrow": NarrowResNet18,
    "resnet50": _torchvision(resnet50),
}


def build_backbone(name: str, stem: str = "cifar", width: int = 64) -> tuple[nn.Module, int]:
    """Build a randomly initialised backbone and return it with its feature size ``d``.

    ``width`` is used only by ``resnet18_narrow`` (``d = 8 * width``). ``stem="cifar"``
    swaps the 7x7/2 conv + max-pool for a 3x3/1 conv and no pooling (for 32 px images).
    """
    if name not in _FACTORIES:
        raise ConfigError(
            f"pretrain.backbone: unknown value {name!r}; allowed: {', '.join(BACKBONES)}"
        )
    if stem not in STEMS:
        raise ConfigError(f"pretrain.stem: unknown value {stem!r}; allowed: {', '.join(STEMS)}")
    bad_width = isinstance(width, bool) or not isinstance(width, int) or width < 1
    if name == "resnet18_narrow" and bad_width:
        raise ConfigError(f"pretrain.width: must be a positive integer, got {width!r}")
    model = _FACTORIES[name](width)
    d = model.fc.in_features if isinstance(model.fc, nn.Linear) else 8 * width
    model.fc = nn.Identity()
    if stem == "cifar":
        model.conv1 = nn.Conv2d(3, model.conv1.out_channels, 3, stride=1, padding=1, bias=False)
        _init_conv(model.conv1)
        model.maxpool = nn.Identity()
    return model, d
