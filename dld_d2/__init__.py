"""dld_d2: Dynamic Low-Resolution Distillation for end-to-end text spotting, on Detectron2.

Importing the package registers its datasets and models with Detectron2. Without Detectron2
the pure-torch/numpy core (vocabulary, annotation formats, synthetic scenes, recognition
modules, evaluation protocol) works and nothing is registered; where Detectron2 is installed
but cannot be used (it fails to import, or torchvision's ops do not load), the import warns
once, saying what failed and that nothing was registered.
"""
from .environment import detectron2_available, warn_if_detectron2_unusable

__version__ = "0.1.0"

if detectron2_available():
    from . import data, modeling  # noqa: F401  (registration by import)
else:
    warn_if_detectron2_unusable()
