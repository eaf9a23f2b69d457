"""Speed of starssl.augment against kornia's equivalent pipeline (the choice made in augment.py).

Usage: python bench/bench_augment.py [--batch 256] [--sizes 32 96] [--repeats 5] [--threads N]
          [--device cpu]

Per size, input and output have that size (CIFAR 32→32, STL10 96→96); blur follows the
project's profiles: off at 32 px, p 0.5 with kernel 9 otherwise. Prints the median and the
minimum wall time per batch of one view, and the shape of kornia's sampled colour-jitter
order ([4]: one order per batch, not per sample as torchvision does).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import kornia.augmentation as K
import torch

from starssl.augment import AugmentConfig, BatchAugment


def _config(size: int) -> AugmentConfig:
    return AugmentConfig(blur_p=0.0 if size <= 32 else 0.5, blur_kernel=9)


def _kornia(cfg: AugmentConfig, size: int) -> torch.nn.Module:
    """The same recipe with kornia 0.9's torchvision-like modules."""
    k = cfg.blur_kernel
    ops = [
        K.RandomResizedCrop(
            (size, size), scale=cfg.crop_scale, ratio=cfg.crop_ratio, align_corners=False
        ),
        K.RandomHorizontalFlip(p=cfg.flip_p),
        K.ColorJitter(cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, p=cfg.jitter_p),
        K.RandomGrayscale(p=cfg.grayscale_p),
    ]
    if cfg.blur_p > 0:
        ops.append(K.RandomGaussianBlur((k, k), cfg.blur_sigma, p=cfg.blur_p))
    return K.AugmentationSequential(*ops)


def _time(fn: Callable[[], object], repeats: int, device: torch.device) -> tuple[float, float]:
    """(median, min) seconds per call; the min is the better figure on a shared host."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 96])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {args.threads} threads, device {device}, batch {args.batch}")
    for size in args.sizes:
        cfg = _config(size)
        x = torch.rand(args.batch, 3, size, size, generator=torch.Generator().manual_seed(0))
        x = x.to(device)
        ours = BatchAugment(cfg, size)
        gen = torch.Generator().manual_seed(1)
        kornia_aug = _kornia(cfg, size).to(device)
        t_ours = _time(lambda: ours(x, gen), args.repeats, device)  # noqa: B023
        t_kornia = _time(lambda: kornia_aug(x), args.repeats, device)  # noqa: B023
        print(f"{size:4d} px  blur_p {cfg.blur_p}: median/min starssl {t_ours[0]:.3f}/"
              f"{t_ours[1]:.3f} s   kornia {t_kornia[0]:.3f}/{t_kornia[1]:.3f} s")  # fmt: skip
    jitter = K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8)
    order = jitter.forward_parameters(torch.Size([args.batch, 3, 8, 8]))["order"]
    print(f"kornia ColorJitter order shape for a batch of {args.batch}: {tuple(order.shape)}")


if __name__ == "__main__":
    main()
