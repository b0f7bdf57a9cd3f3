"""Selector objectives, chosen by MODEL.DLD.SELECTOR_LOSS through `SELECTOR_LOSS_REGISTRY`
(Detectron2 glue; importing this package registers "ce", "kl" and "best")."""
from . import best_scale, decision_ce, teacher_kl  # noqa: F401  (registration by import)
from .base import SELECTOR_LOSS_REGISTRY, SelectorObjective, SelectorStep, build_selector_objective

__all__ = ["SELECTOR_LOSS_REGISTRY", "SelectorObjective", "SelectorStep", "build_selector_objective"]
