"""STAR pretraining loop (§4, §6): SGD + cosine schedule, checkpoints, resume, DDP, logging.

Determinism: every random draw in training is a pure function of ``(seed, epoch, step)`` (the
epoch's permutation and each step's augmentation generator), so a run killed anywhere resumes
from its last checkpoint and ends with the same bytes as an uninterrupted one. The run
directory counts as finished only once ``run.json`` exists.

Run directory layout::

    checkpoint.safetensors   full training state (model incl. heads/routers, optimiser, ...)
    metrics/                 per-epoch metrics (dvclive: metrics.json + plots/metrics/*.tsv)
    run.json                 summary: method, seed, params, history, parameter stats, versions
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from starssl.augment import AugmentConfig, BatchAugment, parameter_stats
from starssl.checkpoint import read_checkpoint, restore_training_state, save_checkpoint
from starssl.config import params_hash
from starssl.data import DataConfig, load_pretrain_images, load_split
from starssl.distributed import DistInfo, barrier, gather_with_grad, init_distributed
from starssl.errors import CheckpointError
from starssl.eval.features import extract_features
from starssl.eval.knn import knn_accuracy
from starssl.io import environment_info, read_json, write_json
from starssl.methods import build_method
from starssl.methods.base import MethodConfig, PretrainMethod
from starssl.metrics_log import MetricsLog

CHECKPOINT = "checkpoint.safetensors"
RUN_SUMMARY = "run.json"
# Per-channel statistics used to normalise images (train split, computed once, rounded).
NORMALISATION = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "stl10": ((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    "imagenet100": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def derived_generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded by a hash of ``keys`` (seed, epoch, step, ...)."""
    seed = int(np.random.SeedSequence(list(keys)).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator().manual_seed(seed)


def normalisation_for(dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = NORMALISATION.get(dataset, NORMALISATION["imagenet100"])
    return torch.tensor(mean), torch.tensor(std)


def method_config(params: dict[str, Any]) -> MethodConfig:
    p = params["pretrain"]
    return MethodConfig(
        backbone=p["backbone"],
        stem=p["stem"],
        width=p["width"],
        proj_dim=p["proj_dim"],
        num_experts=p["num_experts"],
        predictor_hidden=p["predictor_hidden"],
        temperature_inv=p["temperature_inv"],
        temperature_eq=p["temperature_eq"],
        lambda_eq=p["lambda_eq"],
    )


def configure_determinism(threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)
    # cuBLAS needs a fixed workspace for deterministic matmuls; set before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


@dataclass
class Batch:
    x0: torch.Tensor | None
    v1: torch.Tensor
    v2: torch.Tensor
    a1: torch.Tensor
    a2: torch.Tensor


class ViewMaker:
    """Turns a uint8 batch into normalised (x0, v1, v2) and raw parameters (a1, a2)."""

    def __init__(self, params: dict[str, Any], device: torch.device, channels_last: bool) -> None:
        p = params["pretrain"]
        self.size = p["image_size"]
        self.augment = BatchAugment(AugmentConfig.from_dict(params["augment"]), self.size)
        mean, std = normalisation_for(p["dataset"])
        self.mean = mean.view(1, 3, 1, 1).to(device)
        self.std = std.view(1, 3, 1, 1).to(device)
        self.device = device
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).contiguous(memory_format=self.memory_format)

    def __call__(self, images: torch.Tensor, generator: torch.Generator, with_x0: bool) -> Batch:
        x = images.to(self.device, non_blocking=True).float().div_(255)
        v1, a1 = self.augment(x, generator)
        v2, a2 = self.augment(x, generator)
        x0 = None
        if with_x0:
            # x0 is the un-augmented image (§4); resized only if the cache is not at training size.
            if x.shape[-1] != self.size or x.shape[-2] != self.size:
                x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
            x0 = self._finish(x)
        return Batch(x0, self._finish(v1), self._finish(v2), a1, a2)


class KnnMonitor:
    """kNN top-1 of backbone features: a cheap, label-using check of representation quality."""

    def __init__(self, params: dict[str, Any], data_cfg: DataConfig, device: torch.device) -> None:
        p = params["pretrain"]
        cfg = p["knn_monitor"]
        train = load_split(p["dataset"], "train", data_cfg, p["image_size"])
        test = load_split(p["dataset"], "test", data_cfg, p["image_size"])
        pick = derived_generator(0, 1)  # fixed subsets, identical for every method and seed
        bank = torch.randperm(len(train.labels), generator=pick)[: cfg["bank_size"]]
        query = torch.randperm(len(test.labels), generator=pick)[: cfg["query_size"]]
        self.bank = (train.images[bank], train.labels[bank])
        self.query = (test.images[query], test.labels[query])
        self.k, self.temperature = cfg["k"], cfg["temperature"]
        self.mean, self.std = normalisation_for(p["dataset"])
        self.num_classes = train.num_classes
        self.device = device

    def __call__(self, backbone: torch.nn.Module) -> float:
        feats = [
            extract_features(backbone, images, self.mean, self.std, device=self.device)
            for images in (self.bank[0], self.query[0])
        ]
        return knn_accuracy(
            feats[0],
            self.bank[1],
            feats[1],
            self.query[1],
            k=self.k,
            temperature=self.temperature,
            num_classes=self.num_classes,
        )


def _check_resumable(
    meta: dict[str, Any], method: str, seed: int, fingerprint: str, path: Path
) -> None:
    for key, expected in (("method", method), ("seed", seed), ("params_hash", fingerprint)):
        if meta.get(key) != expected:
            raise CheckpointError(
                f"{path}: made with {key}={meta.get(key)!r}, this run has {expected!r}; "
                "delete the checkpoint or choose another --out"
            )


def pretrain(
    params: dict[str, Any], method: str, seed: int, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Pretrain ``method`` with ``seed`` into ``out``; resumes from ``out/checkpoint.safetensors``."""
    out = Path(out)
    if (out / RUN_SUMMARY).is_file():
        return read_json(out / RUN_SUMMARY)
    p = params["pretrain"]
    configure_determinism(p["threads"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dist_info: DistInfo = init_distributed(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
    on_gpu = device.type == "cuda"
    data_cfg = DataConfig.from_params(params)
    # What must match for a checkpoint to be resumed: everything that changes the trained bytes.
    operational = {"threads", "checkpoint_every_steps", "knn_monitor"}
    fingerprint = params_hash(
        {
            "pretrain": {k: v for k, v in p.items() if k not in operational},
            "augment": params["augment"],
        }
    )

    torch.manual_seed(seed)
    model: PretrainMethod = build_method(method, method_config(params))
    images = load_pretrain_images(p["dataset"], data_cfg, subset=p["subset"], seed=0)
    height, width = images.shape[-2:]
    aug_cfg = AugmentConfig.from_dict(params["augment"])
    stats_mean, stats_std = parameter_stats(
        aug_cfg, height, width, p["image_size"], params["augment"]["stats_samples"], seed
    )
    if model.equivariant:
        model.set_param_stats(stats_mean, stats_std)
    model.to(device)
    if on_gpu and p["channels_last"]:
        model.to(memory_format=torch.channels_last)
    net: torch.nn.Module = model
    if dist_info.enabled:
        if on_gpu:
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = DistributedDataParallel(net, device_ids=[device.index] if on_gpu else None)

    global_batch = p["batch_size"]
    if global_batch % dist_info.world_size:
        raise CheckpointError(
            f"pretrain.batch_size={global_batch} must divide by world size {dist_info.world_size}"
        )
    local_batch = global_batch // dist_info.world_size
    steps_per_epoch = len(images) // global_batch  # drop the last partial batch, as usual
    if steps_per_epoch == 0:
        raise CheckpointError(
            f"pretrain.batch_size={global_batch} exceeds the {len(images)} training images"
        )
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=p["lr"] * global_batch / 256,
        momentum=p["momentum"],
        weight_decay=p["weight_decay"],
    )
    # Cosine to zero, stepped once per epoch, no warm-up (§6).
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=p["epochs"])

    start_epoch, start_step, history = 0, 0, []
    ckpt_path = out / CHECKPOINT
    if ckpt_path.is_file():
        tensors, meta = read_checkpoint(ckpt_path)
        _check_resumable(meta, method, seed, fingerprint, ckpt_path)
        restore_training_state(tensors, meta, model, optimizer, scheduler)
        start_epoch, start_step, history = meta["epoch"], meta["step"], meta["history"]

    monitor = KnnMonitor(params, data_cfg, device) if p["knn_monitor"]["enabled"] else None
    log = MetricsLog(out / "metrics", history) if dist_info.is_main else None
    if monitor and not history and start_step == 0 and dist_info.is_main:
        history.append({"epoch": 0, "knn_top1": monitor(model.backbone)})  # random-init baseline
        if log:
            log.write(history)
    views = ViewMaker(params, device, on_gpu and p["channels_last"])
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu and p["amp"])

    def save(epoch: int, step: int) -> None:
        if dist_info.is_main:
            save_checkpoint(
                ckpt_path,
                model,
                optimizer,
                scheduler,
                {
                    "method": method,
                    "seed": seed,
                    "params_hash": fingerprint,
                    "params": params,
                    "epoch": epoch,
                    "step": step,
                    "history": history,
                    "param_stats": {"mean": stats_mean.tolist(), "std": stats_std.tolist()},
                },
            )
        barrier()

    for epoch in range(start_epoch, p["epochs"]):
        model.train()
        order = torch.randperm(len(images), generator=derived_generator(seed, epoch))
        sums: dict[str, float] = {}
        seen, started = 0, time.perf_counter()
        bar = _progress(
            progress and dist_info.is_main, steps_per_epoch, start_step, epoch, p["epochs"]
        )
        for step in range(start_step, steps_per_epoch):
            lo = step * global_batch + dist_info.rank * local_batch
            batch = views(
                images[order[lo : lo + local_batch]],
                derived_generator(seed, epoch, step, dist_info.rank),
                model.equivariant,
            )
            with amp:
                loss, logs = net(
                    batch.x0, batch.v1, batch.v2, batch.a1, batch.a2, gather=gather_with_grad
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + value
            seen += global_batch
            if bar is not None:
                bar.set_postfix(
                    loss=f"{logs['loss']:.3f}",
                    img_s=f"{seen / (time.perf_counter() - started):.0f}",
                )
                bar.update(1)
            every = p["checkpoint_every_steps"]
            if every and (step + 1) % every == 0 and step + 1 < steps_per_epoch:
                save(epoch, step + 1)
        if bar is not None:
            bar.close()
        done_steps = steps_per_epoch - start_step
        scheduler.step()
        record: dict[str, Any] = {"epoch": epoch + 1}
        record.update({f"train_{k}": v / max(done_steps, 1) for k, v in sums.items()})
        if start_step:
            record["resumed_mid_epoch"] = True  # averages then cover only the steps after resume
        cfg = p["knn_monitor"]
        if (
            monitor
            and dist_info.is_main
            and ((epoch + 1) % cfg["every_epochs"] == 0 or epoch + 1 == p["epochs"])
        ):
            record["knn_top1"] = monitor(model.backbone)
        history.append(record)
        start_step = 0
        if log:
            log.write(history)
        save(epoch + 1, 0)

    summary = {
        "method": method,
        "seed": seed,
        "params": params,
        "params_hash": fingerprint,
        "epochs": p["epochs"],
        "steps_per_epoch": steps_per_epoch,
        "world_size": dist_info.world_size,
        "history": history,
        "param_stats": {"mean": stats_mean.tolist(), "std": stats_std.tolist()},
        "checkpoint": CHECKPOINT,
        "environment": environment_info(),
    }
    if dist_info.is_main:
        write_json(out / RUN_SUMMARY, summary)
    barrier()
    return summary


def _progress(enabled: bool, total: int, initial: int, epoch: int, epochs: int):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=f"epoch {epoch + 1}/{epochs}",
        leave=False,
        dynamic_ncols=True,
        mininterval=1.0,
    )
