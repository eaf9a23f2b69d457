# Entry point at the repository root; the workflow lives in workflow/ (snakemake-workflows layout).
include: "workflow/Snakefile"
