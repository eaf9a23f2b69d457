"""Networks: ResNet backbones and the projection/prediction heads (§3)."""

from starssl.models.backbone import BACKBONES, STEMS, build_backbone
from starssl.models.heads import (
    BatchedExperts,
    MLPHead,
    ParamProjector,
    ShiftPredictor,
    SoftRouter,
)

__all__ = [
    "BACKBONES",
    "STEMS",
    "BatchedExperts",
    "MLPHead",
    "ParamProjector",
    "ShiftPredictor",
    "SoftRouter",
    "build_backbone",
]
