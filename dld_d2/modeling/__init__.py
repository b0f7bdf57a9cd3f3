"""Models: the pure-torch recognition and DLD cores and their Detectron2 glue (registered on
import): `TextSpotter`, `TextSpottingROIHeads`, the text head registry and `DLDSpotter`."""
from ..environment import detectron2_available

if detectron2_available():
    from . import narrow_resnet  # noqa: F401
    from .roi_heads import TextSpottingROIHeads  # noqa: F401
    from .text_head import TEXT_HEAD_REGISTRY, build_text_head  # noqa: F401
    from .text_spotter import TextSpotter  # noqa: F401
    from .dld import DLDSpotter  # noqa: F401
