"""``starssl cca``: canonical correlations between invariant and equivariant embeddings (§7).

Choices the paper leaves open: images are a fixed seeded subset (``eval.cca.samples``) of the
analysis dataset's ``eval.cca.split`` split, un-augmented, at the pretraining size; embeddings
are the projection outputs z_inv and z_eq before L2 normalisation; both views are centred;
``eval.cca.eps`` is a ridge added to each view's covariance (relative to its mean eigenvalue
scale, see :mod:`starssl.eval.cca`); the summary is the mean of the full spectrum.
"""

from __future__ import annotations

import argparse
from typing import Any

from starssl.commands._analysis import add_run_arguments, analysis_images, embed, identity, load
from starssl.commands._evaluate import write_result

HELP = "canonical correlation between invariant and equivariant embeddings (full spectrum)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.eval.cca import canonical_correlations

    cfg = params["eval"]["cca"]
    method, summary = load(args)
    record: dict[str, Any] = {**identity(summary, args.run), "protocol": "cca"}
    if not method.equivariant:
        record.update(defined=False, reason=f"{summary['method']} has no equivariant embedding")
        write_result(args.out, record)
        return 0
    dataset, images = analysis_images(params, summary, args.dataset, cfg["split"], cfg["samples"])
    emb = embed(method, images, summary, params["eval"]["batch_size"])
    rho = canonical_correlations(emb["inv"], emb["eq"], eps=cfg["eps"])
    record.update(
        defined=True,
        dataset=dataset,
        split=cfg["split"],
        n_samples=len(images),
        eps=cfg["eps"],
        correlations=[round(float(r), 10) for r in rho],
        mean=round(float(rho.mean()), 10),
    )
    write_result(args.out, record)
    return 0
