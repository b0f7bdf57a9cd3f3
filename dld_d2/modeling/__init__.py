"""Models: the pure-torch recognition core and its Detectron2 glue (registered on import)."""
from ..utils.env import detectron2_available

if detectron2_available():
    from . import narrow_resnet  # noqa: F401
    from .dld_spotter import DLDSpotter  # noqa: F401
    from .roi_heads import TextSpottingROIHeads  # noqa: F401
    from .text_spotter import TextSpotter  # noqa: F401
