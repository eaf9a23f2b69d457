"""Find a dataset's raw data under the root, or bring it there from the mirror or by download."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from starssl.data.config import MIRROR_ENV, DataConfig
from starssl.data.mirror import gunzip_to, read_sums, safe_extract, verify_file
from starssl.data.registry import DatasetInfo
from starssl.data.sources import TORCHVISION, Source, food101, imagefolder, package_file, sun397
from starssl.errors import DataError

_CIFAR_JPG = "cifar10-jpg"
_CIFAR_BIN = "cifar-10-batches-py"
_FMNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip


def _tv_source(info: DatasetInfo, root: Path, origin: str = "") -> Source:
    tv = TORCHVISION[info.reader]
    return Source(origin or f"torchvision {tv.cls} files", lambda part: tv.read(root, part))


def local_source(info: DatasetInfo, cfg: DataConfig) -> Source | None:
    """The dataset's raw data if it is already under ``cfg.root`` (cheap: no hashing)."""
    root = cfg.root
    if info.reader == "cifar10":
        if (root / _CIFAR_BIN).is_dir():
            return _tv_source(info, root, "torchvision CIFAR10 binary release")
        jpg = root / _CIFAR_JPG
        if (jpg / "train").is_dir() and (jpg / "test").is_dir():
            return Source("cifar10-jpg JPEG copy (offline mirror)", lambda p: imagefolder(jpg / p))
        return None
    if info.reader == "fashion_mnist":
        raw = root / "FashionMNIST" / "raw"
        return (
            _tv_source(info, root, "Fashion-MNIST IDX files")
            if all((raw / f).is_file() for f in _FMNIST_FILES)
            else None
        )
    base = root / info.raw_dir
    if info.reader == "sun397":
        ok = all(
            (base / f).is_file() for f in ("ClassName.txt", "Training_01.txt", "Testing_01.txt")
        )
        return Source("SUN397 partition 01", lambda p: sun397(base, p)) if ok else None
    if not base.is_dir():
        return None
    if info.reader == "imagefolder":
        return Source(f"image folders {info.raw_dir}", lambda p: imagefolder(base / p))
    if info.reader == "imagenet":
        classes = package_file("imagenet100_classes.txt").read_text().split()
        return Source(
            "ImageNet folders, ImageNet-100 classes", lambda p: imagefolder(base / p, classes)
        )
    if info.reader == "food101":
        return Source("Food-101 files", lambda p: food101(base, p))
    return _tv_source(info, root)


def mirror_dir(cfg: DataConfig) -> Path | None:
    """The configured mirror folder, if it exists."""
    return cfg.mirror if cfg.mirror is not None and cfg.mirror.is_dir() else None


def mirror_has(info: DatasetInfo, cfg: DataConfig) -> bool:
    """Whether the mirror holds all of the dataset's files (not yet verified)."""
    mirror = mirror_dir(cfg)
    return (
        bool(info.mirror_files)
        and mirror is not None
        and all((mirror / f).is_file() for f in info.mirror_files)
    )


def _from_mirror(info: DatasetInfo, cfg: DataConfig) -> None:
    """Verify the dataset's mirror files, then unpack them into the root."""
    mirror = cfg.mirror
    assert mirror is not None
    sums = read_sums(mirror)
    paths = [verify_file(mirror, rel, sums) for rel in info.mirror_files]
    root = cfg.root
    root.mkdir(parents=True, exist_ok=True)
    if info.reader == "cifar10":
        # Extract beside the target, then rename: an interrupted extraction never looks done.
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
        try:
            safe_extract(paths[0], tmp)
            if not (tmp / _CIFAR_JPG).is_dir():
                raise DataError(f"mirror archive {paths[0]} has no top folder {_CIFAR_JPG}/")
            shutil.rmtree(root / _CIFAR_JPG, ignore_errors=True)
            os.replace(tmp / _CIFAR_JPG, root / _CIFAR_JPG)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif info.reader == "fashion_mnist":
        for path in paths:
            gunzip_to(path, root / "FashionMNIST" / "raw" / path.name.removesuffix(".gz"))


def missing_hint(info: DatasetInfo, cfg: DataConfig) -> str:
    """One clause saying how to get the data (used in errors and the status table)."""
    if info.availability == "manual":
        return info.how_to.replace("{root}", str(cfg.root))
    fetch = f"set data.download: true to fetch it with torchvision into {cfg.root}"
    if info.mirror_files:
        held = ", ".join(sorted({f.split("/")[0] + "/" for f in info.mirror_files}))
        mirror = f"set {MIRROR_ENV} (or data.mirror) to a mirror with SHA256SUMS and {held}"
        return f"{mirror}, or {fetch}"
    return fetch


def open_source(info: DatasetInfo, cfg: DataConfig) -> Source:
    """Raw data for ``info``: already local, else from the mirror, else downloaded."""
    source = local_source(info, cfg)
    if source is None and mirror_has(info, cfg):
        _from_mirror(info, cfg)
        source = local_source(info, cfg)
    if source is None and cfg.download and info.reader in TORCHVISION:
        TORCHVISION[info.reader].download(cfg.root, info.name)
        source = local_source(info, cfg)
    if source is None:
        where = cfg.root / info.raw_dir
        mirror = f" and mirror {cfg.mirror}" if cfg.mirror is not None and info.mirror_files else ""
        raise DataError(f"{info.name}: no data at {where}{mirror}; {missing_hint(info, cfg)}")
    return source
