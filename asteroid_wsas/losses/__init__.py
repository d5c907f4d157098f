"""Losses of the weakly-supervised objective, in Asteroid style, and their combinations."""

from .bimodal import BimodalContrastiveLoss, bimodal_contrastive_loss, text_ids
from .classifier_objectives import (
    ClassifierTeacher,
    CoSepCleanObjective,
    CoSepObjective,
    WeakClassifierObjective,
    WeakSupObjective,
)
from .objectives import (
    OBJECTIVES,
    MixAndSeparateObjective,
    MixITObjective,
    Objective,
    SemiSupervisedObjective,
    SupervisedObjective,
    WeakObjective,
    make_objective,
    register_objective,
)
from .reconstruction import (
    ConsistencyLoss,
    MixAndSeparateLoss,
    WeightedMagnitudeL1,
    consistency_loss,
    magnitude_weight,
    mix_and_separate_loss,
    weighted_mag_l1,
)

__all__ = [
    "CoSepObjective",
    "CoSepCleanObjective",
    "magnitude_weight",
    "WeightedMagnitudeL1",
    "MixAndSeparateLoss",
    "ConsistencyLoss",
    "BimodalContrastiveLoss",
    "text_ids",
    "weighted_mag_l1",
    "mix_and_separate_loss",
    "consistency_loss",
    "bimodal_contrastive_loss",
    "OBJECTIVES",
    "Objective",
    "WeakObjective",
    "MixAndSeparateObjective",
    "SupervisedObjective",
    "SemiSupervisedObjective",
    "MixITObjective",
    "ClassifierTeacher",
    "WeakClassifierObjective",
    "WeakSupObjective",
    "make_objective",
    "register_objective",
]
