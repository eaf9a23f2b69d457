"""STAR (§2, the paper's main method): N shared experts, one soft router per task."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from starssl.errors import ConfigError
from starssl.methods.base import Embeddings, MethodConfig, PretrainMethod
from starssl.models.heads import SoftRouter

TASKS = ("inv", "eq")


class StarMMoE(PretrainMethod):
    """z_task = Σ_n softmax(R_task(h))_n · E_n(h): dense routing, no top-k, no balancing loss."""

    name = "star_mmoe"
    equivariant = True

    def __init__(self, cfg: MethodConfig) -> None:
        super().__init__(cfg)
        n = self.experts.num_experts
        self.routers = nn.ModuleDict({task: SoftRouter(self.feat_dim, n) for task in TASKS})

    @classmethod
    def num_experts_for(cls, cfg: MethodConfig) -> int:
        n = cfg.num_experts
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"pretrain.num_experts: must be a positive integer, got {n!r}")
        return n

    def embed(self, h: Tensor) -> Embeddings:
        experts = self.experts(h)
        routing = {task: router(h) for task, router in self.routers.items()}
        z = {task: torch.einsum("bn,bnk->bk", w, experts) for task, w in routing.items()}
        return Embeddings(inv=z["inv"], eq=z["eq"], routing=routing)
