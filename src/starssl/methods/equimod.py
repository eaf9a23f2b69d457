"""EquiMod-style baseline (§2): one separate MLP head per task."""

from __future__ import annotations

from starssl.methods.base import FixedMixingMethod


class EquiMod(FixedMixingMethod):
    """Two experts with one-hot mixing: z_inv = E_0(h), z_eq = E_1(h); nothing is shared."""

    name = "equimod"
    equivariant = True
    mixing = ((1.0, 0.0), (0.0, 1.0))
