"""The CPU thread count is part of a result, so it comes from params, never from the machine.

On CPU, torch splits float reductions (convolution weight gradients, batch-norm statistics,
sums) across its threads, and the summation order changes the last bits: the same pretraining
with 1 and 2 threads gives different checkpoints. Every computing stage therefore pins its
thread count from ``pretrain.threads`` or ``eval.threads`` (both in the stages' fingerprints),
whichever engine, core count or ``OMP_NUM_THREADS`` runs it.
"""

from __future__ import annotations

import torch


def pin_threads(n: int) -> None:
    """Use exactly ``n`` threads in torch and in the BLAS/OpenMP libraries numpy and scipy load."""
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS now, so the limit below reaches it)
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n)
