"""Batched augmentations (§5) against torchvision's per-image functional ops as the oracle."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from scipy.stats import ks_2samp
from torchvision.transforms import InterpolationMode, RandomResizedCrop

from starssl.augment import (
    PARAM_DIM,
    AugmentConfig,
    AugParams,
    BatchAugment,
    apply_params,
    parameter_stats,
    sample_params,
)
from starssl.errors import ConfigError

_JITTER_FNS = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Random images plus edge cases: an all-grey image and one with saturated 0/1 pixels."""
    x = torch.rand(b, 3, h, w, generator=_gen(seed))
    x[0] = x[0, :1].expand(3, h, w)
    x[1] = (x[1] > 0.5).float()
    return x


def _replay(img: torch.Tensor, p: AugParams, i: int, size: int) -> torch.Tensor:
    """Apply sample i's recorded parameters with torchvision's functional ops, one image."""
    box = [int(p.top[i]), int(p.left[i]), int(p.height[i]), int(p.width[i])]
    out = TF.resized_crop(img, *box, [size, size], InterpolationMode.BILINEAR, antialias=False)
    if p.flip[i]:
        out = TF.horizontal_flip(out)
    if p.jitter[i]:
        for op in p.jitter_order[i].tolist():
            out = _JITTER_FNS[op](out, float(p.jitter_factors[i, op]))
    if p.grayscale[i]:
        out = TF.rgb_to_grayscale(out, num_output_channels=3)
    if p.blur_sigma[i] > 0:
        sigma = float(p.blur_sigma[i])
        out = TF.gaussian_blur(out, [p.blur_kernel] * 2, [sigma, sigma])
    return out


def test_batched_output_matches_torchvision_replay():
    # 40x44 inputs, 24 px outputs: crops are both up- and down-sampled; H != W catches mix-ups.
    cfg = AugmentConfig(grayscale_p=0.3, blur_p=0.5, blur_kernel=9)
    x = _images(48, 40, 44)
    p = sample_params(cfg, 48, 40, 44, _gen(1))
    got = apply_params(x, p, 24)
    want = torch.stack([_replay(x[i], p, i, 24) for i in range(48)])
    # Every branch must be exercised, or the comparison proves little.
    for flag in (p.flip, p.jitter, p.grayscale, p.blur_sigma > 0):
        assert 0 < int(flag.sum()) < 48
    assert len({tuple(o) for o in p.jitter_order[p.jitter].tolist()}) > 5
    assert bool((p.height > 24).any()) and bool((p.height < 24).any())
    # Same formulas, different float32 operation order (separable vs 2-D taps, y-then-x
    # resize): differences stay at a few ulps of values in [0, 1]. Hue goes through
    # RGB→HSV→RGB, whose division by (max - min) amplifies rounding only where the effect
    # on RGB is itself scaled by (max - min), so the same bound holds there.
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_blur_kernel_wider_than_view_matches_torchvision():
    # Kernel 11 on 6 px views: reflect padding folds several taps onto the same pixel.
    cfg = AugmentConfig(flip_p=0.0, jitter_p=0.0, grayscale_p=0.0, blur_p=1.0, blur_kernel=11)
    x = _images(8, 12, 10)
    p = sample_params(cfg, 8, 12, 10, _gen(6))
    want = torch.stack([_replay(x[i], p, i, 6) for i in range(8)])
    torch.testing.assert_close(apply_params(x, p, 6), want, rtol=0, atol=1e-5)


def test_identity_pipeline_returns_input_exactly():
    cfg = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
                        grayscale_p=0.0, blur_p=0.0)  # fmt: skip
    x = _images(6, 20, 20)
    views, vec = BatchAugment(cfg, 20)(x, _gen(0))
    assert torch.equal(views, x)
    assert torch.equal(
        vec, torch.tensor([[0, 0, 20, 20, 0, 1, 1, 1, 0, 0, 0]]).float().expand(6, -1)
    )


def test_flip_only_mirrors_columns():
    cfg = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=1.0, jitter_p=0.0,
                        grayscale_p=0.0, blur_p=0.0)  # fmt: skip
    x = _images(3, 16, 16)
    views, vec = BatchAugment(cfg, 16)(x, _gen(0))
    assert torch.equal(views, x.flip(-1))
    assert bool((vec[:, 4] == 1).all())


def test_vector_ranges_and_identity_values_when_skipped():
    cfg = AugmentConfig()
    p = sample_params(cfg, 4000, 96, 96, _gen(2))
    v = p.as_vector()
    assert v.shape == (4000, PARAM_DIM) and v.dtype == torch.float32
    for col, flag in ((4, p.flip), (9, p.grayscale)):
        assert torch.equal(v[:, col], flag.float())
    jit = p.jitter
    assert torch.equal(
        v[~jit, 5:9], torch.tensor([1.0, 1.0, 1.0, 0.0]).expand(int((~jit).sum()), 4)
    )
    for col, (lo, hi) in zip(range(5, 9), [(0.6, 1.4)] * 3 + [(-0.1, 0.1)], strict=True):
        assert float(v[jit, col].min()) >= lo and float(v[jit, col].max()) <= hi
    blur = v[:, 10] > 0
    assert torch.equal(v[~blur, 10], torch.zeros(int((~blur).sum())))
    assert float(v[blur, 10].min()) >= 0.1 and float(v[blur, 10].max()) <= 2.0
    # Each row of the order is a permutation of the four ops.
    assert torch.equal(p.jitter_order.sort(dim=1).values, torch.arange(4).expand(4000, 4))


@pytest.mark.parametrize(("height", "width"), [(96, 96), (32, 64), (50, 20)])
def test_crop_boxes_lie_inside_and_match_torchvision_distribution(height, width):
    cfg = AugmentConfig()
    p = sample_params(cfg, 3000, height, width, _gen(3))
    assert bool((p.height >= 1).all() & (p.width >= 1).all())
    assert bool((p.top >= 0).all() & (p.left >= 0).all())
    assert bool((p.top + p.height <= height).all() & (p.left + p.width <= width).all())
    # Oracle: torchvision's own sampler (rejection sampling with fallback) on the same shape.
    img = torch.empty(1, height, width)
    with torch.random.fork_rng():  # torchvision draws from the global RNG; leave it untouched
        torch.manual_seed(4)
        ref = [RandomResizedCrop.get_params(img, [0.2, 1.0], [3 / 4, 4 / 3]) for _ in range(3000)]
    ref = torch.tensor(ref)
    for col, ours in enumerate((p.top, p.left, p.height, p.width)):
        assert ks_2samp(ours.numpy(), ref[:, col].numpy()).pvalue > 1e-3


def test_crop_fallback_matches_torchvision():
    # A 10x100 strip cannot hold a 90 %-area crop with ratio in [3/4, 4/3]: central fallback.
    cfg = AugmentConfig(crop_scale=(0.9, 1.0))
    p = sample_params(cfg, 8, 10, 100, _gen(5))
    want = RandomResizedCrop.get_params(torch.empty(1, 10, 100), [0.9, 1.0], [3 / 4, 4 / 3])
    got = torch.stack([p.top, p.left, p.height, p.width], dim=1)
    assert torch.equal(got, torch.tensor(want).expand(8, 4))


def test_seeded_generator_is_deterministic():
    cfg = AugmentConfig(blur_kernel=5)
    x = _images(8, 24, 24)
    aug = BatchAugment(cfg, 16)
    g = _gen(7)
    v1, a1 = aug(x, g)
    _, a2 = aug(x, g)  # the generator advanced: a new draw
    v3, a3 = aug(x, _gen(7))
    assert torch.equal(v1, v3) and torch.equal(a1, a3)
    assert not torch.equal(a1, a2)
    # The vector is exactly what sample_params draws from the same state.
    assert torch.equal(a1, sample_params(cfg, 8, 24, 24, _gen(7)).as_vector())
    assert v1.shape == (8, 3, 16, 16) and a1.device == x.device


def test_parameter_stats_shape_and_values():
    cfg = AugmentConfig()
    mean, std = parameter_stats(cfg, 96, 96, 96, 20000, seed=0)
    assert mean.shape == std.shape == (PARAM_DIM,)
    assert bool((std > 0).all()) and bool((std != 1).all())
    # Expected values of the recipe (20000 draws: binomial sd ≤ 0.0036, so 0.02 is > 5 sd).
    assert math.isclose(float(mean[4]), 0.5, abs_tol=0.02)  # flip
    assert math.isclose(float(mean[5]), 1.0, abs_tol=0.01)  # brightness: identity or U(0.6, 1.4)
    assert math.isclose(float(mean[8]), 0.0, abs_tol=0.01)  # hue
    assert math.isclose(float(mean[9]), 0.2, abs_tol=0.02)  # grayscale
    assert math.isclose(float(mean[10]), 0.5 * 1.05, abs_tol=0.02)  # blur σ: 0 or U(0.1, 2)
    assert math.isclose(float(std[4]), 0.5, abs_tol=0.01)


def test_parameter_stats_guard_constant_dimensions():
    cfg = AugmentConfig(blur_p=0.0, flip_p=0.0)
    mean, std = parameter_stats(cfg, 32, 32, 32, 500, seed=0)
    assert float(mean[10]) == 0.0 and float(std[10]) == 1.0
    assert float(mean[4]) == 0.0 and float(std[4]) == 1.0
    assert bool((std[:4] > 1).all())  # crop boxes still vary by pixels


def test_config_from_dict_and_validation():
    cfg = AugmentConfig.from_dict({"crop_scale": [0.3, 1], "blur_kernel": 3, "stats_samples": 9})
    assert cfg.crop_scale == (0.3, 1.0) and cfg.blur_kernel == 3 and cfg.hue == 0.1
    with pytest.raises(ConfigError, match="unknown"):
        AugmentConfig.from_dict({"hue_p": 0.1})
    for bad in ({"blur_kernel": 4}, {"flip_p": 1.5}, {"crop_scale": [0.5, 0.2]}, {"hue": 0.7}):
        with pytest.raises(ConfigError):
            AugmentConfig.from_dict(bad)
    with pytest.raises(ConfigError, match="blur_kernel"):
        BatchAugment(AugmentConfig(blur_kernel=23), 8)
    BatchAugment(AugmentConfig(blur_kernel=23, blur_p=0.0), 8)  # blur off: kernel irrelevant
