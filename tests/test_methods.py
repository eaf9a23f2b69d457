"""Methods (§2, §4) on a tiny narrow ResNet: mixing, routing, the training step, state."""

from __future__ import annotations

import pytest
import torch

from starssl.errors import ConfigError
from starssl.losses import equivariant_nt_xent, nt_xent
from starssl.methods import METHODS, MethodConfig, PretrainMethod, build_method

B, K = 4, 8
CFG = dict(backbone="resnet18_narrow", width=4, proj_dim=K, num_experts=3, predictor_hidden=16)


def _make(name: str, **overrides: object) -> PretrainMethod:
    torch.manual_seed(0)
    return build_method(name, MethodConfig(**{**CFG, **overrides}))  # type: ignore[arg-type]


def _batch() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    x0, v1, v2 = (torch.rand(B, 3, 16, 16, generator=g) for _ in range(3))
    a1, a2 = (torch.randn(B, 11, generator=g) * 3 + 1 for _ in range(2))
    return x0, v1, v2, a1, a2


def test_registry() -> None:
    assert set(METHODS) == {"simclr", "equimod", "star_ss", "star_mmoe"}
    for name, cls in METHODS.items():
        assert cls.name == name and cls.equivariant == (name != "simclr")
    with pytest.raises(ConfigError, match=r"--method.*simclr, equimod, star_ss, star_mmoe"):
        build_method("byol", MethodConfig(**CFG))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"pretrain\.num_experts"):
        _make("star_mmoe", num_experts=0)


@pytest.mark.parametrize(
    ("name", "n"), [("simclr", 1), ("equimod", 2), ("star_ss", 3), ("star_mmoe", 3)]
)
def test_embed_shapes(name: str, n: int) -> None:
    model = _make(name)
    assert model.feat_dim == 32 and model.experts.num_experts == n
    h = model.features(_batch()[1])
    assert h.shape == (B, 32)
    emb = model.embed(h)
    assert emb.inv.shape == (B, K)
    assert (emb.eq is None) == (name == "simclr")
    if emb.eq is not None:
        assert emb.eq.shape == (B, K)
    assert (emb.routing is not None) == (name == "star_mmoe")


def test_simclr_has_no_equivariant_part() -> None:
    model = _make("simclr")
    for attr in ("param_projector", "predictor", "param_mean", "param_std"):
        assert not hasattr(model, attr)
    _, v1, v2, _, _ = _batch()
    loss, logs = model.training_loss(None, v1, v2)
    assert set(logs) == {"loss", "loss_inv"} and torch.isfinite(loss)
    with pytest.raises(ValueError, match="simclr"):
        model.set_param_stats(torch.zeros(11), torch.ones(11))


def test_fixed_mixing() -> None:
    h = torch.randn(B, 32)
    ss = _make("star_ss")
    e, emb = ss.experts(h), ss.embed(h)  # expert order: inv, eq, shared
    torch.testing.assert_close(emb.inv, e[:, 0] + e[:, 2])
    torch.testing.assert_close(emb.eq, e[:, 1] + e[:, 2])
    eqm = _make("equimod")
    e, emb = eqm.experts(h), eqm.embed(h)
    torch.testing.assert_close(emb.inv, e[:, 0])
    torch.testing.assert_close(emb.eq, e[:, 1])


def test_equimod_heads_are_independent() -> None:
    model = _make("equimod")
    h = torch.randn(B, 32)
    for task, own in (("inv", 0), ("eq", 1)):
        model.zero_grad()
        getattr(model.embed(h), task).pow(2).sum().backward()
        for w in (model.experts.w1, model.experts.w2, model.experts.w3):
            assert w.grad[own].abs().sum() > 0 and torch.all(w.grad[1 - own] == 0)


def test_star_mmoe_routing() -> None:
    model = _make("star_mmoe")
    h = torch.randn(B, 32)
    emb = model.embed(h)
    assert emb.routing is not None and set(emb.routing) == {"inv", "eq"}
    e = model.experts(h)
    for task in ("inv", "eq"):
        w = emb.routing[task]
        assert w.shape == (B, 3) and torch.all(w >= 0)
        torch.testing.assert_close(w.sum(1), torch.ones(B))
        mixed = sum(w[:, n : n + 1] * e[:, n] for n in range(3))
        torch.testing.assert_close(getattr(emb, task), mixed)
    assert not torch.allclose(emb.routing["inv"], emb.routing["eq"])  # separate routers


@pytest.mark.parametrize("name", sorted(METHODS))
def test_training_loss_backward_reaches_parameters(name: str) -> None:
    model = _make(name)
    x0, v1, v2, a1, a2 = _batch()
    loss, logs = model.training_loss(x0, v1, v2, a1, a2)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(logs["loss"], rel=1e-6)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        # residual conv2 weights see zero gradient while their zero-initialised BN scale is 0
        if not pname.startswith("backbone.") or pname.endswith("bn2.weight"):
            assert p.grad.abs().sum() > 0, pname
    for w in (model.experts.w1, model.experts.w3):  # every expert learns
        assert all(w.grad[n].abs().sum() > 0 for n in range(w.shape[0]))


@pytest.mark.parametrize("name", ["equimod", "star_ss", "star_mmoe"])
def test_training_loss_follows_section_4(name: str) -> None:
    """Recompute the step from the method's parts; check per-call BN and the gather hook."""
    model = _make(name, lambda_eq=0.5, temperature_inv=0.3, temperature_eq=0.1)
    model.set_param_stats(torch.full((11,), 1.0), torch.full((11,), 3.0))
    x0, v1, v2, a1, a2 = _batch()
    calls: list[int] = []
    hook = model.backbone.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    gathered: list[tuple[int, ...]] = []

    def gather(t: torch.Tensor) -> torch.Tensor:
        gathered.append(tuple(t.shape))
        return t

    _, logs = model(x0, v1, v2, a1, a2, gather=gather)  # forward == training_loss
    hook.remove()
    assert calls == [B, B, B]  # three separate backbone calls: BN statistics per call
    assert gathered == [(B, K), (B, K), (2 * B, K), (2 * B, K)]

    e = [model.embed(model.features(x)) for x in (x0, v1, v2)]
    want_inv = nt_xent(e[1].inv, e[2].inv, 0.3)
    psi = model.param_projector
    pred = [model.predictor(e[0].eq, psi((a - 1.0) / 3.0)) for a in (a1, a2)]
    want_eq = equivariant_nt_xent(torch.cat([e[1].eq, e[2].eq]), torch.cat(pred), 0.1)
    assert logs["loss_inv"] == pytest.approx(want_inv.item(), rel=1e-5)
    assert logs["loss_eq"] == pytest.approx(want_eq.item(), rel=1e-5)
    assert logs["loss"] == pytest.approx(want_inv.item() + 0.5 * want_eq.item(), rel=1e-5)


def test_simclr_calls_backbone_twice() -> None:
    model = _make("simclr")
    calls: list[int] = []
    model.backbone.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    _, v1, v2, _, _ = _batch()
    model.training_loss(None, v1, v2)
    assert calls == [B, B]


def test_param_stats_state_dict_round_trip() -> None:
    model = _make("star_mmoe")
    mean, std = torch.arange(11.0), torch.linspace(0.5, 2.0, 11)
    std[10] = 0.0  # a parameter that never varies
    model.set_param_stats(mean, std)
    assert model.param_std[10] == 1.0 and torch.isfinite(model.param_std).all()
    state = model.state_dict()
    assert "param_mean" in state and "param_std" in state and "mix" not in state
    fresh = _make("star_mmoe")
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.param_mean, mean)
    torch.testing.assert_close(fresh.param_std[:10], std[:10])
    fresh.eval()
    e0, a = torch.randn(B, K), torch.randn(B, 11)
    want = fresh.predictor(e0, fresh.param_projector((a - mean) / fresh.param_std))
    torch.testing.assert_close(fresh.predict(e0, a), want)
    with pytest.raises(ValueError, match="shape"):
        model.set_param_stats(torch.zeros(10), torch.ones(10))
