"""Shared machinery of all pretraining methods (§2, §4): backbone, experts, ψ, φ, the loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from starssl.losses import equivariant_nt_xent, nt_xent
from starssl.models.backbone import build_backbone
from starssl.models.heads import BatchedExperts, ParamProjector, ShiftPredictor

Gather = Callable[[Tensor], Tensor]


def identity(x: Tensor) -> Tensor:
    """Default ``gather``: a single process already holds the whole batch."""
    return x


@dataclass
class MethodConfig:
    """Architecture and loss settings of a method (mirrors the ``pretrain`` section)."""

    backbone: str = "resnet18"
    stem: str = "cifar"
    width: int = 64
    proj_dim: int = 128
    proj_hidden: int | None = None  # None: the backbone feature size d (§3)
    num_experts: int = 16  # star_mmoe only; the other methods fix their expert count
    predictor_hidden: int = 512
    temperature_inv: float = 0.2
    temperature_eq: float = 0.2
    lambda_eq: float = 1.0
    num_params: int = 11


@dataclass
class Embeddings:
    """Embeddings of one batch of backbone features; ``routing`` maps task -> ``[B, N]``."""

    inv: Tensor
    eq: Tensor | None = None
    routing: dict[str, Tensor] | None = None


class PretrainMethod(nn.Module):
    """A SimCLR-based method: backbone + experts (+ ψ, φ and parameter statistics).

    Subclasses set ``name``, ``equivariant``, and implement :meth:`num_experts_for` and
    :meth:`embed` (how the experts' outputs are mixed into task embeddings).
    """

    name: ClassVar[str]
    equivariant: ClassVar[bool]
    param_mean: Tensor
    param_std: Tensor

    def __init__(self, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone, self.feat_dim = build_backbone(cfg.backbone, cfg.stem, cfg.width)
        hidden = cfg.proj_hidden or self.feat_dim
        n = self.num_experts_for(cfg)
        self.experts = BatchedExperts(n, self.feat_dim, hidden, cfg.proj_dim)
        if self.equivariant:
            # Buffers, so the standardisation travels with checkpoints and device moves.
            self.register_buffer("param_mean", torch.zeros(cfg.num_params))
            self.register_buffer("param_std", torch.ones(cfg.num_params))
            self.param_projector = ParamProjector(cfg.num_params, cfg.proj_dim)
            self.predictor = ShiftPredictor(cfg.proj_dim, cfg.predictor_hidden)

    @classmethod
    def num_experts_for(cls, cfg: MethodConfig) -> int:
        raise NotImplementedError

    def embed(self, h: Tensor) -> Embeddings:
        """Project backbone features ``h [B, d]`` to the task embeddings."""
        raise NotImplementedError

    def features(self, x: Tensor) -> Tensor:
        """Backbone features ``[B, d]`` of images ``[B, 3, H, W]``."""
        return self.backbone(x)

    def set_param_stats(self, mean: Tensor, std: Tensor) -> None:
        """Set the per-dimension standardisation of the augmentation parameters (§5).

        A dimension that never varies (std 0, e.g. blur σ when blur is off) gets std 1 so it
        standardises to a constant instead of NaN.
        """
        if not self.equivariant:
            raise ValueError(f"{self.name} has no augmentation-parameter statistics")
        shape = tuple(self.param_mean.shape)
        mean, std = torch.as_tensor(mean), torch.as_tensor(std)
        if tuple(mean.shape) != shape or tuple(std.shape) != shape:
            raise ValueError(
                f"parameter stats must have shape {shape}, got "
                f"{tuple(mean.shape)} and {tuple(std.shape)}"
            )
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std >= 0).all()):
            raise ValueError("parameter stats must be finite with std >= 0")
        self.param_mean.copy_(mean)
        self.param_std.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def predict(self, e0: Tensor, a_raw: Tensor) -> Tensor:
        """ê = e0 + φ([e0; ψ(ã)]) with ã the standardised raw parameters ``a_raw [B, p]``."""
        a = (a_raw.to(self.param_mean) - self.param_mean) / self.param_std
        return self.predictor(e0, self.param_projector(a))

    def training_loss(
        self,
        x0: Tensor | None,
        v1: Tensor,
        v2: Tensor,
        a1: Tensor | None = None,
        a2: Tensor | None = None,
        gather: Gather = identity,
    ) -> tuple[Tensor, dict[str, float]]:
        """L = L_inv + λ L_eq for one batch (§4); returns the loss and detached float logs.

        Each image batch gets its own backbone and head call, so BN statistics are per call
        (as in the authors' release). ``gather`` is applied to every embedding right before
        its loss; under DDP it all-gathers with gradient so negatives span the global batch.
        """
        cfg = self.cfg
        emb1, emb2 = self.embed(self.features(v1)), self.embed(self.features(v2))
        loss_inv = nt_xent(gather(emb1.inv), gather(emb2.inv), cfg.temperature_inv)
        if not self.equivariant:
            value = loss_inv.item()
            return loss_inv, {"loss": value, "loss_inv": value}
        if x0 is None or a1 is None or a2 is None:
            raise ValueError(f"{self.name} needs x0, a1 and a2")
        assert emb1.eq is not None and emb2.eq is not None
        e0 = self.embed(self.features(x0)).eq
        assert e0 is not None
        # φ is called once per view (per-call BN statistics, as in the release).
        predictions = torch.cat([self.predict(e0, a1), self.predict(e0, a2)])
        targets = torch.cat([emb1.eq, emb2.eq])
        loss_eq = equivariant_nt_xent(gather(targets), gather(predictions), cfg.temperature_eq)
        loss = loss_inv + cfg.lambda_eq * loss_eq
        # One device sync for all logs instead of one per value.
        values = torch.stack([loss, loss_inv, loss_eq]).detach().tolist()
        return loss, dict(zip(("loss", "loss_inv", "loss_eq"), values, strict=True))

    def forward(self, *args: object, **kwargs: object) -> tuple[Tensor, dict[str, float]]:
        """Same as :meth:`training_loss`; DDP only synchronises gradients through forward."""
        return self.training_loss(*args, **kwargs)  # type: ignore[arg-type]


class FixedMixingMethod(PretrainMethod):
    """Task embeddings are fixed sums of experts: ``z_task = Σ_n mixing[task][n] E_n(h)``.

    ``mixing`` has one row per task: the invariant row first, then the equivariant row for
    equivariant methods.
    """

    mixing: ClassVar[tuple[tuple[float, ...], ...]]
    mix: Tensor

    def __init__(self, cfg: MethodConfig) -> None:
        super().__init__(cfg)
        # Not persistent: it is a constant of the method, not learnt state.
        self.register_buffer("mix", torch.tensor(self.mixing), persistent=False)

    @classmethod
    def num_experts_for(cls, cfg: MethodConfig) -> int:
        return len(cls.mixing[0])

    def embed(self, h: Tensor) -> Embeddings:
        z = torch.einsum("tn,bnk->tbk", self.mix, self.experts(h))
        return Embeddings(inv=z[0], eq=z[1] if self.equivariant else None)
