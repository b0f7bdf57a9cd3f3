"""DAVAR-Lab-OCR checkpoints → dld_d2 (dld_d2/checkpoint/davar_conversion.py and
tools/convert_davar_checkpoint.py).

The source state dicts are written here from the reference code (DAVAR-Lab-OCR's
mask_rcnn_spot / dld configs on mmdetection 2.x: ResNet-50 "pytorch" style, FPN, RPNHead with 6
anchors, Shared2FCBBoxHead and FCNMaskHead for one class, MaskedRoIExtractor, LightCRNN,
CascadeRNN of two BidirectionalLSTM, AttentionHead over 97 classes; SpotResolutionDistillation
with `stu`, `tea` and the ResolutionSelector `policy`), with random values and BatchNorm step
counts, and converted into models built from configs/teacher.yaml and configs/distill.yaml.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.detectron2

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------- reference names and shapes
def _bn(prefix, c):
    return {
        f"{prefix}.weight": (c,),
        f"{prefix}.bias": (c,),
        f"{prefix}.running_mean": (c,),
        f"{prefix}.running_var": (c,),
        f"{prefix}.num_batches_tracked": (),
    }


def davar_spotter_shapes(num_classes=97):
    """Key → shape of DAVAR's MaskRCNNSpot (mask_rcnn_pretrain_teacher.py) state dict."""
    s = {"backbone.conv1.weight": (64, 3, 7, 7), **_bn("backbone.bn1", 64)}
    cin = 64
    for stage, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], 1):
        for b in range(blocks):
            p = f"backbone.layer{stage}.{b}"
            s[f"{p}.conv1.weight"] = (width, cin, 1, 1)
            s.update(_bn(f"{p}.bn1", width))
            s[f"{p}.conv2.weight"] = (width, width, 3, 3)  # stride here ("pytorch" style)
            s.update(_bn(f"{p}.bn2", width))
            s[f"{p}.conv3.weight"] = (4 * width, width, 1, 1)
            s.update(_bn(f"{p}.bn3", 4 * width))
            if b == 0:
                s[f"{p}.downsample.0.weight"] = (4 * width, cin, 1, 1)
                s.update(_bn(f"{p}.downsample.1", 4 * width))
            cin = 4 * width
    for i, c in enumerate([256, 512, 1024, 2048]):
        s[f"neck.lateral_convs.{i}.conv.weight"] = (256, c, 1, 1)
        s[f"neck.lateral_convs.{i}.conv.bias"] = (256,)
        s[f"neck.fpn_convs.{i}.conv.weight"] = (256, 256, 3, 3)
        s[f"neck.fpn_convs.{i}.conv.bias"] = (256,)
    s.update(
        {
            "rpn_head.rpn_conv.weight": (256, 256, 3, 3),
            "rpn_head.rpn_conv.bias": (256,),
            "rpn_head.rpn_cls.weight": (6, 256, 1, 1),
            "rpn_head.rpn_cls.bias": (6,),
            "rpn_head.rpn_reg.weight": (24, 256, 1, 1),
            "rpn_head.rpn_reg.bias": (24,),
            "roi_head.bbox_head.fc_cls.weight": (2, 1024),
            "roi_head.bbox_head.fc_cls.bias": (2,),
            "roi_head.bbox_head.fc_reg.weight": (4, 1024),
            "roi_head.bbox_head.fc_reg.bias": (4,),
            "roi_head.bbox_head.shared_fcs.0.weight": (1024, 256 * 7 * 7),
            "roi_head.bbox_head.shared_fcs.0.bias": (1024,),
            "roi_head.bbox_head.shared_fcs.1.weight": (1024, 1024),
            "roi_head.bbox_head.shared_fcs.1.bias": (1024,),
            "roi_head.mask_head.upsample.weight": (256, 256, 2, 2),
            "roi_head.mask_head.upsample.bias": (256,),
            "roi_head.mask_head.conv_logits.weight": (1, 256, 1, 1),
            "roi_head.mask_head.conv_logits.bias": (1,),
            "recog_roi_extractor.conv.weight": (256, 256, 3, 3),
            "recog_roi_extractor.conv.bias": (256,),
            **_bn("recog_roi_extractor.bn", 256),
        }
    )
    for i in range(4):
        s[f"roi_head.mask_head.convs.{i}.conv.weight"] = (256, 256, 3, 3)
        s[f"roi_head.mask_head.convs.{i}.conv.bias"] = (256,)
    # LightCRNN.ConvNet: 4 × (conv3x3, BN, ReLU), max-pool (index 12), 2 × (conv2x2, BN, ReLU).
    for conv, k in ((0, 3), (3, 3), (6, 3), (9, 3), (13, 2), (16, 2)):
        s[f"recog_backbone.ConvNet.{conv}.weight"] = (256, 256, k, k)
        s[f"recog_backbone.ConvNet.{conv}.bias"] = (256,)
        s.update(_bn(f"recog_backbone.ConvNet.{conv + 1}", 256))
    for i in range(2):
        p = f"recog_sequence_module.SequenceModeling.{i}"
        for suffix in ("", "_reverse"):
            s[f"{p}.rnn.weight_ih_l0{suffix}"] = (1024, 256)
            s[f"{p}.rnn.weight_hh_l0{suffix}"] = (1024, 256)
            s[f"{p}.rnn.bias_ih_l0{suffix}"] = (1024,)
            s[f"{p}.rnn.bias_hh_l0{suffix}"] = (1024,)
        s[f"{p}.linear.weight"] = (256, 512)
        s[f"{p}.linear.bias"] = (256,)
    h = "recog_sequence_head"
    s.update(
        {
            f"{h}.attention_cell.i2h.weight": (256, 256),
            f"{h}.attention_cell.h2h.weight": (256, 256),
            f"{h}.attention_cell.h2h.bias": (256,),
            f"{h}.attention_cell.score.weight": (1, 256),
            f"{h}.attention_cell.rnn.weight_ih": (1024, 256 + num_classes),
            f"{h}.attention_cell.rnn.weight_hh": (1024, 256),
            f"{h}.attention_cell.rnn.bias_ih": (1024,),
            f"{h}.attention_cell.rnn.bias_hh": (1024,),
            f"{h}.generator.weight": (num_classes, 256),
            f"{h}.generator.bias": (num_classes,),
        }
    )
    return s


def davar_selector_shapes():
    """Key → shape of DAVAR's ResolutionSelector (out_channels 256, 6 scales), under `policy.`."""
    s = {"policy.conv1.weight": (32, 3, 7, 7), "policy.conv1.bias": (32,), **_bn("policy.bn1", 32)}
    cin = 32
    for i, c in enumerate([32, 64, 128, 256], 1):
        p = f"policy.bs{i}"
        s.update(
            {
                f"{p}.conv1.weight": (c, cin, 3, 3),
                f"{p}.conv1.bias": (c,),
                f"{p}.conv2.weight": (c, c, 3, 3),
                f"{p}.conv2.bias": (c,),
                f"{p}.downsample.weight": (c, cin, 1, 1),
                f"{p}.downsample.bias": (c,),
            }
        )
        for bn in ("bn1", "bn2", "bn3"):
            s.update(_bn(f"{p}.{bn}", c))
        cin = c
    s.update({"policy.fc.weight": (6, 256), "policy.fc.bias": (6,)})
    return s


def davar_dld_shapes():
    spotter = davar_spotter_shapes()
    return {
        **{f"stu.{k}": v for k, v in spotter.items()},
        **{f"tea.{k}": v for k, v in spotter.items()},
        **davar_selector_shapes(),
    }


def coco_shapes(v1_layout=False):
    """mmdetection's Mask R-CNN R-50-FPN COCO checkpoint (80 classes, 3 anchors)."""
    s = {
        k: v
        for k, v in davar_spotter_shapes().items()
        if k.startswith(("backbone.", "neck.", "rpn_head.rpn_conv", "roi_head."))
    }
    s.update(
        {
            "rpn_head.rpn_cls.weight": (3, 256, 1, 1),
            "rpn_head.rpn_cls.bias": (3,),
            "rpn_head.rpn_reg.weight": (12, 256, 1, 1),
            "rpn_head.rpn_reg.bias": (12,),
            "roi_head.bbox_head.fc_cls.weight": (81, 1024),
            "roi_head.bbox_head.fc_cls.bias": (81,),
            "roi_head.bbox_head.fc_reg.weight": (320, 1024),
            "roi_head.bbox_head.fc_reg.bias": (320,),
            "roi_head.mask_head.conv_logits.weight": (80, 256, 1, 1),
            "roi_head.mask_head.conv_logits.bias": (80,),
        }
    )
    if v1_layout:
        s = {k[len("roi_head.") :] if k.startswith("roi_head.") else k: v for k, v in s.items()}
    return s


def random_state_dict(shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in shapes.items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(int(torch.randint(1, 10**6, (1,), generator=g)))
        elif k.endswith("running_var"):
            out[k] = 0.5 + torch.rand(shape, generator=g)
        else:
            out[k] = torch.randn(shape, generator=g) * 0.02
    return out


# ------------------------------------------------------------------------------------- models
def _cfg(config, **overrides):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / config))
    cfg.MODEL.DEVICE = "cpu"
    for k, v in overrides.items():
        node = cfg
        *path, last = k.split(".")
        for p in path:
            node = getattr(node, p)
        setattr(node, last, v)
    return cfg


def _build(config, **overrides):
    from detectron2.modeling import build_model

    import dld_d2.modeling  # noqa: F401

    return build_model(_cfg(config, **overrides)).eval()


@pytest.fixture(scope="module")
def teacher():
    # Few detections: the test only needs the whole inference path to run.
    return _build(
        "configs/teacher.yaml",
        **{"TEST.DETECTIONS_PER_IMAGE": 3, "MODEL.RPN.POST_NMS_TOPK_TEST": 50},
    )


@pytest.fixture(scope="module")
def dld_model():
    return _build(
        "configs/distill.yaml",
        **{"TEST.DETECTIONS_PER_IMAGE": 3, "MODEL.RPN.POST_NMS_TOPK_TEST": 50},
    )


@pytest.fixture(scope="module")
def spotter_source():
    sd = random_state_dict(davar_spotter_shapes(), seed=1)
    # Text above background for every box, and masks over it, so that inference detects words,
    # finds their polygons and reads them.
    sd["roi_head.bbox_head.fc_cls.bias"] = torch.tensor([4.0, -4.0])
    sd["roi_head.mask_head.conv_logits.bias"] = torch.tensor([4.0])
    return sd


def _conv():
    from dld_d2.checkpoint import davar_conversion

    return davar_conversion


def _check_complete(result, source, target):
    # Every target entry filled, every source tensor mapped or dropped (never both), shapes true.
    assert set(result.state_dict) == set(target)
    assert set(result.mapped) | set(result.dropped) == set(source)
    assert not set(result.mapped) & set(result.dropped)
    assert len(set(result.mapped.values())) == len(result.mapped)
    for src, dst in result.mapped.items():
        assert (
            tuple(result.state_dict[dst].shape)
            == tuple(target[dst].shape)
            == tuple(source[src].shape)
        )
        assert torch.equal(result.state_dict[dst], source[src].to(result.state_dict[dst].dtype)), (
            src
        )


# -------------------------------------------------------------------------------------- tests
def test_spotter_converts_completely_and_runs(teacher, spotter_source):
    conv = _conv()
    target = teacher.state_dict()
    result = conv.convert_state_dict(spotter_source, target, "auto", "ref.pth")
    assert result.kind == "spotter"
    _check_complete(result, spotter_source, target)
    assert (len(result.mapped), len(result.dropped), len(result.generated)) == (386, 53, 1)
    assert all(
        k.endswith("num_batches_tracked") and k.startswith("backbone.") for k in result.dropped
    )
    assert set(result.dropped.values()) == {conv.DROP_FROZEN_BN_COUNT}
    m = result.mapped
    assert m["backbone.layer1.0.conv2.weight"] == "backbone.bottom_up.res2.0.conv2.weight"
    assert (
        m["backbone.layer3.0.downsample.1.running_var"]
        == "backbone.bottom_up.res4.0.shortcut.norm.running_var"
    )
    assert m["backbone.bn1.weight"] == "backbone.bottom_up.stem.conv1.norm.weight"
    assert m["neck.lateral_convs.3.conv.weight"] == "backbone.fpn_lateral5.weight"
    assert m["rpn_head.rpn_reg.bias"] == "proposal_generator.rpn_head.anchor_deltas.bias"
    assert m["roi_head.bbox_head.fc_cls.weight"] == "roi_heads.box_predictor.cls_score.weight"
    assert m["roi_head.mask_head.upsample.weight"] == "roi_heads.mask_head.deconv.weight"
    assert (
        m["recog_backbone.ConvNet.17.num_batches_tracked"]
        == "roi_heads.rec_branch.encoder.convnet.17.num_batches_tracked"
    )
    assert (
        m["recog_sequence_module.SequenceModeling.1.rnn.weight_hh_l0_reverse"]
        == "roi_heads.rec_branch.sequence.blocks.1.rnn.weight_hh_l0_reverse"
    )
    assert (
        m["recog_sequence_head.attention_cell.rnn.weight_ih"]
        == "roi_heads.rec_branch.decoder.attention_cell.rnn.weight_ih"
    )

    # The rules read backwards (for messages) name the source of every entry.
    for key in target:
        if not key.endswith("_extra_state"):
            assert conv.map_spotter_key(conv.source_key_for(key)) == key

    # Loads strictly (the vocabulary record included) and runs inference end to end.
    model = teacher
    model.load_state_dict(result.state_dict, strict=True)
    image = torch.randint(0, 256, (3, 64, 96), generator=torch.Generator().manual_seed(0)).float()
    with torch.no_grad():
        out = model([{"image": image, "height": 64, "width": 96}])[0]["instances"]
    assert len(out) == 3
    assert {"pred_boxes", "scores", "pred_masks", "pred_texts", "rec_scores"} <= set(
        out.get_fields()
    )


def test_dld_converts_completely_and_runs(dld_model, spotter_source):
    conv = _conv()
    source = {
        **{f"stu.{k}": v for k, v in spotter_source.items()},
        **{f"tea.{k}": v for k, v in random_state_dict(davar_spotter_shapes(), seed=2).items()},
        **random_state_dict(davar_selector_shapes(), seed=3),
    }
    target = dld_model.state_dict()
    result = conv.convert_state_dict(source, target, "auto", "dld.pth")
    assert result.kind == "dld"
    _check_complete(result, source, target)
    assert (len(result.mapped), len(result.dropped), len(result.generated)) == (826, 145, 2)
    stats = [k for k, r in result.dropped.items() if r == conv.DROP_SELECTOR_STATS]
    assert len(stats) == 39 and all(k.startswith("policy.") for k in stats)
    assert result.mapped["policy.bs4.downsample.weight"] == "selector.bs4.downsample.weight"
    assert (
        result.mapped["tea.recog_sequence_head.generator.bias"]
        == "teacher.roi_heads.rec_branch.decoder.generator.bias"
    )
    assert (
        result.mapped["stu.backbone.layer4.2.conv3.weight"]
        == "student.backbone.bottom_up.res5.2.conv3.weight"
    )

    for key in target:
        if not key.endswith("_extra_state"):
            assert conv.map_dld_key(conv.source_key_for(key)) == key
    # Shifted indices are checked both ways: DAVAR has layer1-4 (res2-5) and FPN levels 0-3 (2-5).
    assert conv.source_key_for("teacher.backbone.bottom_up.res6.0.conv1.weight") is None
    assert conv.source_key_for("student.backbone.fpn_lateral1.weight") is None
    assert conv.map_dld_key("tea.backbone.layer5.0.conv1.weight") is None
    assert conv.source_key_for("selector.bs2.bn3.running_var") == "policy.bs2.bn3.running_var"

    # With MODEL.DLD.SELECTOR_NORM running the selector keeps the reference's running statistics.
    from dld_d2.modeling.dld.selector import ResolutionSelector

    running = {k: v for k, v in target.items() if not k.startswith("selector.")}
    running.update({f"selector.{k}": v for k, v in ResolutionSelector(norm="running").state_dict().items()})
    kept = conv.convert_state_dict(source, running, "dld", "dld.pth")
    _check_complete(kept, source, running)
    assert (len(kept.mapped), len(kept.dropped)) == (865, 106)
    assert torch.equal(kept.state_dict["selector.bs2.bn3.running_var"], source["policy.bs2.bn3.running_var"])

    dld_model.load_state_dict(result.state_dict, strict=True)
    assert torch.equal(
        dld_model.teacher.roi_heads.box_predictor.cls_score.bias,
        source["tea.roi_head.bbox_head.fc_cls.bias"],
    )
    image = torch.randint(0, 256, (3, 128, 160), generator=torch.Generator().manual_seed(0)).float()
    with torch.no_grad():
        out = dld_model([{"image": image, "height": 128, "width": 160}])[0]
    assert out["scale"] in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    assert len(out["instances"]) == 3


def test_mmdet_coco_initialisation(teacher):
    conv = _conv()
    target = teacher.state_dict()
    for v1 in (False, True):
        source = random_state_dict(coco_shapes(v1_layout=v1))
        result = conv.convert_state_dict(source, target, "auto", "coco.pth")
        assert result.kind == "mmdet-coco"
        assert set(result.mapped) | set(result.dropped) == set(source)
        assert set(result.state_dict) | set(result.unfilled) == set(target)
        dropped = {
            k.replace("roi_head.", "")
            for k, r in result.dropped.items()
            if r in (conv.DROP_COCO_CLASSES, conv.DROP_COCO_ANCHORS)
        }
        assert dropped == {
            f"{m}.{p}"
            for m in (
                "rpn_head.rpn_cls",
                "rpn_head.rpn_reg",
                "bbox_head.fc_cls",
                "bbox_head.fc_reg",
                "mask_head.conv_logits",
            )
            for p in ("weight", "bias")
        }
        assert (
            result.mapped[("" if v1 else "roi_head.") + "bbox_head.shared_fcs.0.weight"]
            == "roi_heads.box_head.fc1.weight"
        )
        assert "proposal_generator.rpn_head.conv.weight" in result.state_dict
        left = set(result.unfilled)
        assert {
            "roi_heads.box_predictor.cls_score.weight",
            "roi_heads.mask_head.predictor.bias",
            "proposal_generator.rpn_head.objectness_logits.weight",
            "roi_heads._extra_state",
        } <= left
        assert all(
            k.startswith(
                (
                    "roi_heads.rec_branch.",
                    "roi_heads.box_predictor.",
                    "roi_heads.mask_head.predictor.",
                    "proposal_generator.rpn_head.objectness_logits.",
                    "proposal_generator.rpn_head.anchor_deltas.",
                    "roi_heads._extra_state",
                )
            )
            for k in left
        )
        assert bool(result.renamed_prefixes) == v1
        missing, unexpected = teacher.load_state_dict(result.state_dict, strict=False)
        # (BatchNorm fills a missing step count itself, without reporting it.)
        assert not unexpected and set(missing) == {
            k for k in left if not k.endswith("num_batches_tracked")
        }


def test_errors_name_keys_and_shapes(teacher, spotter_source):
    conv = _conv()
    target = teacher.state_dict()

    missing = dict(spotter_source)
    del missing["recog_sequence_head.generator.bias"]
    with pytest.raises(
        conv.ConversionError,
        match=r"not filled .*roi_heads\.rec_branch\.decoder\.generator\.bias "
        r"\(from recog_sequence_head\.generator\.bias\)",
    ):
        conv.convert_state_dict(missing, target, "spotter", "ref.pth")

    wrong = dict(spotter_source)
    wrong["recog_sequence_head.generator.weight"] = torch.zeros(96, 256)
    with pytest.raises(conv.ConversionError) as e:
        conv.convert_state_dict(wrong, target, "spotter", "ref.pth")
    assert (
        "shape mismatch: recog_sequence_head.generator.weight (96, 256) → "
        "roi_heads.rec_branch.decoder.generator.weight (97, 256)"
    ) in str(e.value)

    unknown = dict(spotter_source, **{"recog_sequence_head.embedding.weight": torch.zeros(3)})
    with pytest.raises(
        conv.ConversionError, match=r"no known layer: recog_sequence_head\.embedding\.weight"
    ):
        conv.convert_state_dict(unknown, target, "spotter", "ref.pth")

    # A target that reads another character set: the generator rows would mean other characters.
    other = dict(target)
    other["roi_heads._extra_state"] = torch.tensor(list(b"0" * 40), dtype=torch.uint8)
    with pytest.raises(
        conv.ConversionError, match=r"roi_heads\._extra_state: the target model's vocabulary"
    ):
        conv.convert_state_dict(spotter_source, other, "spotter", "ref.pth")

    with pytest.raises(conv.ConversionError, match="converts into a DLDSpotter"):
        conv.convert_state_dict(
            {f"stu.{k}": v for k, v in spotter_source.items()}, target, "auto", "x.pth"
        )
    with pytest.raises(conv.ConversionError, match="cannot tell"):
        conv.detect_kind({"encoder.layer.0.weight": torch.zeros(1)}, "x.pth")


def test_reference_config_checks():
    conv = _conv()
    assert conv.reference_config_mismatches(_cfg("configs/teacher.yaml")) == []
    assert conv.reference_config_mismatches(_cfg("configs/distill.yaml")) == []
    bad = conv.reference_config_mismatches(
        _cfg("configs/teacher.yaml", **{"MODEL.RESNETS.STRIDE_IN_1X1": True})
    )
    assert len(bad) == 1 and "STRIDE_IN_1X1" in bad[0]


def test_cli_end_to_end(tmp_path, spotter_source, capsys):
    from script_loader import load_script

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    tool = load_script("tools/convert_davar_checkpoint.py")
    src = tmp_path / "mask_rcnn_res50_multi_scale.pth"
    # As mmcv saves it: state dict, metadata (a numpy scalar as an evaluation hook leaves one).
    import numpy as np

    torch.save(
        {
            "state_dict": spotter_source,
            "meta": {
                "epoch": 100,
                "CLASSES": ("text",),
                "config": "model = dict(...)",
                "hook_msgs": {"best_score": np.float64(0.5)},
            },
        },
        src,
    )
    out = tmp_path / "converted.pth"
    assert tool.main([str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "386 mapped + 53 dropped" in printed and f"wrote {out}" in printed
    saved = torch.load(out, map_location="cpu", weights_only=True)
    assert saved["davar_conversion"]["kind"] == "spotter"
    model = _build("configs/teacher.yaml")
    TextSpotterCheckpointer(model, require="complete").load(str(out))
    assert torch.equal(
        model.roi_heads.rec_branch.decoder.generator.weight,
        spotter_source["recog_sequence_head.generator.weight"],
    )

    # Bad inputs: one line naming the file or the key, exit status 1, no traceback.
    broken = dict(spotter_source)
    broken["roi_head.bbox_head.fc_reg.weight"] = torch.zeros(8, 1024)
    torch.save({"state_dict": broken, "meta": {}}, src)
    assert tool.main([str(src), str(tmp_path / "x.pth")]) == 1
    err = capsys.readouterr().err
    assert "roi_head.bbox_head.fc_reg.weight (8, 1024)" in err and "(4, 1024)" in err
    assert not (tmp_path / "x.pth").exists()

    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    proc = subprocess.run(
        [sys.executable, "tools/convert_davar_checkpoint.py", str(text), str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert f"{text} is not a readable PyTorch checkpoint" in proc.stderr
    assert "Traceback" not in proc.stderr

    assert tool.main([str(tmp_path / "absent.pth"), str(out)]) == 1
    assert "absent.pth: no such file" in capsys.readouterr().err


def test_cli_kind_config_and_mismatch_flags(tmp_path, spotter_source, capsys):
    from script_loader import load_script

    tool = load_script("tools/convert_davar_checkpoint.py")
    src = tmp_path / "teacher.pth"
    torch.save({"state_dict": spotter_source, "meta": {}}, src)
    out = tmp_path / "converted.pth"
    # A config that differs from the reference where a state dict cannot show it: refused,
    # naming the key, unless asked to convert anyway.
    opts = ["MODEL.RESNETS.STRIDE_IN_1X1", "True"]
    assert tool.main([str(src), str(out), "--kind", "spotter", "--config-file", "configs/teacher.yaml"]
                     + opts) == 1
    err = capsys.readouterr().err
    assert "MODEL.RESNETS.STRIDE_IN_1X1" in err and "--ignore-config-mismatch" in err
    assert not out.exists()
    assert tool.main([str(src), str(out), "--ignore-config-mismatch"] + opts) == 0
    assert out.is_file()
    # The command it suggests builds the same model: the overrides come with it.
    assert ("--eval-only MODEL.RESNETS.STRIDE_IN_1X1 True MODEL.WEIGHTS"
            in capsys.readouterr().out)
    # A COCO detector starts the pretraining, with the overrides it was converted for.
    coco = tmp_path / "coco.pth"
    torch.save({"state_dict": random_state_dict(coco_shapes()), "meta": {}}, coco)
    assert tool.main([str(coco), str(tmp_path / "c.pth"), "MODEL.RPN.POST_NMS_TOPK_TEST", "500"]) == 0
    assert ("use: python train_net.py --config-file configs/pretrain.yaml "
            f"MODEL.RPN.POST_NMS_TOPK_TEST 500 MODEL.WEIGHTS {tmp_path / 'c.pth'}" in capsys.readouterr().out)
    assert tool.main([str(coco), str(tmp_path / "c.pth"), "--config-file", "configs/teacher.yaml"]) == 0
    assert f"--config-file configs/teacher.yaml MODEL.WEIGHTS {tmp_path / 'c.pth'}" in capsys.readouterr().out
    # A spotter file given as a DLD model: an error naming what is missing, no traceback.
    assert tool.main([str(src), str(tmp_path / "dld.pth"), "--kind", "dld"]) == 1
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "dld.pth").exists()
