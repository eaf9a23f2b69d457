# Evaluations of the exported backbones (knn, linear, fewshot: model × dataset) and of the
# full runs (cca, equivariance, routing: per model, on experiment.analysis_dataset).


rule knn:
    input:
        PIPE.inputs("knn"),
    output:
        PIPE.outputs("knn"),
    params:
        cmd=PIPE.cmd("knn"),
    threads: PIPE.threads("knn")
    shell:
        RUN


rule linear:
    input:
        PIPE.inputs("linear"),
    output:
        PIPE.outputs("linear"),
    params:
        cmd=PIPE.cmd("linear"),
    threads: PIPE.threads("linear")
    shell:
        RUN


rule fewshot:
    input:
        PIPE.inputs("fewshot"),
    output:
        PIPE.outputs("fewshot"),
    params:
        cmd=PIPE.cmd("fewshot"),
    threads: PIPE.threads("fewshot")
    shell:
        RUN


rule cca:
    input:
        PIPE.inputs("cca"),
    output:
        PIPE.outputs("cca"),
    params:
        cmd=PIPE.cmd("cca"),
    threads: PIPE.threads("cca")
    shell:
        RUN


rule equivariance:
    input:
        PIPE.inputs("equivariance"),
    output:
        PIPE.outputs("equivariance"),
    params:
        cmd=PIPE.cmd("equivariance"),
    threads: PIPE.threads("equivariance")
    shell:
        RUN


rule routing:
    input:
        PIPE.inputs("routing"),
    output:
        PIPE.outputs("routing"),
    params:
        cmd=PIPE.cmd("routing"),
    threads: PIPE.threads("routing")
    shell:
        RUN
