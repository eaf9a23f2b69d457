"""Raw samples and their conversion to uint8 RGB tensors [N, 3, S, S].

Eval-time preprocessing follows §7 and AugSelf's torchvision transforms on PIL images:
``Resize(S, BICUBIC)`` (shorter side to S) then ``CenterCrop(S)``; greyscale becomes RGB.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from starssl.errors import DataError

_CHUNK = 512


@dataclass
class Samples:
    """One raw part of a dataset: either image files or an in-memory uint8 array.

    ``array`` is a uint8 tensor [N, C, H, W] with C = 1 (greyscale) or 3 (RGB).
    """

    labels: np.ndarray
    class_names: list[str]
    files: list[str] | None = None
    array: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Bicubic resize of the shorter side to ``size``, then a centred ``size`` x ``size`` crop.

    Same arithmetic as torchvision's ``Resize(size, BICUBIC)`` + ``CenterCrop(size)`` on PIL.
    """
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if w <= h else (new_long, size)
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.BICUBIC)
    top = round((new_h - size) / 2.0)
    left = round((new_w - size) / 2.0)
    return img.crop((left, top, left + size, top + size))


def _to_chw3(arr: np.ndarray) -> torch.Tensor:
    """HW or HWC (C in 1, 3) uint8 array -> [3, H, W] tensor (greyscale replicated)."""
    t = torch.from_numpy(np.ascontiguousarray(arr))
    t = t.unsqueeze(-1) if t.ndim == 2 else t
    return t.permute(2, 0, 1).expand(3, -1, -1) if t.shape[-1] == 1 else t.permute(2, 0, 1)


def _decode(path: str) -> Image.Image | torch.Tensor:
    """Decode one file: libjpeg-turbo for plain 1- or 3-channel JPEGs, PIL for all else.

    Both decoders give identical pixels for such JPEGs (checked in the tests); anything else
    (CMYK JPEG, PNG, palette images) goes through PIL's ``convert("RGB")`` like AugSelf.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\xff\xd8":
        try:
            buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            t = decode_jpeg(buf, mode=ImageReadMode.UNCHANGED)
            if t.shape[0] in (1, 3):
                return t
        except RuntimeError:
            pass  # unusual JPEG variants: let PIL decide
    with Image.open(path) as img:
        return img.convert("RGB") if img.mode not in ("RGB", "L") else img.copy()


def _finish(img: Image.Image | torch.Tensor | np.ndarray, size: int | None) -> torch.Tensor:
    """Decoded image -> [3, S, S] uint8 (resized and cropped when ``size`` is given)."""
    if isinstance(img, torch.Tensor):  # [C, H, W] from decode_jpeg or an array dataset
        if size is None or img.shape[1:] == (size, size):
            return img.expand(3, -1, -1) if img.shape[0] == 1 else img
        arr = img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()
        img = Image.fromarray(np.ascontiguousarray(arr))
    if isinstance(img, Image.Image):
        img = np.array(resize_center_crop(img, size) if size is not None else img)  # writable copy
    return _to_chw3(img)


def _image(samples: Samples, i: int, size: int | None) -> torch.Tensor:
    src = samples.array[i] if samples.array is not None else _decode(samples.files[i])
    return _finish(src, size)


def _fill(out: torch.Tensor, samples: Samples, lo: int, hi: int, size: int | None) -> None:
    for i in range(lo, hi):
        img = _image(samples, i, size)
        if img.shape != out.shape[1:]:
            where = samples.files[i] if samples.files is not None else f"image {i}"
            raise DataError(
                f"{where} is {tuple(img.shape[1:])} but earlier images are "
                f"{tuple(out.shape[2:])}; give an image size to resize them all"
            )
        out[i] = img


def materialize(samples: Samples, size: int | None, workers: int | None = None) -> torch.Tensor:
    """All samples as one contiguous uint8 tensor [N, 3, S, S]; ``size`` None keeps native size.

    Chunks run in threads (JPEG decoding and PIL resizing release the GIL) and write straight
    into the preallocated result, so peak memory stays near the size of the result.
    """
    n = len(samples)
    if samples.array is not None and (size is None or samples.array.shape[2:] == (size, size)):
        return samples.array.expand(-1, 3, -1, -1).contiguous()  # fast path: no per-image work
    if n == 0:
        return torch.empty(0, 3, size or 0, size or 0, dtype=torch.uint8)
    first = _image(samples, 0, size)
    out = torch.empty((n, *first.shape), dtype=torch.uint8)
    out[0] = first
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        bounds = [(lo, min(lo + _CHUNK, n)) for lo in range(1, n, _CHUNK)]
        for job in [pool.submit(_fill, out, samples, lo, hi, size) for lo, hi in bounds]:
            job.result()
    return out
