"""The text head registry: MODEL.TEXT_HEAD.NAME picks the recognizer TextSpottingROIHeads
builds, as MODEL.POINT_HEAD.NAME picks PointRend's point head."""
from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.utils.registry import Registry

from .recognition import ROI_SIZE, RecognitionBranch
from .recognition.masked_roi import MASK_GRIDS

TEXT_HEAD_REGISTRY = Registry("TEXT_HEAD")
TEXT_HEAD_REGISTRY.__doc__ = """
Recognizers of TextSpottingROIHeads, by MODEL.TEXT_HEAD.NAME. A recognizer is an nn.Module built
as `cls(cfg, input_shape, num_classes)` (input_shape: the ShapeSpec of MODEL.TEXT_HEAD.IN_FEATURE,
stride 4) with the interface of `RecognitionBranch`:

- `forward(p2, boxes, masks, targets=None, mask_stride=1)` → `RecognitionOutputs` (logits
  teacher-forced when targets are given; RoI and context features, which DLD distils);
- `predict(p2, boxes, masks, beam_width=1, mask_stride=1)` → `DecodedText` (inference; with
  MODEL.TEXT_HEAD.DECODER ctc/joint it is also given `decoder=` and `ctc_weight=`);
- `ctc_head`: None, or the classifier of the auxiliary CTC loss over the context features.
"""


def build_text_head(cfg, input_shape: ShapeSpec, num_classes: int):
    """The recognizer named by MODEL.TEXT_HEAD.NAME."""
    return TEXT_HEAD_REGISTRY.get(cfg.MODEL.TEXT_HEAD.NAME)(cfg, input_shape, num_classes)


@TEXT_HEAD_REGISTRY.register()
class AttentionRecognitionHead(RecognitionBranch):
    """The paper's recognizer (`RecognitionBranch`: masked RoI → LightCRNN → BiLSTM → attention
    decoder), sized by MODEL.TEXT_HEAD."""

    @configurable
    def __init__(self, *, num_classes: int, channels: int, in_channels: int, max_text_len: int,
                 aux_ctc: bool = False, roi_width: int = ROI_SIZE[1], roi_supersample: int = 1,
                 mask_grid: str = "aligned"):
        super().__init__(num_classes=num_classes, channels=channels, in_channels=in_channels,
                         max_text_len=max_text_len, aux_ctc=aux_ctc, roi_width=roi_width,
                         roi_supersample=roi_supersample, mask_grid=mask_grid)

    @classmethod
    def from_config(cls, cfg, input_shape, num_classes):
        head = cfg.MODEL.TEXT_HEAD
        if head.ROI_WIDTH < 1:
            raise ValueError(f"MODEL.TEXT_HEAD.ROI_WIDTH must be >= 1, got {head.ROI_WIDTH}")
        if head.ROI_SUPERSAMPLE < 1:
            raise ValueError(
                f"MODEL.TEXT_HEAD.ROI_SUPERSAMPLE must be >= 1, got {head.ROI_SUPERSAMPLE}")
        if head.MASK_GRID not in MASK_GRIDS:
            raise ValueError(f"MODEL.TEXT_HEAD.MASK_GRID must be one of {MASK_GRIDS}, got {head.MASK_GRID!r}")
        return {
            "num_classes": num_classes,
            "channels": head.CONV_DIM,
            "in_channels": input_shape.channels,
            "max_text_len": head.MAX_TEXT_LEN,
            "aux_ctc": head.AUX_CTC_WEIGHT > 0,
            "roi_width": head.ROI_WIDTH,
            "roi_supersample": head.ROI_SUPERSAMPLE,
            "mask_grid": head.MASK_GRID,
        }
