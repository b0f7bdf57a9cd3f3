"""Dynamic low-resolution distillation parts: the resolution selector, its schedule and losses
(pure torch), and the low-resolution view of a batch (Detectron2 structures)."""
from ...utils.env import detectron2_available
from .schedule import (
    best_scale_targets,
    combine_scale_logits,
    epoch_of,
    iters_per_epoch,
    resolution_penalty,
    scale_token_losses,
    temperature,
)
from .selector import DEFAULT_WIDTHS, ResolutionSelector, select_scales

__all__ = [
    "DEFAULT_WIDTHS",
    "ResolutionSelector",
    "best_scale_targets",
    "combine_scale_logits",
    "epoch_of",
    "iters_per_epoch",
    "resolution_penalty",
    "scale_token_losses",
    "select_scales",
    "temperature",
]

if detectron2_available():
    from .lowres import lowres_view, scale_short_sides

    __all__ += ["lowres_view", "scale_short_sides"]
