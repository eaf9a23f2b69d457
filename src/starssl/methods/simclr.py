"""SimCLR (§2): one MLP head, invariant objective only."""

from __future__ import annotations

from starssl.methods.base import FixedMixingMethod


class SimCLR(FixedMixingMethod):
    """One expert used as the invariant projection; no x0, ψ, φ or equivariant loss."""

    name = "simclr"
    equivariant = False
    mixing = ((1.0,),)
