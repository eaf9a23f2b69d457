"""``starssl equivariance``: how predictable an augmentation's effect is (R-equiv ↑, P-equiv ↓).

Definitions (the paper does not publish them; see :mod:`starssl.eval.equivariance`): each image
x0 gets one augmented view v with parameters a (the pretraining augmentations, a fixed seed).
- ``own``: the method's own predictor on its equivariant embedding, ê = e0 + φ([e0; ψ(ã)]),
  scored against e = z_eq(v) with source e0 = z_eq(x0). Undefined (null) for simclr.
- ``posthoc``: for every method alike, a small predictor ĥ = h0 + MLP([h0; ã]) fitted on frozen
  backbone features of ``samples`` training images, scored on ``samples`` images of
  ``eval.equivariance.split``.
R-equiv is the mean reciprocal rank of the true target among all targets by cosine similarity
to the prediction; P-equiv is the squared error of normalised prediction relative to "no change".
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from starssl.commands._analysis import add_run_arguments, analysis_images, identity, load
from starssl.commands._evaluate import write_result

HELP = "equivariance metrics: retrieval (R-equiv) and prediction error (P-equiv)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


@torch.no_grad()
def augmented_pairs(
    method, images: torch.Tensor, summary: dict[str, Any], batch_size: int, seed: int
) -> dict[str, torch.Tensor]:
    """Backbone features (and equivariant embeddings) of each image and of one augmented view."""
    from starssl.augment import AugmentConfig, BatchAugment
    from starssl.train import normalisation_for

    p = summary["params"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    method.to(device).eval()
    augment = BatchAugment(AugmentConfig.from_dict(p["augment"]), p["pretrain"]["image_size"])
    mean, std = (t.view(1, 3, 1, 1).to(device) for t in normalisation_for(p["pretrain"]["dataset"]))
    generator = torch.Generator().manual_seed(seed)
    stats_mean = torch.tensor(summary["param_stats"]["mean"])
    stats_std = torch.tensor(summary["param_stats"]["std"])
    parts: dict[str, list[torch.Tensor]] = {}
    for lo in range(0, len(images), batch_size):
        x0 = images[lo : lo + batch_size].to(device).float() / 255
        view, a = augment(x0, generator)
        h0, hv = method.features((x0 - mean) / std), method.features((view - mean) / std)
        out = {"h0": h0, "hv": hv, "a_std": (a.cpu() - stats_mean) / stats_std}
        if method.equivariant:
            e0, ev = method.embed(h0).eq, method.embed(hv).eq
            out.update(e0=e0, ev=ev, e_pred=method.predict(e0, a))
        for key, value in out.items():
            parts.setdefault(key, []).append(value.float().cpu())
    return {k: torch.cat(v) for k, v in parts.items()}


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from starssl.eval.equivariance import equivariance_scores, fit_posthoc_predictor

    cfg = params["eval"]["equivariance"]
    batch = params["eval"]["batch_size"]
    method, summary = load(args)
    dataset, test_images = analysis_images(
        params, summary, args.dataset, cfg["split"], cfg["samples"]
    )
    _, fit_images = analysis_images(params, summary, args.dataset, "train", cfg["samples"])
    test = augmented_pairs(method, test_images, summary, batch, seed=1)
    fit = augmented_pairs(method, fit_images, summary, batch, seed=2)

    own = None
    if method.equivariant:
        own = equivariance_scores(test["e_pred"], test["ev"], test["e0"])
    predictor = fit_posthoc_predictor(
        fit["h0"], fit["a_std"], fit["hv"], steps=cfg["posthoc_steps"], seed=0
    )
    with torch.no_grad():
        posthoc_pred = predictor.predict(test["h0"], test["a_std"])
    posthoc = equivariance_scores(posthoc_pred, test["hv"], test["h0"])
    write_result(
        args.out,
        {
            **identity(summary, args.run),
            "protocol": "equivariance",
            "dataset": dataset,
            "split": cfg["split"],
            "n_samples": len(test_images),
            "n_fit": len(fit_images),
            "own": own,
            "posthoc": posthoc,
        },
    )
    return 0
