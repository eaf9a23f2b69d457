# Tables and figures: committed to git; figures (PNG) and tables (CSV) go into the HTML report
# (`snakemake --report report.html`). Caption paths are relative to this file.


rule tables:
    input:
        PIPE.inputs("tables"),
    output:
        PIPE.reported_outputs("tables", "Tables", lambda p: "../report/tables.rst"),
    params:
        cmd=PIPE.cmd("tables"),
    shell:
        RUN


rule figures:
    input:
        PIPE.inputs("figures"),
    output:
        PIPE.reported_outputs("figures", "Figures", lambda p: f"../report/{Path(p).stem}.rst"),
    params:
        cmd=PIPE.cmd("figures"),
    shell:
        RUN
