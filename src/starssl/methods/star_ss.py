"""STAR with a fixed shared/specific split (§2): invariant, equivariant and shared experts."""

from __future__ import annotations

from starssl.methods.base import FixedMixingMethod


class StarSS(FixedMixingMethod):
    """Experts (inv, eq, shared): z_inv = E_inv(h) + E_sh(h), z_eq = E_eq(h) + E_sh(h)."""

    name = "star_ss"
    equivariant = True
    mixing = ((1.0, 0.0, 1.0), (0.0, 1.0, 1.0))
