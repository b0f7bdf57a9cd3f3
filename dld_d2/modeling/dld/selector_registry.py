"""The resolution selector registry: MODEL.DLD.SELECTOR_NAME picks the selector DLDSpotter
builds, as MODEL.POINT_HEAD.NAME picks PointRend's point head."""
from detectron2.config import configurable
from detectron2.utils.registry import Registry

from .selector import DEFAULT_WIDTHS, NORMS, ResolutionSelector

SELECTOR_REGISTRY = Registry("DLD_SELECTOR")
SELECTOR_REGISTRY.__doc__ = """
Resolution selectors of DLDSpotter, by MODEL.DLD.SELECTOR_NAME. A selector is an nn.Module built
as `cls(cfg, num_scales)` that maps a normalized image (1, 3, h, w) to scale logits
(1, num_scales); DLDSpotter calls it on one image at a time.
"""


def build_selector(cfg, num_scales: int):
    """The selector named by MODEL.DLD.SELECTOR_NAME, for `num_scales` candidate scales."""
    return SELECTOR_REGISTRY.get(cfg.MODEL.DLD.SELECTOR_NAME)(cfg, num_scales)


@SELECTOR_REGISTRY.register()
class ResNetResolutionSelector(ResolutionSelector):
    """The paper's selector (`ResolutionSelector`), widths from MODEL.DLD.SELECTOR_WIDTHS."""

    @configurable
    def __init__(self, *, num_scales: int, widths=DEFAULT_WIDTHS, norm: str = "per_image"):
        super().__init__(num_scales=num_scales, widths=widths, norm=norm)

    @classmethod
    def from_config(cls, cfg, num_scales):
        norm = cfg.MODEL.DLD.SELECTOR_NORM
        if norm not in NORMS:
            raise ValueError(f"MODEL.DLD.SELECTOR_NORM must be one of {NORMS}, got {norm!r}")
        return {"num_scales": num_scales, "widths": tuple(cfg.MODEL.DLD.SELECTOR_WIDTHS), "norm": norm}
