"""What is available where: the ``starssl datasets`` listing."""

from __future__ import annotations

from typing import Any

from starssl.data.config import DataConfig
from starssl.data.locate import local_source, mirror_has, missing_hint
from starssl.data.registry import REGISTRY, get_info
from starssl.data.sources import TORCHVISION

STATUSES = ("ready", "downloadable", "manual")


def dataset_status(name: str, cfg: DataConfig) -> str:
    """``ready`` (raw data under the root or in the mirror), ``downloadable`` (torchvision can
    fetch it; needs ``data.download: true``) or ``manual`` (a person must place the files)."""
    info = get_info(name)
    if local_source(info, cfg) is not None or mirror_has(info, cfg):
        return "ready"
    return "downloadable" if info.reader in TORCHVISION else "manual"


def _cached_sizes(name: str, cfg: DataConfig) -> list[int]:
    sizes = set()
    for path in cfg.cache_dir.glob(f"{name}_*px.safetensors"):
        tail = path.name.removeprefix(f"{name}_").removesuffix("px.safetensors")
        split, _, size = tail.rpartition("_")
        # Exact split names, so another dataset whose name extends this one never counts.
        if split in ("train", "val", "test", "fewshot", "pretrain") and size.isdigit():
            sizes.add(int(size))
    return sorted(sizes)


def list_datasets(cfg: DataConfig) -> list[dict[str, Any]]:
    """One row per registered dataset with its facts, status and what to do next."""
    rows = []
    for name, info in REGISTRY.items():
        status = dataset_status(name, cfg)
        if status == "ready":
            local = local_source(info, cfg)
            hint = local.origin if local is not None else f"offline mirror {cfg.mirror}"
        elif status == "downloadable" and cfg.download:
            hint = f"downloads into {cfg.root} on first use"
        else:
            hint = missing_hint(info, cfg)
        rows.append(
            {
                "name": name,
                "title": info.title,
                "status": status,
                "roles": list(info.roles),
                "num_classes": info.num_classes,
                "metric": info.metric,
                "availability": info.availability,
                "cached_sizes": _cached_sizes(name, cfg),
                "hint": hint,
            }
        )
    return rows


def format_dataset_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of ``list_datasets`` rows (long hints last, unpadded)."""
    head = ["dataset", "status", "classes", "metric", "roles", "cached", "how / where"]
    body = [
        [
            r["name"],
            r["status"],
            str(r["num_classes"]),
            r["metric"],
            ",".join(r["roles"]),
            ",".join(f"{s}px" for s in r["cached_sizes"]) or "-",
            r["hint"],
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
        for line in [head, *body]
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
