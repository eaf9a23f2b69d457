"""Eval-time preprocessing and decoding against PIL / torchvision oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

from fixtures.data_fixtures import random_image
from starssl.data.images import Samples, materialize, resize_center_crop
from starssl.errors import DataError


def _pil_oracle(path_or_img, size: int | None) -> torch.Tensor:
    """AugSelf's eval transform on PIL: convert RGB, Resize(size, BICUBIC), CenterCrop(size)."""
    img = Image.open(path_or_img) if not isinstance(path_or_img, Image.Image) else path_or_img
    img = img.convert("RGB")
    if size is not None:
        img = T.Compose(
            [T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size)]
        )(img)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)


@pytest.mark.parametrize("wh", [(32, 32), (50, 37), (37, 50), (97, 96), (20, 41), (200, 97)])
@pytest.mark.parametrize("size", [32, 96])
def test_resize_center_crop_matches_torchvision(wh, size):
    img = random_image(np.random.default_rng(sum(wh)), *wh)
    ours = np.array(resize_center_crop(img, size))
    ref = np.array(TF.center_crop(TF.resize(img, size, TF.InterpolationMode.BICUBIC), size))
    assert ours.shape == (size, size, 3)
    np.testing.assert_array_equal(ours, ref)


def _files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    specs = [
        ("rgb.jpg", "RGB", {}),
        ("grey.jpg", "L", {}),
        ("plain.png", "RGB", {}),
        ("sub444.jpg", "RGB", {"subsampling": 0}),
        ("prog.jpg", "RGB", {"progressive": True}),
    ]
    for name, mode, kw in specs:
        random_image(rng, 45, 30, mode).save(tmp_path / name, quality=85, **kw)
        paths.append(tmp_path / name)
    random_image(rng, 45, 30).convert("P").save(tmp_path / "palette.png")
    random_image(rng, 45, 30).convert("CMYK").save(tmp_path / "cmyk.jpg")
    return [*paths, tmp_path / "palette.png", tmp_path / "cmyk.jpg"]


@pytest.mark.parametrize("size", [24, 64])
def test_file_decoding_matches_pil_pipeline(tmp_path, size):
    paths = _files(tmp_path)
    samples = Samples(np.zeros(len(paths), np.int64), ["a"], files=[str(p) for p in paths])
    out = materialize(samples, size, workers=2)
    assert out.shape == (len(paths), 3, size, size) and out.dtype == torch.uint8
    for i, p in enumerate(paths):
        assert torch.equal(out[i], _pil_oracle(p, size)), p.name


def test_native_size_decoding_and_size_mismatch(tmp_path):
    paths = _files(tmp_path)[:2]  # rgb and greyscale JPEGs, both 45x30
    samples = Samples(np.zeros(2, np.int64), ["a"], files=[str(p) for p in paths])
    out = materialize(samples, None)
    assert out.shape == (2, 3, 30, 45)
    assert torch.equal(out[1], _pil_oracle(paths[1], None))  # greyscale replicated to RGB
    random_image(np.random.default_rng(1), 10, 10).save(tmp_path / "small.jpg")
    samples.files.append(str(tmp_path / "small.jpg"))
    samples.labels = np.zeros(3, np.int64)
    with pytest.raises(DataError, match=r"small\.jpg"):
        materialize(samples, None, workers=1)


@pytest.mark.parametrize("channels", [1, 3])
def test_array_samples_native_and_resized(channels):
    arr = torch.randint(0, 256, (5, channels, 28, 28), dtype=torch.uint8)
    samples = Samples(np.arange(5), ["a"], array=arr)
    native = materialize(samples, 28)
    assert torch.equal(native, arr.expand(-1, 3, -1, -1))
    resized = materialize(samples, 40)
    for i in range(5):
        a = arr[i, 0].numpy() if channels == 1 else arr[i].permute(1, 2, 0).numpy()
        assert torch.equal(resized[i], _pil_oracle(Image.fromarray(a), 40))
