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
from starssl.errors import CheckpointError, ConfigError
from starssl.eval.features import extract_features
from starssl.eval.knn import knn_accuracy
from starssl.io import environment_info, read_json, write_json
from starssl.methods import build_method
from starssl.methods.base import MethodConfig, PretrainMethod
from starssl.metrics_log import MetricsLog
from starssl.threads import pin_threads

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
    pin_threads(threads)
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


class Pretrainer:
    """One pretraining run: set-up, resume, the epoch loop, checkpoints and the final summary."""

    def __init__(self, params: dict[str, Any], method: str, seed: int, out: Path) -> None:
        self.params, self.method_name, self.seed, self.out = params, method, seed, Path(out)
        self.cfg = p = params["pretrain"]
        configure_determinism(p["threads"])
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dist: DistInfo = init_distributed(device.type)
        self.device = (
            torch.device("cuda", self.dist.local_rank) if device.type == "cuda" else device
        )
        on_gpu = self.device.type == "cuda"
        data_cfg = DataConfig.from_params(params)
        # What must match for a checkpoint to be resumed: everything that changes trained bytes.
        operational = {"checkpoint_every_steps", "knn_monitor"}
        pretrain_keys = {k: v for k, v in p.items() if k not in operational}
        self.fingerprint = params_hash({"pretrain": pretrain_keys, "augment": params["augment"]})

        torch.manual_seed(seed)
        self.model: PretrainMethod = build_method(method, method_config(params))
        self.images = load_pretrain_images(p["dataset"], data_cfg, subset=p["subset"], seed=0)
        height, width = self.images.shape[-2:]
        self.stats = parameter_stats(
            AugmentConfig.from_dict(params["augment"]),
            height,
            width,
            p["image_size"],
            params["augment"]["stats_samples"],
            seed,
        )
        if self.model.equivariant:
            self.model.set_param_stats(*self.stats)
        self.model.to(self.device)
        channels_last = on_gpu and p["channels_last"]
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.net: torch.nn.Module = self.model
        if self.dist.enabled:  # SyncBN needs CUDA; on CPU (gloo tests) BN stays per-rank
            net = (
                torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model) if on_gpu else self.model
            )
            self.net = DistributedDataParallel(
                net, device_ids=[self.device.index] if on_gpu else None
            )

        self.global_batch = p["batch_size"]
        if self.global_batch % self.dist.world_size:
            raise ConfigError(
                f"pretrain.batch_size={self.global_batch} must be a multiple of the "
                f"{self.dist.world_size} processes"
            )
        self.local_batch = self.global_batch // self.dist.world_size
        self.steps_per_epoch = len(self.images) // self.global_batch  # drop the partial batch
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"pretrain.batch_size={self.global_batch} exceeds the {len(self.images)} "
                "training images; lower it or raise pretrain.subset"
            )
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=p["lr"] * self.global_batch / 256,
            momentum=p["momentum"],
            weight_decay=p["weight_decay"],
        )
        # Cosine to zero, stepped once per epoch, no warm-up (§6).
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, p["epochs"])
        self.views = ViewMaker(params, self.device, channels_last)
        self.amp = on_gpu and p["amp"]
        self.monitor = (
            KnnMonitor(params, data_cfg, self.device) if p["knn_monitor"]["enabled"] else None
        )
        self.epoch, self.step, self.history = 0, 0, []
        self.sums: dict[str, float] = {}  # running sums of this epoch's logs

    @property
    def checkpoint_path(self) -> Path:
        return self.out / CHECKPOINT

    def resume(self) -> None:
        if not self.checkpoint_path.is_file():
            return
        tensors, meta = read_checkpoint(self.checkpoint_path)
        _check_resumable(meta, self.method_name, self.seed, self.fingerprint, self.checkpoint_path)
        restore_training_state(tensors, meta, self.model, self.optimizer, self.scheduler)
        self.epoch, self.step, self.history = meta["epoch"], meta["step"], meta["history"]
        self.sums = meta["epoch_sums"]

    def save(self) -> None:
        if self.dist.is_main:
            save_checkpoint(
                self.checkpoint_path,
                self.model,
                self.optimizer,
                self.scheduler,
                {
                    "method": self.method_name,
                    "seed": self.seed,
                    "params_hash": self.fingerprint,
                    # Machine paths (data root, mirror) stay out: the checkpoint's bytes must
                    # not depend on where the data lives; run.json records them.
                    "params": {k: v for k, v in self.params.items() if k != "data"},
                    "epoch": self.epoch,
                    "step": self.step,
                    "history": self.history,
                    "epoch_sums": self.sums,
                    "param_stats": self.param_stats(),
                },
            )
        barrier()

    def param_stats(self) -> dict[str, list[float]]:
        return {"mean": self.stats[0].tolist(), "std": self.stats[1].tolist()}

    def train_step(self, order: torch.Tensor) -> dict[str, float]:
        lo = self.step * self.global_batch + self.dist.rank * self.local_batch
        batch = self.views(
            self.images[order[lo : lo + self.local_batch]],
            derived_generator(self.seed, self.epoch, self.step, self.dist.rank),
            self.model.equivariant,
        )
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss, logs = self.net(
                batch.x0, batch.v1, batch.v2, batch.a1, batch.a2, gather=gather_with_grad
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return logs

    def run_epoch(self, log: MetricsLog | None, progress: bool) -> None:
        self.model.train()
        order = torch.randperm(len(self.images), generator=derived_generator(self.seed, self.epoch))
        bar = _progress(
            progress and self.dist.is_main,
            self.steps_per_epoch,
            self.step,
            self.epoch,
            self.cfg["epochs"],
        )
        started, first = time.perf_counter(), self.step
        every = self.cfg["checkpoint_every_steps"]
        while self.step < self.steps_per_epoch:
            logs = self.train_step(order)
            for key, value in logs.items():
                self.sums[key] = self.sums.get(key, 0.0) + value
            self.step += 1
            if bar is not None:
                rate = (self.step - first) * self.global_batch / (time.perf_counter() - started)
                bar.set_postfix(loss=f"{logs['loss']:.3f}", img_s=f"{rate:.0f}")
                bar.update(1)
            if every and self.step % every == 0 and self.step < self.steps_per_epoch:
                self.save()
        if bar is not None:
            bar.close()
        self.scheduler.step()
        self.epoch += 1
        record: dict[str, Any] = {"epoch": self.epoch}
        record.update({f"train_{k}": v / self.steps_per_epoch for k, v in self.sums.items()})
        knn = self.cfg["knn_monitor"]
        due = self.epoch % knn["every_epochs"] == 0 or self.epoch == self.cfg["epochs"]
        if self.monitor and self.dist.is_main and due:
            record["knn_top1"] = self.monitor(self.model.backbone)
        self.history.append(record)
        self.step, self.sums = 0, {}
        if log:
            log.write(self.history)
        self.save()

    def run(self, progress: bool = True) -> dict[str, Any]:
        self.resume()
        log = MetricsLog(self.out / "metrics", self.history) if self.dist.is_main else None
        if self.monitor and not self.history and self.dist.is_main:
            # Epoch 0: the randomly initialised backbone, the baseline training must beat.
            self.history.append({"epoch": 0, "knn_top1": self.monitor(self.model.backbone)})
        while self.epoch < self.cfg["epochs"]:
            self.run_epoch(log, progress)
        summary = {
            "method": self.method_name,
            "seed": self.seed,
            "params": self.params,
            "params_hash": self.fingerprint,
            "epochs": self.cfg["epochs"],
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.dist.world_size,
            "history": self.history,
            "param_stats": self.param_stats(),
            "checkpoint": CHECKPOINT,
            "environment": environment_info(),
        }
        if self.dist.is_main:
            write_json(self.out / RUN_SUMMARY, summary)
        barrier()
        return summary


def pretrain(
    params: dict[str, Any], method: str, seed: int, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Pretrain ``method`` with ``seed`` into ``out``; resumes from ``out/checkpoint.safetensors``.

    Returns the run summary; a finished run (``run.json`` present) is not retrained.
    """
    if (Path(out) / RUN_SUMMARY).is_file():
        return read_json(Path(out) / RUN_SUMMARY)
    return Pretrainer(params, method, seed, out).run(progress)


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
