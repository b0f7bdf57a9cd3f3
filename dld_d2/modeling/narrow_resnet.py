"""ResNet-18/34 + FPN at any width, for CPU-sized spotters.

Detectron2's `build_resnet_backbone` asserts MODEL.RESNETS.RES2_OUT_CHANNELS == 64 for the
BasicBlock depths. Halving that width cuts the backbone's FLOPs about fourfold, which is what
lets the synthetic teacher take enough optimizer steps on two CPU cores (the recognizer learns
per step, not per FLOP). Built from Detectron2's own stem, blocks, ResNet and FPN.
"""
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet

_BLOCKS_PER_STAGE = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}


def _narrow_resnet(cfg, input_shape: ShapeSpec) -> ResNet:
    """BasicBlock ResNet (MODEL.RESNETS.DEPTH 18 or 34) whose res2 has RES2_OUT_CHANNELS
    channels (doubling per stage) and whose stem has STEM_OUT_CHANNELS."""
    r = cfg.MODEL.RESNETS
    name = "MODEL.BACKBONE.NAME build_narrow_resnet_fpn_backbone"
    if r.DEPTH not in _BLOCKS_PER_STAGE:
        raise ValueError(
            f"MODEL.RESNETS.DEPTH={r.DEPTH}: {name} builds the BasicBlock depths 18 and 34; "
            "for bottleneck ResNets use build_resnet_fpn_backbone"
        )
    if r.RES5_DILATION != 1 or r.NUM_GROUPS != 1 or any(r.DEFORM_ON_PER_STAGE):
        raise ValueError(
            f"{name} has no MODEL.RESNETS.RES5_DILATION, NUM_GROUPS or DEFORM_ON_PER_STAGE: set "
            f"them to 1, 1 and all False (got {r.RES5_DILATION}, {r.NUM_GROUPS}, "
            f"{tuple(r.DEFORM_ON_PER_STAGE)})"
        )
    stem = BasicStem(in_channels=input_shape.channels, out_channels=r.STEM_OUT_CHANNELS, norm=r.NORM)
    stages, in_channels, out_channels = [], r.STEM_OUT_CHANNELS, r.RES2_OUT_CHANNELS
    for idx, num_blocks in enumerate(_BLOCKS_PER_STAGE[r.DEPTH]):
        first_stride = 1 if idx == 0 else 2
        stages.append(ResNet.make_stage(
            BasicBlock, num_blocks, in_channels=in_channels, out_channels=out_channels, norm=r.NORM,
            stride_per_block=[first_stride] + [1] * (num_blocks - 1),
        ))
        in_channels, out_channels = out_channels, out_channels * 2
    return ResNet(stem, stages, out_features=r.OUT_FEATURES, freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT)


@BACKBONE_REGISTRY.register()
def build_narrow_resnet_fpn_backbone(cfg, input_shape: ShapeSpec) -> FPN:
    """A BasicBlock ResNet at MODEL.RESNETS.STEM_OUT_CHANNELS / RES2_OUT_CHANNELS width + FPN
    (P2–P6, P6 by max-pool), as Detectron2's `build_resnet_fpn_backbone` (identical at 64)."""
    return FPN(
        bottom_up=_narrow_resnet(cfg, input_shape),
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
