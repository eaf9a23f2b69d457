"""Raw-format readers: find a dataset under the root, or fetch it (mirror, torchvision download).

Each reader turns one raw *part* (``train``, ``test``, ``unlabeled``, ...) into ``Samples`` in
the order the reference code (AugSelf / the STAR release) iterates it, because seeded splits
and index files select samples by position.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision.datasets as tvd
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from starssl.data.config import MIRROR_ENV
from starssl.data.images import Samples
from starssl.errors import DataError


@dataclass(frozen=True)
class Source:
    """Where a dataset's raw data was found (``origin``, recorded with caches) and its reader."""

    origin: str
    read: Callable[[str], Samples]


def package_file(name: str) -> Path:
    """A data file shipped in ``starssl/data/splits/`` (split indices, class lists)."""
    return Path(str(resources.files("starssl.data").joinpath("splits", name)))


def imagefolder(folder: Path, classes: list[str] | None = None) -> Samples:
    """ImageFolder order (torchvision's own ``make_dataset``); ``classes`` fixes label ids."""
    if not folder.is_dir():
        raise DataError(f"image folder {folder} is missing")
    if classes is None:
        classes = find_classes(str(folder))[0]
    try:
        items = make_dataset(str(folder), {c: i for i, c in enumerate(classes)}, IMG_EXTENSIONS)
    except FileNotFoundError as err:
        raise DataError(f"image folder {folder}: {err}".replace("\n", " ")) from None
    labels = np.array([y for _, y in items], dtype=np.int64)
    return Samples(labels, list(classes), files=[p for p, _ in items])


def _arrays(data: Any, labels: Any, classes: list[str], layout: str) -> Samples:
    t = torch.as_tensor(data)
    t = {"NHWC": lambda: t.permute(0, 3, 1, 2), "NHW": lambda: t.unsqueeze(1)}.get(
        layout, lambda: t
    )()
    return Samples(np.asarray(labels, dtype=np.int64), list(classes), array=t)


def _files(files: Any, labels: Any, classes: list[str]) -> Samples:
    return Samples(np.asarray(labels, dtype=np.int64), list(classes), files=[str(f) for f in files])


def _caltech(ds: Any) -> Samples:
    files = [
        os.path.join(ds.root, "101_ObjectCategories", ds.categories[y], f"image_{i:04d}.jpg")
        for i, y in zip(ds.index, ds.y, strict=True)
    ]
    return _files(files, ds.y, ds.categories)


@dataclass(frozen=True)
class _TV:
    """A torchvision dataset class: ``parts`` maps part -> constructor kwargs."""

    cls: str
    parts: dict[str, dict[str, Any]]
    extract: Callable[[Any], Samples]

    def read(self, root: Path, part: str) -> Samples:
        return self.extract(getattr(tvd, self.cls)(str(root), download=False, **self.parts[part]))

    def download(self, root: Path, name: str) -> None:
        kwargs = next(iter(self.parts.values()))  # every class fetches all parts at once
        try:
            getattr(tvd, self.cls)(str(root), download=True, **kwargs)
        except (OSError, RuntimeError) as err:  # URLError is an OSError
            msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataError(
                f"{name}: torchvision download into {root} failed ({msg}); check the internet "
                f"connection, or set {MIRROR_ENV}, or place the files by hand"
            ) from None


_split = lambda *names: {n: {"split": n} for n in names}  # noqa: E731
_TVT = ("train", "val", "test")
_TRAIN_TEST = {"train": {"train": True}, "test": {"train": False}}
TORCHVISION: dict[str, _TV] = {
    "cifar10": _TV("CIFAR10", _TRAIN_TEST, lambda d: _arrays(d.data, d.targets, d.classes, "NHWC")),
    "cifar100": _TV("CIFAR100", _TRAIN_TEST,
                    lambda d: _arrays(d.data, d.targets, d.classes, "NHWC")),
    "fashion_mnist": _TV("FashionMNIST", _TRAIN_TEST,
                         lambda d: _arrays(d.data, d.targets, d.classes, "NHW")),
    "stl10": _TV(
        "STL10", _split("train", "test", "unlabeled"),
        lambda d: _arrays(d.data, d.labels, d.classes, "NCHW"),
    ),
    "pets": _TV("OxfordIIITPet", _split("trainval", "test"),
                lambda d: _files(d._images, d._labels, d.classes)),
    "flowers102": _TV("Flowers102", _split(*_TVT),
                      lambda d: _files(d._image_files, d._labels, d.classes)),
    "fgvc_aircraft": _TV(
        "FGVCAircraft", {n: {"split": n, "annotation_level": "variant"} for n in _TVT},
        lambda d: _files(d._image_files, d._labels, d.classes),
    ),
    "dtd": _TV("DTD", {n: {"split": n, "partition": 1} for n in _TVT},
               lambda d: _files(d._image_files, d._labels, d.classes)),
    "caltech101": _TV("Caltech101", {"all": {"target_type": "category"}}, _caltech),
    "food101": _TV("Food101", _split("train", "test"), lambda d: d),  # read by food101() below
}  # fmt: skip


def food101(base: Path, part: str) -> Samples:
    """AugSelf's Food-101 order: classes in ``meta/classes.txt`` order, then the JSON lists."""
    classes = (base / "meta" / "classes.txt").read_text().split()
    listing = json.loads((base / "meta" / f"{part}.json").read_text())
    files = [str(base / "images" / f"{p}.jpg") for c in classes for p in listing[c]]
    labels = [i for i, c in enumerate(classes) for _ in listing[c]]
    return _files(files, labels, classes)


def sun397(base: Path, part: str) -> Samples:
    """AugSelf's SUN397 reader: partition 01 list; a path's class is the first class in
    ``ClassName.txt`` order whose name is a folder prefix of the path (unmatched paths dropped)."""
    names = (base / "ClassName.txt").read_text().split()
    order = {c: i for i, c in enumerate(names)}
    listing = (base / f"{'Training' if part == 'train' else 'Testing'}_01.txt").read_text().split()
    files, labels = [], []
    for path in listing:
        dirs = path.split("/")[:-1]
        hits = [order[p] for k in range(1, len(dirs) + 1) if (p := "/".join(dirs[:k])) in order]
        if hits:
            files.append(str(base / path.lstrip("/")))
            labels.append(min(hits))
    return _files(files, labels, [n.lstrip("/") for n in names])
