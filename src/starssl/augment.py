"""Batched SimCLR augmentations with per-sample parameters and their 11-d vector (§5).

Pipeline per view: RandomResizedCrop → hflip → colour jitter (random op order per sample) →
grayscale → Gaussian blur. Parameters are drawn on the CPU from a caller's ``torch.Generator``
(so CPU and GPU runs see identical draws) and then applied to the whole batch on the images'
device. Normalisation is the caller's job.

Why our own ops and not kornia 0.9 (bench/bench_augment.py; CPU, 2 threads, batch 256;
best of 7 per run, 5 runs on a shared host at load 4-5, hence the spread): 32 px, blur off:
ours 0.06-0.13 s, kornia 0.10-0.28 s; 96 px, blur p 0.5 (kernel 9): ours 0.48-1.07 s, kornia
0.96-1.44 s. Ours is as fast or up to ~2x faster, but the noise is large, so speed is nearly a
wash; semantics decide. Kornia's ColorJitter draws one op order per batch (``order`` [4]),
not per sample as torchvision does; its sampling uses the global RNG, not a generator we own.
Its hue (turns, ×2π inside) and crop (four corner points, convertible to top/left/h/w) would
have been fine. Ours reproduces ``torchvision.transforms.v2.functional`` replayed per image to
~3e-6 (tests/test_augment.py).

Precision: crop-resize and blur are each two batched matmuls with per-sample matrices (exact
float32 bilinear / reflect-padded Gaussian weights); they stay float32-exact unless the caller
enables TF32 matmuls (off by default in PyTorch).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

from starssl.errors import ConfigError

PARAM_DIM = 11
PARAM_NAMES = ("top", "left", "height", "width", "flip", "brightness", "contrast",
               "saturation", "hue", "grayscale", "blur_sigma")  # fmt: skip
_IDENTITY_JITTER = (1.0, 1.0, 1.0, 0.0)
# Keys of the `augment` params section that belong to the caller, not to the pipeline.
_CALLER_KEYS = frozenset({"stats_samples"})


@dataclass(frozen=True)
class AugmentConfig:
    """The SimCLR recipe of §5; probabilities in [0, 1], ranges as (low, high)."""

    crop_scale: tuple[float, float] = (0.2, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel: int = 9

    def __post_init__(self) -> None:
        rules = [
            (n, "0 < low <= high", lambda v: 0 < v[0] <= v[1])
            for n in ("crop_scale", "crop_ratio", "blur_sigma")
        ]
        rules += [
            (n, "in [0, 1]", lambda v: 0 <= v <= 1)
            for n in ("flip_p", "jitter_p", "grayscale_p", "blur_p")
        ]
        rules += [(n, ">= 0", lambda v: v >= 0) for n in ("brightness", "contrast", "saturation")]
        rules += [
            ("hue", "in [0, 0.5]", lambda v: 0 <= v <= 0.5),
            ("blur_kernel", "odd and positive", lambda v: v >= 1 and v % 2 == 1),
        ]
        for name, rule, ok in rules:
            if not ok(getattr(self, name)):
                raise ConfigError(f"augment.{name} must be {rule}, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AugmentConfig:
        """Build from a params section (lists accepted for ranges); unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known - _CALLER_KEYS)
        if unknown:
            raise ConfigError(f"unknown augment parameter(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for key in known & set(d):
            value = d[key]
            if key in ("crop_scale", "crop_ratio", "blur_sigma"):
                if len(value) != 2:
                    raise ConfigError(f"augment.{key} must be [low, high], got {value}")
                value = (float(value[0]), float(value[1]))
            kwargs[key] = value
        return cls(**kwargs)


@dataclass
class AugParams:
    """Per-sample parameters of one batch of views, all CPU tensors with leading dim B."""

    top: torch.Tensor  # int64; crop box in pixels of the original image
    left: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor
    flip: torch.Tensor  # bool
    jitter: torch.Tensor  # bool: colour jitter applied
    jitter_factors: torch.Tensor  # float32 [B, 4]: brightness, contrast, saturation, hue
    jitter_order: torch.Tensor  # int64 [B, 4]: op indices (0 b, 1 c, 2 s, 3 h) in applied order
    grayscale: torch.Tensor  # bool
    blur_sigma: torch.Tensor  # float32; 0 where blur is skipped
    blur_kernel: int

    def as_vector(self) -> torch.Tensor:
        """The 11-d vector of §5 (float32 [B, 11]); the jitter order is deliberately absent."""
        cols = [self.top, self.left, self.height, self.width, self.flip]
        cols = [c.to(torch.float32).unsqueeze(1) for c in cols]
        tail = [self.grayscale.to(torch.float32).unsqueeze(1), self.blur_sigma.unsqueeze(1)]
        return torch.cat([*cols, self.jitter_factors, *tail], dim=1)


def _uniform(g: torch.Generator, lo: float, hi: float, *shape: int) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)


def _sample_crops(cfg: AugmentConfig, b: int, height: int, width: int, g: torch.Generator):
    """torchvision's RandomResizedCrop.get_params for B samples at once: 10 tries, then centre."""
    area = height * width
    target = area * _uniform(g, *cfg.crop_scale, b, 10)
    aspect = torch.exp(_uniform(g, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), b, 10))
    w = torch.round(torch.sqrt(target * aspect)).long()  # round half to even, like Python's round
    h = torch.round(torch.sqrt(target / aspect)).long()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = ok.to(torch.uint8).argmax(dim=1, keepdim=True)  # argmax returns the first maximum
    # Fallback (no try fits): the largest central crop whose ratio lies within crop_ratio.
    in_ratio = width / height
    if in_ratio < cfg.crop_ratio[0]:
        fw, fh = width, round(width / cfg.crop_ratio[0])
    elif in_ratio > cfg.crop_ratio[1]:
        fw, fh = round(height * cfg.crop_ratio[1]), height
    else:
        fw, fh = width, height
    found = ok.any(dim=1)
    h = torch.where(found, h.gather(1, first).squeeze(1), fh)
    w = torch.where(found, w.gather(1, first).squeeze(1), fw)
    u_top, u_left = torch.rand(2, b, generator=g, dtype=torch.float64)
    top = torch.where(found, (u_top * (height - h + 1)).long(), (height - fh) // 2)
    left = torch.where(found, (u_left * (width - w + 1)).long(), (width - fw) // 2)
    return top, left, h, w


def sample_params(
    cfg: AugmentConfig, batch: int, height: int, width: int, generator: torch.Generator
) -> AugParams:
    """Draw B independent parameter sets on the CPU; a pure function of the generator state.

    Every draw is made whatever the probabilities, so the stream layout never depends on cfg.
    """
    if generator.device.type != "cpu":
        raise ValueError("sample_params needs a CPU generator (draws must match across devices)")
    g = generator
    top, left, h, w = _sample_crops(cfg, batch, height, width, g)
    flip = torch.rand(batch, generator=g) < cfg.flip_p
    jitter = torch.rand(batch, generator=g) < cfg.jitter_p
    bcs = [(max(0.0, 1 - v), 1 + v) for v in (cfg.brightness, cfg.contrast, cfg.saturation)]
    ranges = torch.tensor([*bcs, (-cfg.hue, cfg.hue)], dtype=torch.float64)
    u = torch.rand(batch, 4, generator=g, dtype=torch.float64)
    factors = (ranges[:, 0] + (ranges[:, 1] - ranges[:, 0]) * u).to(torch.float32)
    identity = torch.tensor(_IDENTITY_JITTER, dtype=torch.float32)
    factors = torch.where(jitter.unsqueeze(1), factors, identity)
    order = torch.rand(batch, 4, generator=g).argsort(dim=1)  # a uniform random permutation
    gray = torch.rand(batch, generator=g) < cfg.grayscale_p
    blur = torch.rand(batch, generator=g) < cfg.blur_p
    sigma = _uniform(g, *cfg.blur_sigma, batch).to(torch.float32)
    sigma = torch.where(blur, sigma, 0.0)
    return AugParams(top, left, h, w, flip, jitter, factors, order, gray, sigma, cfg.blur_kernel)


def _resize_matrix(
    start: torch.Tensor, length: torch.Tensor, in_size: int, out_size: int, device: torch.device
) -> torch.Tensor:
    """[B, out, in] weights of torch's bilinear resize (align_corners=False, no antialias).

    Source coordinates, clamping and the two taps follow ATen's upsample kernels operation
    for operation in float32, so the crop-then-resize is reproduced exactly.
    """
    start, length = start.to(device), length.to(device)
    last = (length - 1).unsqueeze(1)
    scale = length.to(torch.float32).unsqueeze(1) / out_size
    dst = torch.arange(out_size, device=device, dtype=torch.float32)
    src = (scale * (dst + 0.5) - 0.5).clamp_min(0.0)
    i0 = src.floor().long().minimum(last)
    lam = (src - i0).clamp(0.0, 1.0)
    i1 = i0 + (i0 < last).long()
    m = torch.zeros(start.shape[0], out_size, in_size, device=device)
    m.scatter_add_(2, (start.unsqueeze(1) + i0).unsqueeze(2), (1.0 - lam).unsqueeze(2))
    m.scatter_add_(2, (start.unsqueeze(1) + i1).unsqueeze(2), lam.unsqueeze(2))
    return m


def _separable(x: torch.Tensor, my: torch.Tensor, mx: torch.Tensor) -> torch.Tensor:
    """out[b, c] = my[b] @ x[b, c] @ mx[b]ᵀ as two plain bmm calls (no broadcast copies)."""
    b, c, h, _ = x.shape
    t = torch.bmm(x.reshape(b, c * h, -1), mx.transpose(1, 2)).view(b, c, h, -1)
    out = torch.bmm(my, t.transpose(1, 2).reshape(b, h, -1)).view(b, my.shape[1], c, -1)
    return out.transpose(1, 2).contiguous()


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(dim=1)
    return (r * 0.2989 + g * 0.587 + b * 0.114).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (x * f + other * (1.0 - f)).clamp(0.0, 1.0)


def _brightness(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (x * f).clamp(0.0, 1.0)


def _contrast(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return _blend(x, _gray(x).mean(dim=(1, 2, 3), keepdim=True), f)


def _saturation(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return _blend(x, _gray(x), f)


# Channel offsets of the closed-form HSV→RGB: c = v - v·s·clamp(min(k, 4 - k), 0, 1) with
# k = (offset + 6h) mod 6; it equals the usual six-sector table (torchvision's) exactly in
# real arithmetic and avoids building an index tensor per pixel.
_HSV_OFFSETS = (5.0, 3.0, 1.0)


def _hue(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Shift hue by f turns via RGB→HSV→RGB with torchvision's adjust_hue conventions."""
    minc, maxc = torch.aminmax(x, dim=1, keepdim=True)
    delta = maxc - minc
    flat = delta == 0  # grey pixels: h = s = 0; avoid 0/0
    s = delta / torch.where(flat, 1.0, maxc)
    rc, gc, bc = ((maxc - x) / torch.where(flat, 1.0, delta)).split(1, dim=1)
    red, green = x[:, 0:1], x[:, 1:2]
    h = torch.where(maxc == red, bc - gc, torch.where(maxc == green, 2.0 + rc - bc, 4.0 + gc - rc))
    h6 = ((h * (1.0 / 6.0) + 1.0).fmod(1.0) + f).remainder(1.0) * 6.0
    k = (h6 + torch.tensor(_HSV_OFFSETS, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)) % 6.0
    return (maxc - maxc * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)).clamp(0.0, 1.0)


def _grayscale(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
    return _gray(x).expand_as(x)  # the second argument (a per-sample value) is unused


def _blur(x: torch.Tensor, sigma: torch.Tensor, kernel: int) -> torch.Tensor:
    """Per-sample Gaussian blur with reflect padding (torchvision's gaussian_blur).

    The reflect-padded 1-D convolution is a [size, size] matrix per sample, so the separable
    blur reuses the crop's two-matmul path.
    """
    half = kernel // 2
    taps = torch.arange(-half, half + 1, device=x.device)
    w = torch.softmax(-0.5 * (taps.to(x.dtype) / sigma.view(-1, 1)) ** 2, dim=1)  # [n, k]

    def matrix(size: int) -> torch.Tensor:
        pos = (torch.arange(size, device=x.device).unsqueeze(1) + taps).abs()  # reflect at 0
        pos = torch.where(pos > size - 1, 2 * (size - 1) - pos, pos)  # reflect at size - 1
        m = torch.zeros(w.shape[0], size, size, device=x.device, dtype=x.dtype)
        return m.scatter_add_(2, pos.expand(len(w), -1, -1), w.unsqueeze(1).expand(-1, size, -1))

    return _separable(x, matrix(x.shape[-2]), matrix(x.shape[-1]))


def _on_subset(
    x: torch.Tensor,
    mask: torch.Tensor,
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    values: torch.Tensor,
) -> None:
    """x[mask] = fn(x[mask], values[mask]) in place; mask and values live on the CPU, so the
    index computation never waits for the device."""
    sel = mask.nonzero().squeeze(1)
    if sel.numel() == 0:
        return
    idx = sel.to(x.device)
    v = values[sel].to(x.device, x.dtype).view(-1, 1, 1, 1)
    x.index_copy_(0, idx, fn(x.index_select(0, idx), v))


_JITTER_OPS = (_brightness, _contrast, _saturation, _hue)


def apply_params(images01: torch.Tensor, params: AugParams, out_size: int) -> torch.Tensor:
    """Apply recorded parameters to float images in [0, 1] ``[B, 3, H, W]`` on their device."""
    if images01.ndim != 4 or images01.shape[1] != 3 or not images01.is_floating_point():
        raise ValueError(f"expected float images [B, 3, H, W], got {tuple(images01.shape)}")
    b, _, height, width = images01.shape
    if params.top.shape[0] != b:
        raise ValueError(f"params are for {params.top.shape[0]} samples, images for {b}")
    if bool(((params.top + params.height > height) | (params.left + params.width > width)).any()):
        raise ValueError("crop boxes exceed the image; params were sampled for another size")
    dev, dt = images01.device, images01.dtype
    wy = _resize_matrix(params.top, params.height, height, out_size, dev).to(dt)
    wx = _resize_matrix(params.left, params.width, width, out_size, dev)
    # A horizontal flip of the output is a reversal of the output columns.
    wx = torch.where(params.flip.to(dev).view(-1, 1, 1), wx.flip(1), wx).to(dt)
    x = _separable(images01, wy, wx)
    for pos in range(4):
        for op_id, op in enumerate(_JITTER_OPS):
            mask = params.jitter & (params.jitter_order[:, pos] == op_id)
            _on_subset(x, mask, op, params.jitter_factors[:, op_id])
    _on_subset(x, params.grayscale, _grayscale, params.grayscale)
    blur = functools.partial(_blur, kernel=params.blur_kernel)
    _on_subset(x, params.blur_sigma > 0, blur, params.blur_sigma)
    return x


class BatchAugment:
    """``(images01, generator) -> (views01 [B, 3, S, S], params [B, 11])`` on the images' device."""

    def __init__(self, cfg: AugmentConfig, out_size: int) -> None:
        if out_size < 1:
            raise ConfigError(f"augmentation output size must be positive, got {out_size}")
        if cfg.blur_p > 0 and cfg.blur_kernel // 2 >= out_size:
            raise ConfigError(
                f"augment.blur_kernel {cfg.blur_kernel} is too large for {out_size} px views "
                f"(reflect padding needs kernel // 2 < size); shrink it or set blur_p 0"
            )
        self.cfg = cfg
        self.out_size = out_size

    def __call__(
        self, images01: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, height, width = images01.shape
        params = sample_params(self.cfg, b, height, width, generator)
        views = apply_params(images01, params, self.out_size)
        return views, params.as_vector().to(images01.device)


def parameter_stats(
    cfg: AugmentConfig, height: int, width: int, out_size: int, num_samples: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std (float32 [11]) of the parameter vector, from ``num_samples`` draws.

    The draws come from the very sampler BatchAugment uses. The vector does not depend on the
    pixels or on ``out_size`` (crop boxes are in source pixels); ``out_size`` is checked so a
    pipeline that BatchAugment would refuse cannot get statistics. A dimension that never
    varies (e.g. σ when blur_p = 0) gets std 1: standardising it then yields 0, not NaN.
    """
    BatchAugment(cfg, out_size)  # validates the pipeline
    if num_samples < 2:
        raise ConfigError(f"parameter statistics need at least 2 samples, got {num_samples}")
    vec = sample_params(cfg, num_samples, height, width, torch.Generator().manual_seed(seed))
    v = vec.as_vector().to(torch.float64)
    mean, std = v.mean(dim=0), v.std(dim=0)
    std = torch.where(std > 1e-8 * (1.0 + mean.abs()), std, torch.ones_like(std))
    return mean.to(torch.float32), std.to(torch.float32)
