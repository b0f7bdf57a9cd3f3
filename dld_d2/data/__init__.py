"""Data layer: vocabulary, annotation formats, synthetic scenes (core) and Detectron2 glue."""
from ..environment import detectron2_available, warn_if_detectron2_unusable

if detectron2_available():
    from . import builtin  # noqa: F401  (registers the datasets)
else:
    warn_if_detectron2_unusable()  # once per process (dld_d2/__init__.py has usually said it)
