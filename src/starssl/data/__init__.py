"""Data layer (§7): offline mirrors with checksums, cached uint8 tensors, dataset registry, splits.

Raw data lives under ``DataConfig.root`` (default ``data/``); decoded splits are cached once in
``<root>/cache/`` as safetensors files and loaded without pickle.
"""

from starssl.data.config import MIRROR_ENV, DataConfig
from starssl.data.loaders import LabeledImages, load_pretrain_images, load_split, prepare
from starssl.data.registry import FEWSHOT_SETS, REGISTRY, TRANSFER_SETS, DatasetInfo, get_info
from starssl.data.status import dataset_status, format_dataset_table, list_datasets

__all__ = [
    "FEWSHOT_SETS",
    "MIRROR_ENV",
    "REGISTRY",
    "TRANSFER_SETS",
    "DataConfig",
    "DatasetInfo",
    "LabeledImages",
    "dataset_status",
    "format_dataset_table",
    "get_info",
    "list_datasets",
    "load_pretrain_images",
    "load_split",
    "prepare",
]
