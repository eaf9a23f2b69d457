"""The pipeline: one stage registry (``stages``) compiled for two engines (``dvcgen`` writes
dvc.yaml; ``workflow/Snakefile`` uses ``snake``), plus the result ``tables`` and ``figures``."""
