"""The pipeline: one stage registry (``stages``) compiled for two engines (``dvcgen`` writes
dvc.yaml; ``Snakefile`` uses ``snake``), plus the result ``tables`` and ``figures``."""
