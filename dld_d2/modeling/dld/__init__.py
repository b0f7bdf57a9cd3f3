"""Dynamic Low-Resolution Distillation (docs/method.md).

Pure torch (importable without Detectron2): the selector (`selector`), the temperature schedule
(`schedule`), the resolution penalty (`penalty`), the per-scale scoring of decisions
(`scale_scoring`), the distillation losses (`distillation`), the low-resolution view (`lowres`)
and the replay bank (`replay_bank`). Detectron2 glue, imported when Detectron2 is: the
meta-architecture `DLDSpotter` (`meta_arch`), the low-resolution view of a batch
(`lowres_batch`), the selector registry (`selector_registry`) and the selector objectives
(`objectives`).
"""
from ...environment import detectron2_available
from .distillation import RecognitionDistillation, feature_kd_loss, sequence_kd_loss, teacher_paths, token_kl_loss
from .lowres import scale_short_sides
from .penalty import ResolutionPenalty, resolution_penalty
from .replay_bank import ReplayBank
from .scale_scoring import best_scale_targets, combine_scale_logits, scale_token_losses
from .schedule import epoch_length, epoch_of, temperature
from .selector import DEFAULT_WIDTHS, ResolutionSelector, select_scales, selector_views

__all__ = [
    "DEFAULT_WIDTHS",
    "RecognitionDistillation",
    "ReplayBank",
    "ResolutionPenalty",
    "ResolutionSelector",
    "best_scale_targets",
    "combine_scale_logits",
    "epoch_length",
    "epoch_of",
    "feature_kd_loss",
    "resolution_penalty",
    "scale_short_sides",
    "scale_token_losses",
    "select_scales",
    "selector_views",
    "sequence_kd_loss",
    "teacher_paths",
    "temperature",
    "token_kl_loss",
]

if detectron2_available():
    from .lowres_batch import lowres_view
    from .meta_arch import DLDSpotter
    from .objectives import SELECTOR_LOSS_REGISTRY, SelectorObjective, SelectorStep, build_selector_objective
    from .selector_registry import SELECTOR_REGISTRY, build_selector

    __all__ += [
        "DLDSpotter",
        "SELECTOR_LOSS_REGISTRY",
        "SELECTOR_REGISTRY",
        "SelectorObjective",
        "SelectorStep",
        "build_selector",
        "build_selector_objective",
        "lowres_view",
    ]
