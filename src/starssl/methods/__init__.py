"""Pretraining methods (§2), one short file each, built by name."""

from __future__ import annotations

from starssl.errors import ConfigError
from starssl.methods.base import Embeddings, MethodConfig, PretrainMethod
from starssl.methods.equimod import EquiMod
from starssl.methods.simclr import SimCLR
from starssl.methods.star_mmoe import StarMMoE
from starssl.methods.star_ss import StarSS

METHODS: dict[str, type[PretrainMethod]] = {
    cls.name: cls for cls in (SimCLR, EquiMod, StarSS, StarMMoE)
}


def build_method(name: str, cfg: MethodConfig) -> PretrainMethod:
    """Instantiate the method called ``name`` (see :data:`METHODS`) with ``cfg``."""
    if name not in METHODS:
        raise ConfigError(f"--method: unknown value {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[name](cfg)


__all__ = ["METHODS", "Embeddings", "MethodConfig", "PretrainMethod", "build_method"]
