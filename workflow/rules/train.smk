# fingerprint → prepare → pretrain → export. Inputs, outputs and commands come from the stage
# registry (starssl.pipeline.stages), like dvc.yaml's.


# One per stage group: the values of the keys the group reads (params trigger) and the sha256
# of the code it runs (its inputs); every stage of the group depends on it.
rule fingerprint:
    input:
        PIPE.inputs("fingerprint"),
    output:
        PIPE.outputs("fingerprint"),
    params:
        cmd=PIPE.cmd("fingerprint"),
        values=PIPE.values("fingerprint"),
    shell:
        RUN


rule prepare:
    input:
        PIPE.inputs("prepare"),
    output:
        PIPE.outputs("prepare"),
    params:
        cmd=PIPE.cmd("prepare"),
    threads: PIPE.threads("prepare")
    shell:
        RUN


# The checkpoint is not an output: Snakemake deletes outputs before a job runs, and an
# interrupted run must resume from it (`starssl pretrain` resumes; run.json marks the end).
# The guard first removes a checkpoint made under another fingerprint (parameters or code).
# With resources gpu > 1 (e.g. the SLURM profile for imagenet100) the run goes via torchrun.
rule pretrain:
    input:
        PIPE.inputs("pretrain"),
    output:
        PIPE.outputs("pretrain"),
    params:
        setup=PIPE.setup("pretrain"),
        args=PIPE.cmd("pretrain", skip=1),
    threads: PIPE.threads("pretrain")
    resources:
        gpu=1,
    shell:
        "{params.setup} && if [ {resources.gpu} -gt 1 ]; then"
        " L='torchrun --standalone --nproc_per_node={resources.gpu} -m starssl'; else L=starssl; fi;"
        " OMP_NUM_THREADS={threads} $L {params.args} --params {PARAMS_FILE}"


rule export:
    input:
        PIPE.inputs("export"),
    output:
        PIPE.outputs("export"),
    params:
        cmd=PIPE.cmd("export"),
    threads: PIPE.threads("export")
    shell:
        RUN
