"""Run the whole pipeline with both engines on a stand-in ``starssl`` and time the bookkeeping.

    python bench/pipeline_stub.py [--profile demo|stl10] [--keep]

In a scratch copy of the repository, every stage command is served by
``starssl.pipeline.fake`` (contract-shaped JSON in milliseconds; tables and figures are real),
so what is measured is the engines' own overhead: a full ``snakemake`` run, its no-op dry run,
``--report``, which jobs an override reruns, then ``dvc repro`` and ``dvc status`` (clean,
then after editing a key). Nothing here trains or evaluates anything.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIM = '#!/bin/sh\nexec python -m starssl.pipeline.fake "$@"\n'


def sh(cmd: str, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # dvc status exits 1 when something changed
        sys.exit(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return took, proc.stdout + proc.stderr


def job_counts(text: str) -> dict[str, int]:
    stats = text.split("Job stats:")[-1]
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] != "total"
    }


def setup(work: Path, profile: str) -> dict[str, str]:
    shutil.copytree(
        ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copytree(ROOT / "workflow", work / "workflow")
    text = (ROOT / "params.yaml").read_text().replace("profile: demo", f"profile: {profile}", 1)
    (work / "params.yaml").write_text(text)
    (work / "bin").mkdir()
    (work / "bin/starssl").write_text(SHIM)
    (work / "bin/starssl").chmod(0o755)
    env = dict(os.environ, PYTHONPATH=str(work / "src"), PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = f"{work / 'bin'}:{Path(sys.executable).parent}:{env['PATH']}"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="starssl-stub-"))
    env = setup(work, args.profile)
    took, out = sh("snakemake --cores 2 all", work, env)
    print(f"snakemake full run (stub stages): {took:.1f} s, {job_counts(out)}")
    took, out = sh("snakemake -n", work, env)
    print(f"snakemake -n (nothing to do): {took:.2f} s; {'Nothing to be done' in out}")
    took, _ = sh("snakemake --report report.html", work, env)
    size = (work / "report.html").stat().st_size
    print(f"snakemake --report: {took:.1f} s, {size / 1e6:.1f} MB")
    for override in ("eval={linear: {max_iter: 100}}", "pretrain={lambda_eq: 0.5}"):
        _, out = sh(f"snakemake -n --config '{override}'", work, env)
        print(f"--config {override!r} reruns {job_counts(out)}")
    shutil.rmtree(work / "results")
    shutil.rmtree(work / "data")
    sh("python -m starssl.pipeline.dvcgen && dvc init --no-scm -q", work, env)
    took, _ = sh("dvc repro -q", work, env)
    print(f"dvc repro (stub stages): {took:.1f} s")
    times = []
    for _ in range(3):
        took, out = sh("dvc status", work, env)
        times.append(took)
    print(f"dvc status x3: {', '.join(f'{t:.2f}' for t in times)} s; clean: {'up to date' in out}")
    params = work / "params.yaml"
    params.write_text(params.read_text().replace("max_iter: 5000", "max_iter: 100"))
    took, out = sh("dvc status", work, env)
    changed = sorted(set(re.findall(r"^(\S+):$", out, re.M)))
    print(f"dvc status after eval.linear.max_iter edit: {took:.2f} s, changed: {changed}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
