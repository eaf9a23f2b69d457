"""STAR pipeline for Snakemake, run from the repository root.

Every rule comes from the stage registry (starssl.pipeline.stages), the one that also writes
dvc.yaml, so both engines build the same DAG from the same params.yaml.

    snakemake --cores 2                                   # everything, profile from params.yaml
    snakemake --cores 2 --config 'pretrain={epochs: 8}'   # override: reruns what reads it
    snakemake --cores 2 --config profile=stl10            # a paper recipe
    snakemake --cores 2 --config results=results/try1     # results somewhere else
    snakemake --report report.html                        # HTML report with the figures
    snakemake --workflow-profile workflow/profiles/slurm  # on a SLURM cluster
"""

from pathlib import Path

from snakemake.utils import validate

from starssl.io import read_yaml
from starssl.pipeline import snake


configfile: "params.yaml"


# `results` is the one Snakemake-only config key (not a parameter): the results root.
RESULTS = str(config.pop("results", "results"))
snake.coerce_overrides(config, read_yaml("params.yaml"))
validate(config, snake.SCHEMA)  # JSON Schema draft 2020-12; profiles: see starssl.config
PIPE = snake.Pipeline(config, "params.yaml", RESULTS)
PARAMS_FILE = PIPE.params_file  # params.yaml, or the file holding the --config overrides
# One shell template for (almost) every rule: the command is a param naming the instance only,
# so neither the code nor the params trigger fires on an override; fingerprints carry those.
RUN = "OMP_NUM_THREADS={threads} {params.cmd} --params {PARAMS_FILE}"


report: "workflow/report/workflow.rst"


wildcard_constraints:
    model=snake.WILDCARDS["model"],
    dataset=snake.WILDCARDS["dataset"],


localrules:
    all,
    tables,
    figures,


rule all:
    default_target: True
    input:
        PIPE.targets(),


include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
