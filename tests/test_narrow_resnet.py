"""The narrow ResNet-18/34 + FPN backbone (any RES2_OUT_CHANNELS), built by name from a config."""
import pytest
import torch

pytestmark = pytest.mark.detectron2


def _cfg(width, depth=18):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file("configs/synth/Base-Synth-CPU.yaml")
    cfg.MODEL.BACKBONE.NAME = "build_narrow_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.DEPTH = depth
    cfg.MODEL.RESNETS.STEM_OUT_CHANNELS = width
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = width
    return cfg


def test_narrow_backbone_shapes_and_width():
    from detectron2.modeling import build_backbone

    narrow, standard = build_backbone(_cfg(32)), build_backbone(_cfg(64))
    shapes = narrow.output_shape()
    assert {k: (v.channels, v.stride) for k, v in shapes.items()} == {
        "p2": (64, 4), "p3": (64, 8), "p4": (64, 16), "p5": (64, 32), "p6": (64, 64)
    }
    res = narrow.bottom_up.output_shape()
    assert [res[f"res{i}"].channels for i in range(2, 6)] == [32, 64, 128, 256]
    out = narrow(torch.zeros(1, 3, 64, 96))
    assert out["p2"].shape == (1, 64, 16, 24) and out["p6"].shape == (1, 64, 1, 2)
    n = lambda m: sum(p.numel() for p in m.bottom_up.parameters())  # noqa: E731
    # Halving the width quarters the 3x3 convolutions' weights.
    assert 0.2 < n(narrow) / n(standard) < 0.3
    # At width 64 it is Detectron2's own R-18-FPN, parameter for parameter.
    d2_cfg = _cfg(64)
    d2_cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    d2 = build_backbone(d2_cfg)
    assert {k: v.shape for k, v in d2.state_dict().items()} == {
        k: v.shape for k, v in standard.state_dict().items()
    }


def test_narrow_backbone_rejects_bottleneck_depths():
    from detectron2.modeling import build_backbone

    with pytest.raises(ValueError, match="DEPTH=50.*build_resnet_fpn_backbone"):
        build_backbone(_cfg(32, depth=50))
    cfg = _cfg(32)
    cfg.MODEL.RESNETS.NUM_GROUPS = 2
    with pytest.raises(ValueError, match="NUM_GROUPS.*got 1, 2"):
        build_backbone(cfg)
