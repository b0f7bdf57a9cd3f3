"""Data layer: vocabulary, annotation formats, synthetic scenes (core) and Detectron2 glue."""
from ..utils.env import detectron2_available

if detectron2_available():
    from . import builtin  # noqa: F401  (registers the datasets)
