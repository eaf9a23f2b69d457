"""Raw readers keep the reference code's sample order (seeded splits select by position)."""

from __future__ import annotations

import json

import torchvision

from fixtures.data_fixtures import write_image_tree
from starssl.data.sources import food101, imagefolder, sun397


def test_imagefolder_matches_torchvision_imagefolder(tmp_path):
    write_image_tree(tmp_path, {"train": {"b": 2, "a": 3, "c_c": 1}})
    ours = imagefolder(tmp_path / "train")
    ref = torchvision.datasets.ImageFolder(str(tmp_path / "train"))
    assert ours.files == [p for p, _ in ref.samples] and ours.labels.tolist() == ref.targets
    assert ours.class_names == ref.classes


def test_imagefolder_with_class_list_follows_augself_imagenet100(tmp_path):
    write_image_tree(tmp_path, {"train": {"n03": 2, "n01": 1, "n02": 2, "n09": 1}})
    classes = ["n02", "n01", "n03"]  # the list's order fixes the labels; n09 is not in it
    ours = imagefolder(tmp_path / "train", classes)
    # AugSelf's ImageNet100: ImageFolder over everything, keep listed classes, relabel by list.
    full = torchvision.datasets.ImageFolder(str(tmp_path / "train"))
    ref = [
        (p, classes.index(full.classes[y])) for p, y in full.samples if full.classes[y] in classes
    ]
    assert list(zip(ours.files, ours.labels.tolist(), strict=True)) == ref
    assert ours.class_names == classes


def test_sun397_reader_matches_augself_loop(tmp_path):
    names = ["/a/abbey", "/b/bakery/shop", "/b/bakery", "/c/cafe"]
    (tmp_path / "ClassName.txt").write_text("\n".join(names) + "\n")
    listing = [
        "/c/cafe/sun_1.jpg",
        "/b/bakery/shop/sun_2.jpg",
        "/b/bakery/sun_3.jpg",
        "/a/abbey/sun_4.jpg",
        "/z/zoo/sun_5.jpg",
    ]
    (tmp_path / "Training_01.txt").write_text("\n".join(listing) + "\n")
    ours = sun397(tmp_path, "train")
    ref = []  # AugSelf datasets.py SUN397: first class (file order) whose name + "/" prefixes it
    for path in listing:
        for y, cls in enumerate(names):
            if path.startswith(cls + "/"):
                ref.append((str(tmp_path / path[1:]), y))
                break
    assert list(zip(ours.files, ours.labels.tolist(), strict=True)) == ref
    assert ours.class_names[1] == "b/bakery/shop"


def test_food101_reader_uses_classes_txt_order(tmp_path):
    (tmp_path / "meta").mkdir()
    classes = ["apple_pie", "baklava", "churros"]
    (tmp_path / "meta" / "classes.txt").write_text("\n".join(classes) + "\n")
    listing = {
        "churros": ["churros/3", "churros/1"],
        "apple_pie": ["apple_pie/2"],
        "baklava": ["baklava/9", "baklava/4"],
    }
    (tmp_path / "meta" / "train.json").write_text(json.dumps(listing))
    ours = food101(tmp_path, "train")
    ref = [
        (str(tmp_path / "images" / f"{p}.jpg"), i)  # AugSelf datasets.py Food101
        for i, c in enumerate(classes)
        for p in listing[c]
    ]
    assert list(zip(ours.files, ours.labels.tolist(), strict=True)) == ref
