"""Pickle-free training checkpoints in one safetensors file.

Tensors: the model state (``model.*``), the optimiser's per-parameter state (``optim.<i>.<name>``)
and the RNG states (``rng.*``). Everything else (epoch, step, optimiser hyper-parameters,
scheduler state, resolved params, history) is JSON in the file's metadata. Loading therefore
never executes code, and saving the same state twice gives the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from starssl.errors import CheckpointError
from starssl.io import atomic_path

FORMAT = "starssl-checkpoint-v1"
META_KEY = "starssl"


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state["state"].items():
        for name, value in per_param.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    path: str | os.PathLike[str],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    meta: dict[str, Any],
) -> None:
    """Write the whole training state atomically (temp file, then rename)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    full_meta: dict[str, Any] = {"format": FORMAT, **meta}
    if optimizer is not None:
        opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
        tensors.update({k: v.detach().cpu().contiguous() for k, v in opt_tensors.items()})
        full_meta["optimizer"] = opt_meta
    if scheduler is not None:
        full_meta["scheduler"] = scheduler.state_dict()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    # A single metadata entry keeps the header byte-stable whatever order safetensors uses.
    header = {META_KEY: json.dumps(full_meta, sort_keys=True, allow_nan=False)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load tensors and metadata without unpickling anything."""
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: checkpoint not found; run `starssl pretrain` first")
    try:
        tensors = load_file(str(file))
        from safetensors import safe_open

        with safe_open(str(file), framework="pt") as handle:
            header = handle.metadata() or {}
        meta = json.loads(header[META_KEY])
    except (SafetensorError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise CheckpointError(
            f"{file}: not a readable starssl checkpoint ({exc}); delete it and rerun"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{file}: format {meta.get('format')!r} is not {FORMAT!r}")
    return tensors, meta


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}


def restore_training_state(
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> None:
    model.load_state_dict(model_state(tensors))
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
    scheduler.load_state_dict(meta["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["rng.cuda"]))
