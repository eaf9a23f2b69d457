"""A stand-in for ``starssl`` that writes contract-shaped synthetic outputs in milliseconds.

It exercises the pipeline's wiring (both engines, tables, figures, ``dvc status``) without
training anything: ``python -m starssl.pipeline.fake <stage> <the stage's arguments>``.
``tables`` and ``figures`` run for real. Numbers are deterministic functions of the stage and
model, shaped like ARCHITECTURE.md's "JSON fields the tables read"; never results.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starssl.config import load_params
from starssl.io import write_bytes_atomic, write_json, write_text_atomic

MODEL = re.compile(r"^(?P<method>[a-z_]+?)(-e(?P<n>\d+))?_s(?P<seed>\d+)$")


def model_info(name: str, params: dict[str, Any]) -> dict[str, Any]:
    match = MODEL.match(name)
    if match is None:
        raise ValueError(f"not a model name: {name}")
    method, n = match["method"], match["n"]
    experts = (
        int(n) if n else (params["pretrain"]["num_experts"] if method == "star_mmoe" else None)
    )
    return {"model": name, "method": method, "seed": int(match["seed"]), "num_experts": experts}


def rng_for(*keys: object) -> random.Random:
    digest = hashlib.sha256("/".join(map(str, keys)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def history(rng: random.Random, epochs: int, equivariant: bool) -> list[dict[str, float]]:
    rows: list[dict[str, float]] = [{"epoch": 0, "knn_top1": 0.1 + 0.02 * rng.random()}]
    for e in range(1, epochs + 1):
        inv = 6.0 / (1 + 0.5 * e) + 0.05 * rng.random()
        eq = 5.0 / (1 + 0.4 * e) if equivariant else 0.0
        row = {
            "epoch": e,
            "train_loss": inv + eq,
            "train_loss_inv": inv,
            "knn_top1": 0.2 + 0.5 * e / epochs,
        }
        if equivariant:
            row["train_loss_eq"] = eq
        rows.append(row)
    return rows


def pretrain(out: Path, info: dict[str, Any], params: dict[str, Any]) -> None:
    if (out / "run.json").is_file():  # like the real command: a finished run is kept
        return
    rng = rng_for("pretrain", info["model"])
    hist = history(rng, params["pretrain"]["epochs"], info["method"] != "simclr")
    write_bytes_atomic(out / "checkpoint.safetensors", b"fake checkpoint " + info["model"].encode())
    plots = out / "metrics" / "plots" / "metrics"
    for key in ("train_loss", "knn_top1"):
        rows = [f"{h['epoch']}\t{h[key]}" for h in hist if key in h]
        write_text_atomic(plots / f"{key}.tsv", "\n".join([f"step\t{key}", *rows]) + "\n")
    write_json(
        out / "metrics" / "metrics.json", {k: v for k, v in hist[-1].items() if k != "epoch"}
    )
    write_json(
        out / "run.json",
        {"method": info["method"], "seed": info["seed"], "params": params, "history": hist},
    )


def evaluation(
    stage: str, info: dict[str, Any], dataset: str | None, params: dict[str, Any]
) -> dict[str, Any]:
    rng = rng_for(stage, info["model"], dataset)
    base = {**info, **({"dataset": dataset} if dataset else {})}
    acc = 0.5 + 0.4 * rng.random()
    equivariant = info["method"] != "simclr"
    if stage == "knn":
        return {**base, "k": params["eval"]["knn"]["k"], "accuracy": acc}
    if stage == "linear":
        return {
            **base,
            "metric": "top1",
            "best_w": 1e-3,
            "val_accuracy": acc,
            "test_accuracy": acc - 0.01,
        }
    if stage == "fewshot":
        shots = {
            str(k): {"mean": min(0.99, acc + 0.05 * k), "ci95": 0.004 + 0.002 * rng.random()}
            for k in params["eval"]["fewshot"]["shots"]
        }
        return {
            **base,
            "ways": params["eval"]["fewshot"]["ways"],
            "shots": shots,
            "episodes": params["eval"]["fewshot"]["episodes"],
        }
    if stage == "cca":
        if not equivariant:
            return {**base, "defined": False, "reason": "simclr has no equivariant embedding"}
        corr = sorted((rng.random() for _ in range(8)), reverse=True)
        return {
            **base,
            "defined": True,
            "correlations": corr,
            "mean": sum(corr) / len(corr),
            "n_samples": 100,
        }
    if stage == "equivariance":

        def metrics() -> dict[str, float]:
            return {
                "r_equiv": rng.random(),
                "hit1": rng.random(),
                "hit5": rng.random(),
                "p_equiv": rng.random(),
            }

        return {**base, "own": metrics() if equivariant else None, "posthoc": metrics()}
    if stage == "routing":
        n = info["num_experts"] or 1

        def router() -> dict[str, Any]:
            w = [rng.random() for _ in range(n)]
            return {"mean_weight": [x / sum(w) for x in w], "entropy_mean": rng.random()}

        return {**base, "defined": True, "routers": {"inv": router(), "eq": router()}}
    raise ValueError(stage)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stage = argv[0]
    if stage in ("tables", "figures"):
        from starssl.cli import main as real_main

        return real_main(argv)
    parser = argparse.ArgumentParser(prog="starssl (fake)")
    for flag in ("--out", "--model", "--run", "--dataset", "--method", "--params"):
        parser.add_argument(flag)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv[1:])
    params = load_params(args.params or "params.yaml", args.overrides)
    out = Path(args.out)
    if stage == "prepare":
        write_json(out, {"dataset": args.dataset, "image_size": params["pretrain"]["image_size"]})
    elif stage == "pretrain":
        pretrain(out, model_info(out.name, params), params)
    elif stage == "export":
        write_bytes_atomic(out / "backbone.safetensors", b"fake backbone " + out.name.encode())
        write_json(out / "card.json", model_info(out.name, params))
    else:
        name = Path(args.model or args.run).name
        write_json(out, evaluation(stage, model_info(name, params), args.dataset, params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
