"""dld_d2: Dynamic Low-Resolution Distillation for end-to-end text spotting, on Detectron2.

Importing the package registers its datasets and models with Detectron2 when Detectron2 is
importable; the pure-torch/numpy core (vocabulary, annotation formats, synthetic scenes,
recognition modules, evaluation protocol) works without it.
"""
from .utils.env import detectron2_available

__version__ = "0.1.0"

if detectron2_available():
    from . import data, modeling  # noqa: F401  (registration by import)
