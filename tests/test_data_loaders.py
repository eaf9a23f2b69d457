"""End-to-end data layer on tiny generated datasets: mirror -> raw -> split -> cache."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from safetensors.torch import load_file
from torch.utils.data import random_split

from fixtures.data_fixtures import tar_folder, write_fashion_gz, write_image_tree, write_sums
from starssl.data import (
    REGISTRY,
    DataConfig,
    dataset_status,
    format_dataset_table,
    list_datasets,
    load_pretrain_images,
    load_split,
    prepare,
)
from starssl.data.registry import IndexSplit, RandomSplit
from starssl.errors import ConfigError, DataError

CLASSES = ["airplane", "automobile"]


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    """A 2-class CIFAR-like JPEG mirror (5+5 train, 2+2 test, 8x8) and a shrunk registry entry."""
    src = tmp_path / "src"
    write_image_tree(src, {"train": dict.fromkeys(CLASSES, 5), "test": dict.fromkeys(CLASSES, 2)})
    mirror = tmp_path / "mirror"
    (mirror / "cifar10-jpg").mkdir(parents=True)
    tar_folder(mirror / "cifar10-jpg" / "cifar10-jpg.tar.gz", src, "cifar10-jpg")
    write_sums(mirror)
    info = dataclasses.replace(
        REGISTRY["cifar10"],
        num_classes=2,
        pretrain_size=8,
        split=RandomSplit("train", (7, 3), 43, test_count=4),
    )
    monkeypatch.setitem(REGISTRY, "cifar10", info)
    return DataConfig(root=tmp_path / "root", mirror=mirror), src


def _oracle(folder: Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision ImageFolder + AugSelf's eval transform, image by image."""
    tf = torchvision.transforms.Compose(
        [
            torchvision.transforms.Resize(size, interpolation=Image.BICUBIC),
            torchvision.transforms.CenterCrop(size),
            torchvision.transforms.PILToTensor(),
        ]
    )
    ds = torchvision.datasets.ImageFolder(str(folder), transform=tf)
    return torch.stack([x for x, _ in ds]), torch.tensor(ds.targets)


@pytest.mark.parametrize("size", [8, 12])
def test_mirror_splits_match_imagefolder_and_random_split(cifar, size):
    cfg, src = cifar
    images, labels = _oracle(src / "train", size)
    ref = random_split(range(10), [7, 3], generator=torch.Generator().manual_seed(43))
    for split, idx in (("train", ref[0].indices), ("val", ref[1].indices)):
        d = load_split("cifar10", split, cfg, size)
        assert torch.equal(d.images, images[idx]) and torch.equal(d.labels, labels[idx])
        assert (d.name, d.split, d.metric, d.num_classes) == ("cifar10", split, "top1", 2)
        assert d.class_names == CLASSES
    test = load_split("cifar10", "test", cfg, size)
    assert torch.equal(test.images, _oracle(src / "test", size)[0])
    trainval = load_split("cifar10", "trainval", cfg, size)
    order = list(ref[0].indices) + list(ref[1].indices)
    assert torch.equal(trainval.images, images[order]) and len(trainval) == 10


def test_cache_roundtrip_is_exact_and_pickle_free(cifar, monkeypatch):
    cfg, _ = cifar
    first = load_split("cifar10", "val", cfg, 8)
    monkeypatch.setattr("starssl.data.loaders.open_source", lambda *a: pytest.fail("re-decoded"))
    second = load_split("cifar10", "val", cfg, 8)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    tensors = load_file(cfg.root / "cache" / "cifar10_val_8px.safetensors")
    assert set(tensors) == {"images", "labels"}
    assert tensors["images"].dtype == torch.uint8 and tensors["labels"].dtype == torch.int64


def test_cache_write_is_atomic(cifar, monkeypatch):
    cfg, _ = cifar

    def crash(tensors, path, metadata=None):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr("starssl.data.cache.save_file", crash)
    with pytest.raises(RuntimeError, match="simulated"):
        load_split("cifar10", "test", cfg, 8)
    assert list((cfg.root / "cache").iterdir()) == []  # no finished-looking file, no temp file
    monkeypatch.undo()
    monkeypatch.setitem(
        REGISTRY,
        "cifar10",
        dataclasses.replace(
            REGISTRY["cifar10"], num_classes=2, split=RandomSplit("train", (7, 3), 43)
        ),
    )
    assert len(load_split("cifar10", "test", cfg, 8)) == 4


def test_corrupt_mirror_is_refused_before_use(cifar):
    cfg, _ = cifar
    archive = cfg.mirror / "cifar10-jpg" / "cifar10-jpg.tar.gz"
    data = bytearray(archive.read_bytes())
    data[100] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"checksum mismatch.*cifar10-jpg\.tar\.gz"):
        load_split("cifar10", "test", cfg, 8)
    assert not (cfg.root / "cifar10-jpg").exists()


@pytest.fixture
def fashion(tmp_path, monkeypatch):
    arrays = write_fashion_gz(tmp_path / "mirror" / "fashion-mnist", n_train=12, n_test=4)
    write_sums(tmp_path / "mirror")
    info = dataclasses.replace(
        REGISTRY["fashion_mnist"], split=RandomSplit("train", (9, 3), 42, test_count=4)
    )
    monkeypatch.setitem(REGISTRY, "fashion_mnist", info)
    return tmp_path, arrays


def test_fashion_idx_from_mirror_readable_by_torchvision(fashion):
    tmp_path, arrays = fashion
    cfg = DataConfig(root=tmp_path / "root", mirror=tmp_path / "mirror")
    test = load_split("fashion_mnist", "test", cfg, 28)
    expect = torch.from_numpy(arrays["t10k-images-idx3"]).unsqueeze(1).expand(-1, 3, -1, -1)
    assert torch.equal(test.images, expect)
    assert test.labels.tolist() == arrays["t10k-labels-idx1"].tolist()
    tv = torchvision.datasets.FashionMNIST(str(cfg.root), train=True)
    assert np.array_equal(tv.data.numpy(), arrays["train-images-idx3"])
    train = load_split("fashion_mnist", "train", cfg, 28)
    idx = random_split(range(12), [9, 3], generator=torch.Generator().manual_seed(42))[0].indices
    assert torch.equal(train.images[:, 0], torch.from_numpy(arrays["train-images-idx3"][idx]))


def test_torchvision_download_path_and_failures(fashion, monkeypatch):
    tmp_path, _ = fashion
    calls = []

    def fake_download(url, download_root, filename=None, md5=None, **kw):
        calls.append(url)  # torchvision's own download loop, served from local files
        shutil.copy(tmp_path / "mirror" / "fashion-mnist" / filename, download_root)
        torchvision.datasets.utils.extract_archive(str(Path(download_root) / filename))

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", fake_download)
    with pytest.raises(DataError) as err:
        load_split("fashion_mnist", "test", DataConfig(root=tmp_path / "r1"), 28)
    assert "STARSSL_DATA_MIRROR" in str(err.value) and "data.download" in str(err.value)
    assert calls == []
    d = load_split("fashion_mnist", "test", DataConfig(root=tmp_path / "r2", download=True), 28)
    assert len(calls) == 4 and len(d) == 4

    def offline(*a, **kw):
        raise URLError("no route to host")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    with pytest.raises(DataError, match=r"download into .* failed") as err:
        load_split("fashion_mnist", "test", DataConfig(root=tmp_path / "r3", download=True), 28)
    assert "\n" not in str(err.value)


def test_manual_dataset_gives_one_line_error(tmp_path):
    with pytest.raises(DataError) as err:
        load_split("mit67", "test", DataConfig(root=tmp_path), 32)
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "mit67") in msg and "place MIT Indoor-67" in msg
    with pytest.raises(DataError, match="no split 'train'"):
        load_split("fc100", "train", DataConfig(root=tmp_path), 32)
    with pytest.raises(DataError, match="unknown split"):
        load_split("mit67", "all", DataConfig(root=tmp_path), 32)


def test_index_json_dataset(tmp_path, monkeypatch):
    root = tmp_path / "root"
    write_image_tree(root / "toy", {"train": {"a": 3, "b": 3}, "test": {"a": 1, "b": 1}}, (9, 7))
    lists = {"train": [4, 0, 2, 5], "val": [1, 3]}
    (tmp_path / "idx.json").write_text(json.dumps(lists))
    rule = IndexSplit(str(tmp_path / "idx.json"), "train", 6, {"train": 4, "val": 2}, "test", 2)
    info = dataclasses.replace(
        REGISTRY["cub200"], name="toy", raw_dir="toy", num_classes=2, split=rule
    )
    monkeypatch.setitem(REGISTRY, "toy", info)
    cfg = DataConfig(root=root)
    images, labels = _oracle(root / "toy" / "train", 7)
    for split, idx in lists.items():
        d = load_split("toy", split, cfg, 7)
        assert torch.equal(d.images, images[idx]) and torch.equal(d.labels, labels[idx])
    pool = load_split("toy", "fewshot", cfg, 7)  # CUB few-shot: train folder then test folder
    assert torch.equal(pool.images, torch.cat([images, _oracle(root / "toy" / "test", 7)[0]]))
    monkeypatch.setitem(
        REGISTRY, "toy", dataclasses.replace(info, split=dataclasses.replace(rule, part_size=7))
    )
    shutil.rmtree(root / "cache")
    with pytest.raises(DataError, match="has 6 images but the protocol expects exactly 7"):
        load_split("toy", "train", cfg, 7)
    monkeypatch.setitem(REGISTRY, "toy", dataclasses.replace(info, num_classes=3))
    with pytest.raises(DataError, match="found 2 classes, expected 3"):
        load_split("toy", "val", cfg, 7)


def test_status_listing(cifar, tmp_path):
    cfg, _ = cifar
    assert dataset_status("cifar10", cfg) == "ready"  # in the mirror, not yet extracted
    assert dataset_status("cifar10", DataConfig(root=cfg.root)) == "downloadable"
    assert dataset_status("fashion_mnist", cfg) == "downloadable"
    assert dataset_status("mit67", cfg) == "manual"
    (cfg.root / "mit67").mkdir(parents=True)
    assert dataset_status("mit67", cfg) == "ready"
    load_split("cifar10", "test", cfg, 8)
    rows = {r["name"]: r for r in list_datasets(cfg)}
    assert set(rows) == set(REGISTRY) and rows["cifar10"]["cached_sizes"] == [8]
    assert rows["cifar10"]["hint"].startswith("cifar10-jpg JPEG copy")
    table = format_dataset_table(list(rows.values())).splitlines()
    assert table[0].split()[:3] == ["dataset", "status", "classes"]
    assert len(table) == 1 + len(REGISTRY) and table[1].split()[:2] == ["cifar10", "ready"]


def test_prepare_summary_and_byte_stable_caches(cifar):
    cfg, _ = cifar
    summary = prepare("cifar10", cfg, 8, pretrain=True)
    counts = {k: v["count"] for k, v in summary["splits"].items()}
    assert counts == {"train": 7, "val": 3, "test": 4, "pretrain": 10}
    for entry in summary["splits"].values():
        assert (
            entry["sha256"] == hashlib.sha256((cfg.root / entry["file"]).read_bytes()).hexdigest()
        )
    shutil.rmtree(cfg.root / "cache")
    assert prepare("cifar10", cfg, 8, pretrain=True) == summary


def test_pretrain_images_and_seeded_subset(cifar):
    cfg, src = cifar
    full = load_pretrain_images("cifar10", cfg)
    assert full.shape == (10, 3, 8, 8) and full.dtype == torch.uint8
    assert torch.equal(full, _oracle(src / "train", 8)[0])
    sub = load_pretrain_images("cifar10", cfg, subset=4, seed=3)
    keep = torch.randperm(10, generator=torch.Generator().manual_seed(3))[:4].sort().values
    assert torch.equal(sub, full[keep])
    assert torch.equal(sub, load_pretrain_images("cifar10", cfg, subset=4, seed=3))
    with pytest.raises(DataError, match="subset"):
        load_pretrain_images("cifar10", cfg, subset=11)
    with pytest.raises(DataError, match="not a pretraining dataset"):
        load_pretrain_images("cifar100", cfg)


def test_data_config_from_params(monkeypatch):
    monkeypatch.delenv("STARSSL_DATA_MIRROR", raising=False)
    cfg = DataConfig.from_params({"data": {"root": "d", "mirror": "m", "download": True}})
    assert cfg == DataConfig(Path("d"), Path("m"), True) and cfg.cache_dir == Path("d/cache")
    assert DataConfig.from_params({"seed": 1}) == DataConfig()
    monkeypatch.setenv("STARSSL_DATA_MIRROR", "/elsewhere")
    assert DataConfig.from_params({"data": {"mirror": "m"}}).mirror == Path("/elsewhere")
    with pytest.raises(ConfigError, match="unknown keys"):
        DataConfig.from_params({"data": {"rooot": "d"}})
    with pytest.raises(ConfigError, match="download"):
        DataConfig.from_params({"data": {"download": "yes"}})
