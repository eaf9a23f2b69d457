"""Every dataset the project knows, with its facts and its exact §7 split logic, in one place.

Split sizes and seeds follow the STAR release (github YonseiML/star, ``datasets.py``,
``load_datasets``), which copies AugSelf's (github hankook/AugSelf, ``datasets.py``). Paths in
``how_to`` are relative to ``DataConfig.root`` (written ``{root}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starssl.errors import DataError


@dataclass(frozen=True)
class RandomSplit:
    """Seeded train/val split of one raw part, as ``torch.utils.data.random_split`` does it."""

    part: str
    sizes: tuple[int, int]
    seed: int
    test_part: str = "test"
    test_count: int | None = None


@dataclass(frozen=True)
class OfficialSplit:
    """The dataset's own train/val/test parts; ``counts`` (when known) are checked exactly."""

    train_part: str = "train"
    val_part: str = "val"
    test_part: str = "test"
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexSplit:
    """Index lists from a packaged JSON file (``splits/<file>``) into one raw part.

    ``part_size`` is the exact number of images the lists were made for; ``counts`` the exact
    length of each list. ``test_part`` None means the test set is the file's ``test`` list.
    """

    file: str
    part: str
    part_size: int
    counts: dict[str, int]
    test_part: str | None = None
    test_count: int | None = None


Split = RandomSplit | OfficialSplit | IndexSplit


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one dataset. ``reader`` names the raw-format reader in ``sources``."""

    name: str
    title: str
    num_classes: int
    metric: str  # "top1" or "mean_per_class"
    availability: str  # "mirror", "torchvision download" or "manual"
    reader: str
    raw_dir: str  # where the raw data lives under the root once present
    how_to: str  # one line: what to place where, or where it comes from
    split: Split | None = None  # linear-evaluation split (§7); None: no linear protocol
    roles: tuple[str, ...] = ()
    pretrain_parts: tuple[str, ...] = ()
    pretrain_size: int | None = None  # stored pretraining resolution (native when fixed)
    fewshot_parts: tuple[str, ...] = ()  # pooled for split "fewshot"
    mirror_files: tuple[str, ...] = ()
    note: str = ""


_TV = "torchvision download"
_FOLDER = "{root}/%s/{train,test}/<class>/<image>"

_ENTRIES = [
    DatasetInfo(
        "cifar10", "CIFAR-10", 10, "top1", "mirror", "cifar10", "cifar10-jpg",
        "offline mirror cifar10-jpg (JPEG re-encoded) or torchvision's CIFAR10 download",
        RandomSplit("train", (45000, 5000), 43, test_count=10000),
        roles=("pretrain", "linear", "embedded"), pretrain_parts=("train",), pretrain_size=32,
        mirror_files=("cifar10-jpg/cifar10-jpg.tar.gz",),
        note="mirror copy is JPEG re-encoded and in ImageFolder order, so its seed-43 split "
        "selects other images than the torchvision binary order does",
    ),
    DatasetInfo(
        "fashion_mnist", "Fashion-MNIST", 10, "top1", "mirror", "fashion_mnist", "FashionMNIST/raw",
        "offline mirror fashion-mnist/*.gz (IDX) or torchvision's FashionMNIST download",
        RandomSplit("train", (55000, 5000), 42, test_count=10000),
        roles=("linear", "embedded"), pretrain_size=28,
        mirror_files=tuple(
            f"fashion-mnist/{s}-{k}-ubyte.gz"
            for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")
        ),
        note="not in the paper: the project's embedded transfer set; 55000/5000 split with seed "
        "42 is the project's choice",
    ),
    DatasetInfo(
        "stl10", "STL-10", 10, "top1", _TV, "stl10", "stl10_binary",
        "torchvision STL10 download into {root}/stl10_binary",
        RandomSplit("train", (4500, 500), 50, test_count=8000),
        roles=("pretrain", "in-domain"), pretrain_parts=("train", "unlabeled"), pretrain_size=96,
    ),
    DatasetInfo(
        "imagenet100", "ImageNet-100", 100, "top1", "manual", "imagenet", "imagenet",
        "place ImageNet-1k as {root}/imagenet/train/<wnid>/*.JPEG and "
        "{root}/imagenet/val/<wnid>/*.JPEG (val sorted into class folders)",
        # The STAR release's in-domain split (AugSelf has none): seed 12.
        RandomSplit("train", (114020, 12669), 12, test_part="val", test_count=5000),
        roles=("pretrain", "in-domain"), pretrain_parts=("train",), pretrain_size=224,
        note="classes from the packaged CMC list; pretraining cache is resized (bicubic, shorter "
        "side 224) and centre-cropped",
    ),
    DatasetInfo(
        "cifar100", "CIFAR-100", 100, "top1", _TV, "cifar100", "cifar-100-python",
        "torchvision CIFAR100 download into {root}/cifar-100-python",
        RandomSplit("train", (45000, 5000), 44, test_count=10000), roles=("linear",),
    ),
    DatasetInfo(
        "food101", "Food-101", 101, "top1", _TV, "food101", "food-101",
        "torchvision Food101 download into {root}/food-101",
        RandomSplit("train", (68175, 7575), 42, test_count=25250), roles=("linear",),
    ),
    DatasetInfo(
        "mit67", "MIT-67", 67, "top1", "manual", "imagefolder", "mit67",
        "place MIT Indoor-67 (TrainImages/TestImages lists) as " + _FOLDER % "mit67",
        RandomSplit("train", (4690, 670), 51, test_count=1340), roles=("linear",),
    ),
    DatasetInfo(
        "pets", "Oxford-IIIT Pets", 37, "mean_per_class", _TV, "pets", "oxford-iiit-pet",
        "torchvision OxfordIIITPet download into {root}/oxford-iiit-pet",
        RandomSplit("trainval", (2940, 740), 49, test_count=3669), roles=("linear",),
    ),
    DatasetInfo(
        "flowers102", "Flowers-102", 102, "mean_per_class", _TV, "flowers102", "flowers-102",
        "torchvision Flowers102 download into {root}/flowers-102",
        OfficialSplit(counts={"train": 1020, "val": 1020, "test": 6149}), roles=("linear",),
    ),
    DatasetInfo(
        "caltech101", "Caltech-101", 101, "mean_per_class", _TV, "caltech101",
        "caltech101/101_ObjectCategories",
        "torchvision Caltech101 download into {root}/caltech101",
        IndexSplit("caltech101.json", "all", 8677, {"train": 2525, "val": 505, "test": 5647}),
        roles=("linear",),
    ),
    DatasetInfo(
        "stanford_cars", "Stanford Cars", 196, "top1", "manual", "imagefolder", "stanford_cars",
        "place Stanford Cars (official split; public links are dead) as "
        + _FOLDER % "stanford_cars",
        RandomSplit("train", (6494, 1650), 45, test_count=8041), roles=("linear",),
    ),
    DatasetInfo(
        "fgvc_aircraft", "FGVC Aircraft", 100, "mean_per_class", _TV, "fgvc_aircraft",
        "fgvc-aircraft-2013b", "torchvision FGVCAircraft (variant) download into {root}",
        OfficialSplit(counts={"train": 3334, "val": 3333, "test": 3333}), roles=("linear",),
    ),
    DatasetInfo(
        "dtd", "DTD", 47, "top1", _TV, "dtd", "dtd/dtd",
        "torchvision DTD (partition 1) download into {root}/dtd",
        OfficialSplit(counts={"train": 1880, "val": 1880, "test": 1880}), roles=("linear",),
    ),
    DatasetInfo(
        "sun397", "SUN397", 397, "top1", "manual", "sun397", "SUN397",
        "extract SUN397.tar.gz to {root}/SUN397 (ClassName.txt, a/abbey/...) and add "
        "Training_01.txt and Testing_01.txt from Partitions.zip there",
        IndexSplit("sun397.json", "train", 19850, {"train": 15880, "val": 3970},
                   test_part="test", test_count=19850),
        roles=("linear",),
    ),
    DatasetInfo(
        "fc100", "FC100 (test classes)", 20, "top1", "manual", "imagefolder", "fc100",
        "place the FC100 test classes as {root}/fc100/test/<class>/<image>",
        roles=("fewshot",), fewshot_parts=("test",),
    ),
    DatasetInfo(
        "cub200", "CUB-200-2011", 200, "top1", "manual", "imagefolder", "cub200",
        "place CUB-200-2011 as " + _FOLDER % "cub200" + " (train: the 5990 images the "
        "packaged split indexes)",
        IndexSplit("cub200.json", "train", 5990, {"train": 4990, "val": 1000}, test_part="test"),
        roles=("fewshot",), fewshot_parts=("train", "test"),
    ),
    DatasetInfo(
        "plant_disease", "Plant Disease", 38, "top1", "manual", "imagefolder", "plant_disease",
        "place the Plant Disease images as " + _FOLDER % "plant_disease",
        roles=("fewshot",), fewshot_parts=("train", "test"),
    ),
]  # fmt: skip

REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in _ENTRIES}

# The paper's Table 1 transfer sets, in its column order, and the Table 4 few-shot sets.
TRANSFER_SETS = (
    "cifar10", "cifar100", "food101", "mit67", "pets", "flowers102", "caltech101",
    "stanford_cars", "fgvc_aircraft", "dtd", "sun397",
)  # fmt: skip
FEWSHOT_SETS = ("fc100", "cub200", "plant_disease")


def get_info(name: str) -> DatasetInfo:
    """Look a dataset up by name; DataError listing the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def split_names(info: DatasetInfo) -> tuple[str, ...]:
    """The cached splits of a dataset (``trainval`` is train followed by val, never cached)."""
    names = ("train", "val", "test") if info.split is not None else ()
    return names + (("fewshot",) if info.fewshot_parts else ())
