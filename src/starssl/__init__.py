"""starssl: the reproducible pipeline for STAR (Soft Task-Aware Routing of experts)."""

__version__ = "0.1.0"
