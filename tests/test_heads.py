"""Heads (§3): MLP expert, batched experts (oracle: N separate heads), router, ψ, φ."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from starssl.models.heads import BatchedExperts, MLPHead, ParamProjector, ShiftPredictor, SoftRouter

N, D_IN, D_H, K, B = 3, 5, 7, 4, 6


def _bn_train(x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
    """Train-mode batch norm written out: biased batch variance, affine."""
    mean, var = x.mean(0), x.var(0, unbiased=False)
    return (x - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias


def _randomise(module: nn.Module) -> None:
    """Non-trivial BN affine parameters and running statistics, so copying them matters."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.num_batches_tracked.fill_(3)


def test_mlp_head_structure_and_function() -> None:
    torch.manual_seed(0)
    head = MLPHead(D_IN, D_H, K).double()
    _randomise(head)
    assert head.fc1.bias is None and head.fc2.bias is None and head.fc3.bias is not None
    assert [type(m) for m in head.children()] == [
        nn.Linear,
        nn.BatchNorm1d,
        nn.Linear,
        nn.BatchNorm1d,
        nn.Linear,
    ]
    x = torch.randn(B, D_IN, dtype=torch.float64)
    y = F.relu(_bn_train(x @ head.fc1.weight.T, head.bn1))
    y = F.relu(_bn_train(y @ head.fc2.weight.T, head.bn2))
    expected = y @ head.fc3.weight.T + head.fc3.bias  # no final BN
    torch.testing.assert_close(head(x), expected)


def _assert_matches(batched: BatchedExperts, heads: list[MLPHead], grads: bool) -> None:
    """Every parameter/buffer (or its gradient) of expert n equals that of head n."""
    get = (lambda t: t.grad) if grads else (lambda t: t)
    pairs = [
        (batched.w1, "fc1.weight"),
        (batched.w2, "fc2.weight"),
        (batched.w3, "fc3.weight"),
        (batched.b3, "fc3.bias"),
    ]
    for tensor, name in pairs:
        for n, head in enumerate(heads):
            torch.testing.assert_close(get(tensor)[n], get(head.get_parameter(name)))
    for bn in ("bn1", "bn2"):
        keys = ("weight", "bias") if grads else ("weight", "bias", "running_mean", "running_var")
        for key in keys:
            full = get(getattr(getattr(batched, bn), key))
            for n, head in enumerate(heads):
                torch.testing.assert_close(
                    full[n * D_H : (n + 1) * D_H], get(getattr(getattr(head, bn), key))
                )
        if not grads:
            for head in heads:
                assert (
                    getattr(batched, bn).num_batches_tracked
                    == getattr(head, bn).num_batches_tracked
                )


@pytest.mark.parametrize("train", [True, False])
def test_batched_experts_equal_separate_heads(train: bool) -> None:
    """ORACLE: outputs, every gradient and BN running stats match N separate MLPHeads."""
    torch.manual_seed(0)
    heads = [MLPHead(D_IN, D_H, K).double() for _ in range(N)]
    for head in heads:
        _randomise(head)
    batched = BatchedExperts.from_heads(heads)
    _assert_matches(batched, heads, grads=False)
    for module in [batched, *heads]:
        module.train(train)

    h = torch.randn(B, D_IN, dtype=torch.float64)
    h_sep, h_bat = h.clone().requires_grad_(), h.clone().requires_grad_()
    out_sep = torch.stack([head(h_sep) for head in heads], dim=1)
    out_bat = batched(h_bat)
    assert out_bat.shape == (B, N, K)
    torch.testing.assert_close(out_bat, out_sep)

    upstream = torch.randn(B, N, K, dtype=torch.float64)  # a loss that weighs every output
    (out_sep * upstream).sum().backward()
    (out_bat * upstream).sum().backward()
    torch.testing.assert_close(h_bat.grad, h_sep.grad)
    _assert_matches(batched, heads, grads=True)
    _assert_matches(batched, heads, grads=False)  # running stats updated (train) or kept (eval)
    if train:
        assert heads[0].bn1.num_batches_tracked == 4


def test_batched_experts_float32_tolerance() -> None:
    torch.manual_seed(1)
    heads = [MLPHead(16, 32, 8) for _ in range(4)]
    batched = BatchedExperts.from_heads(heads)
    h = torch.randn(10, 16)
    torch.testing.assert_close(batched(h), torch.stack([m(h) for m in heads], 1))


def test_batched_experts_init_like_linear() -> None:
    """Each slice follows nn.Linear's default U(±1/sqrt(fan_in)), independently per expert."""
    torch.manual_seed(0)
    experts = BatchedExperts(2, 96, 64, 32)
    for w in (experts.w1, experts.w2, experts.w3):
        bound = 1 / math.sqrt(w.shape[-1])
        assert w.abs().max() <= bound
        for n in range(2):
            assert abs(w[n].std().item() / (bound / math.sqrt(3)) - 1) < 0.05
        assert not torch.equal(w[0], w[1])
    assert experts.b3.abs().max() <= 1 / math.sqrt(64)
    assert not torch.equal(experts.b3[0], experts.b3[1])
    assert torch.all(experts.bn1.weight == 1) and torch.all(experts.bn2.bias == 0)


def test_soft_router() -> None:
    torch.manual_seed(0)
    router = SoftRouter(D_IN, N)
    h = torch.randn(B, D_IN)
    w = router(h)
    assert w.shape == (B, N) and torch.all(w > 0)
    torch.testing.assert_close(w.sum(1), torch.ones(B))
    logits = h @ router.gate.weight.T + router.gate.bias
    torch.testing.assert_close(w, torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True))


def test_param_projector() -> None:
    psi = ParamProjector(11, K)
    assert isinstance(psi, nn.Linear) and psi.bias is not None
    assert psi.weight.shape == (K, 11)


def test_shift_predictor_is_residual() -> None:
    torch.manual_seed(0)
    phi = ShiftPredictor(K, hidden=16)
    assert (phi.mlp.fc1.in_features, phi.mlp.fc1.out_features) == (2 * K, 16)
    assert (phi.mlp.fc2.out_features, phi.mlp.fc3.out_features) == (16, K)
    e0, psi_a = torch.randn(B, K), torch.randn(B, K)
    torch.testing.assert_close(phi(e0, psi_a), e0 + phi.mlp(torch.cat([e0, psi_a], 1)))
    with torch.no_grad():  # a zero shift returns e0 itself
        phi.mlp.fc3.weight.zero_()
        phi.mlp.fc3.bias.zero_()
    torch.testing.assert_close(phi(e0, psi_a), e0)
    # the shift depends on the parameters, not only on e0
    with torch.no_grad():
        phi.mlp.fc3.weight.normal_()
    assert not torch.allclose(phi(e0, psi_a), phi(e0, psi_a.flip(0)))
