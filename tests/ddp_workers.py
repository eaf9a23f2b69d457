"""Worker functions for the 2-process gloo tests (spawned, so they live in an importable module)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file


def _env(rank: int, world: int, port: int) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    torch.set_num_threads(1)


def gather_grad_worker(rank: int, world: int, port: int, out: str) -> None:
    """Each rank embeds its half of the batch; the loss uses the gathered global batch."""
    from torch.nn.parallel import DistributedDataParallel

    from starssl.distributed import gather_with_grad, init_distributed
    from starssl.losses import nt_xent

    _env(rank, world, port)
    init_distributed("cpu")
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 4)
    x1, x2 = torch.randn(8, 6), torch.randn(8, 6)  # same on every rank (same seed)
    local = slice(rank * 4, rank * 4 + 4)
    ddp = DistributedDataParallel(model)
    loss = nt_xent(gather_with_grad(ddp(x1[local])), gather_with_grad(ddp(x2[local])), 0.2)
    loss.backward()
    save_file(
        {"weight_grad": model.weight.grad, "loss": loss.detach().reshape(1)},
        str(Path(out) / f"rank{rank}.safetensors"),
    )
    dist.destroy_process_group()


def pretrain_worker(rank: int, world: int, port: int, out: str) -> None:
    """A real 2-process pretraining run (gloo, CPU) on synthetic images."""
    from starssl import train
    from starssl.distributed import cleanup
    from train_fixtures import tiny_params, use_synthetic_data

    _env(rank, world, port)
    use_synthetic_data()
    trainer = train.Pretrainer(tiny_params("pretrain.epochs=1"), "star_mmoe", 0, Path(out) / "run")
    trainer.run(progress=False)
    state = {k: v.contiguous() for k, v in trainer.model.state_dict().items()}
    save_file(state, str(Path(out) / f"rank{rank}.safetensors"))
    cleanup()
