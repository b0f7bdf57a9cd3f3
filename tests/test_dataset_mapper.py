"""TextSpottingDatasetMapper and the text-safe augmentations: invariants on rendered text scenes.

The scenes are rendered here (blue words on a light grey background, each word warped into a
known quadrilateral), so the ink is known exactly and told apart from the rotation's fill. After
every augmentation the transformed care polygons must still cover the ink, boxes must equal the
polygons' extents, and a crop must keep an instance whole or drop it.
"""
import logging
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from script_loader import load_script

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.detectron2  # tests/conftest.py skips these, with the reason, without d2

BG = 230
INK_RGB = (20, 20, 230)  # "blueness" B - (R + G) / 2: 210 for ink, 0 for the grey background
LETTERS = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


# -------------------------------------------------------------------------------------------------
# Scene rendering and checks
# -------------------------------------------------------------------------------------------------
def _render_scene(path, seed, h=160, w=240, n_words=6, max_angle=20.0):
    """Write a PNG with `n_words` blue words at known quadrilaterals; return its dataset dict."""
    rng = np.random.RandomState(seed)
    font = ImageFont.load_default(size=14)
    alpha = np.zeros((h, w), np.float32)
    rows, cols = 3, 3
    cell_h, cell_w = h / rows, w / cols
    annos = []
    for k, cell in enumerate(rng.choice(rows * cols, size=n_words, replace=False)):
        word = "".join(rng.choice(list(LETTERS), size=rng.randint(2, 5))) + str(k)
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        x0, y0, x1, y1 = probe.textbbox((0, 0), word, font=font)
        pw, ph = x1 - x0 + 6, y1 - y0 + 6  # 3 px of margin around the ink
        patch = Image.new("L", (pw, ph), 0)
        ImageDraw.Draw(patch).text((3 - x0, 3 - y0), word, fill=255, font=font)
        angle = rng.uniform(-max_angle, max_angle)
        cx = (cell % cols + 0.5) * cell_w + rng.uniform(-4, 4)
        cy = (cell // cols + 0.5) * cell_h + rng.uniform(-3, 3)
        # Continuous coordinates (pixel i spans [i, i+1)); warpAffine wants pixel centres.
        m = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0)
        m[:, 2] += (cx - pw / 2, cy - ph / 2)
        m_img = m.copy()
        m_img[:, 2] += (m[:, :2] - np.eye(2)) @ np.array([0.5, 0.5])
        a = cv2.warpAffine(np.asarray(patch, np.float32) / 255, m_img, (w, h))
        alpha = np.maximum(alpha, a)
        corners = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64)
        poly = corners @ m[:, :2].T + m[:, 2]
        annos.append({
            "bbox": [*poly.min(0), *poly.max(0)], "bbox_mode": 0,
            "segmentation": [poly.reshape(-1).tolist()], "category_id": 0, "iscrowd": 0,
            "text": word,
        })
    rgb = BG * (1 - alpha[..., None]) + np.array(INK_RGB, np.float32) * alpha[..., None]
    Image.fromarray(np.round(rgb).astype(np.uint8)).save(path)
    return {"file_name": str(path), "image_id": seed, "height": h, "width": w, "annotations": annos}


def _rasterize(polygons, h, w):
    """Union of the flat polygons as a (h, w) bool mask; boundary pixels count as inside."""
    mask = np.zeros((h, w), np.uint8)
    for poly in polygons:
        pts = np.round((np.asarray(poly).reshape(-1, 2) - 0.5) * 16).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
        cv2.polylines(mask, [pts], True, 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def _check_output(out, min_coverage=0.99):
    """Invariants of a training output; returns the decoded texts of its instances."""
    image = out["image"].numpy()
    inst = out["instances"]
    h, w = image.shape[1:]
    assert inst.image_size == (h, w)
    # Boxes are exactly the extents of the polygons, which lie inside the image.
    np.testing.assert_array_equal(inst.gt_boxes.tensor.numpy(), _extents(inst.gt_masks.polygons))
    polys = [p for parts in inst.gt_masks.polygons for p in parts]
    for p in polys:
        xy = p.reshape(-1, 2)
        assert (xy >= 0).all() and (xy[:, 0] <= w).all() and (xy[:, 1] <= h).all()
    # The ink lies inside the union of the transformed care polygons. Ink = blueness > 20 (BGR
    # image): ≥ 10 % ink in a pixel, even after saturation ×0.5; the grey background is 0 and the
    # rotation fill (pixel mean, never jittered) is -16.
    blueness = image[0].astype(np.float32) - (image[1].astype(np.float32) + image[2]) / 2
    ink = blueness > 20
    if ink.sum():
        covered = (ink & _rasterize(polys, h, w)).sum() / ink.sum()
        assert covered >= min_coverage, f"only {covered:.4f} of the ink is inside the polygons"
    assert len(polys) == 0 or ink.sum() > 0
    return inst


def _extents(polygons):
    """(N, 4) float32 XYXY extents of PolygonMasks-style polygons (numpy: torch's per-polygon
    min/max in `PolygonMasks.get_bounding_boxes` is slow on a busy machine)."""
    out = np.zeros((len(polygons), 4), np.float32)
    for i, parts in enumerate(polygons):
        xy = np.concatenate([p.reshape(-1, 2) for p in parts])
        out[i] = np.concatenate([xy.min(0), xy.max(0)]).astype(np.float32)
    return out


def _mapper(cfg_or_augs, is_train=True):
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.data.vocabulary import Vocabulary

    if isinstance(cfg_or_augs, list):
        return TextSpottingDatasetMapper(
            is_train=is_train, augmentations=cfg_or_augs, image_format="BGR",
            vocabulary=Vocabulary.builtin(), max_text_len=32,
        )
    return TextSpottingDatasetMapper(cfg_or_augs, is_train)


def _small_cfg(**enabled):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.INPUT.MIN_SIZE_TRAIN = (96, 128, 192, 256)
    cfg.INPUT.MAX_SIZE_TRAIN = 400
    cfg.INPUT.MIN_SIZE_TEST = 128
    cfg.INPUT.MAX_SIZE_TEST = 400
    for key in ("CROP", "ROTATE", "COLOR_JITTER"):
        cfg.INPUT.TEXT[key].ENABLED = enabled.get(key.lower(), True)
    return cfg


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    return [_render_scene(root / f"scene_{s}.png", s) for s in range(6)]


# -------------------------------------------------------------------------------------------------
# Mapper invariants under each augmentation and all of them together
# -------------------------------------------------------------------------------------------------
def test_rendered_scene_is_covered_without_augmentation(scenes):
    from dld_d2.data.vocabulary import Vocabulary

    mapper = _mapper([])
    for d in scenes:
        inst = _check_output(mapper(d), min_coverage=0.999)
        assert len(inst) == len(d["annotations"])
        texts = [Vocabulary.builtin().decode(r) for r in inst.gt_texts]
        assert texts == [a["text"] for a in d["annotations"]]


@pytest.mark.parametrize(
    "enabled",
    [
        {"crop": True, "rotate": False, "color_jitter": False},
        {"crop": False, "rotate": True, "color_jitter": False},
        {"crop": False, "rotate": False, "color_jitter": False},  # resize only
        {"crop": True, "rotate": True, "color_jitter": True},
    ],
    ids=["crop", "rotate", "resize", "all"],
)
def test_polygons_cover_the_ink_after_augmentation(scenes, enabled):
    mapper = _mapper(_small_cfg(**enabled))
    kept = 0
    for seed in range(20):
        np.random.seed(seed)
        for d in scenes[:4]:
            inst = _check_output(mapper(d))
            assert 1 <= len(inst) <= len(d["annotations"])  # the crop keeps ≥ 1 instance
            kept += len(inst)
    if not enabled["crop"]:
        assert kept == 20 * sum(len(d["annotations"]) for d in scenes[:4])
        assert mapper.stats["degenerate_polygon_dropped"] == 0


def test_crop_keeps_instances_whole_and_drops_the_others(scenes):
    from dld_d2.data.transforms import TextSafeRandomCrop
    from dld_d2.data.vocabulary import Vocabulary

    vocab = Vocabulary.builtin()
    mapper = _mapper([TextSafeRandomCrop(min_size_ratio=0.1, max_tries=50)])
    n_cropped = 0
    for seed in range(60):
        np.random.seed(seed)
        d = scenes[seed % len(scenes)]
        inst = _check_output(mapper(d))
        h, w = inst.image_size
        by_text = {
            a["text"]: np.array(a["segmentation"][0]).reshape(-1, 2) for a in d["annotations"]
        }
        texts = [vocab.decode(r) for r in inst.gt_texts]
        # Every kept polygon is its original, shifted by the same integer crop offset.
        offsets = {
            tuple(np.round(by_text[t][0] - parts[0].reshape(-1, 2)[0], 6))
            for t, parts in zip(texts, inst.gt_masks.polygons)
        }
        assert len(offsets) == 1
        ox, oy = offsets.pop()
        assert float(ox).is_integer() and float(oy).is_integer()
        for t, parts in zip(texts, inst.gt_masks.polygons):
            np.testing.assert_allclose(parts[0].reshape(-1, 2) + (ox, oy), by_text[t], atol=1e-9)
        # The kept instances are exactly those fully inside the crop window.
        inside = {
            t for t, p in by_text.items()
            if p[:, 0].min() >= ox and p[:, 1].min() >= oy
            and p[:, 0].max() <= ox + w and p[:, 1].max() <= oy + h
        }
        assert set(texts) == inside
        n_cropped += (h, w) != (d["height"], d["width"])
    assert n_cropped >= 20
    assert mapper.stats["cropped_out_dropped"] > 0


def test_crop_edges_never_cut_a_box():
    from detectron2.data import transforms as T
    from dld_d2.data.transforms import TextCropTransform, TextSafeRandomCrop

    rng = np.random.RandomState(0)
    image = np.zeros((200, 300, 3), np.uint8)
    aug = TextSafeRandomCrop(min_size_ratio=0.1, max_tries=50)
    for seed in range(50):
        xy = rng.uniform(0, 260, size=(8, 2)) * (1, 0.6)
        boxes = np.concatenate([xy, xy + rng.uniform(5, 40, size=(8, 2))], 1)
        np.random.seed(seed)
        tfm = aug(T.AugInput(image, boxes=boxes.copy()))
        if isinstance(tfm, T.NoOpTransform):
            continue
        assert isinstance(tfm, TextCropTransform)
        assert tfm.w >= 0.1 * 300 and tfm.h >= 0.1 * 200
        inside = tfm.inside(boxes)
        assert inside.any()
        x0, y0, x1, y1 = tfm.x0, tfm.y0, tfm.x0 + tfm.w, tfm.y0 + tfm.h
        disjoint = (
            (boxes[:, 2] <= x0) | (boxes[:, 0] >= x1) | (boxes[:, 3] <= y0) | (boxes[:, 1] >= y1)
        )
        assert (inside | disjoint).all()
    # No boxes, or a box over the whole image: the full image is kept.
    assert isinstance(aug(T.AugInput(image, boxes=np.zeros((0, 4)))), T.NoOpTransform)
    for seed in range(5):
        np.random.seed(seed)
        tfm = aug(T.AugInput(image, boxes=np.array([[0.0, 0.0, 300.0, 200.0]])))
        assert isinstance(tfm, T.NoOpTransform)


def test_rotation_expands_the_canvas_and_rotates_exactly():
    from dld_d2.data.transforms import RandomTextRotation, TextRotationTransform

    h, w = 60, 100
    fill = (103.53, 116.28, 123.675)
    image = np.full((h, w, 3), 255, np.uint8)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h], [37.5, 12.25]], np.float64)
    for angle in np.linspace(-15, 15, 7):
        tfm = TextRotationTransform(h, w, angle, fill=fill)
        rad = np.deg2rad(abs(angle))
        assert tfm.bound_w >= w * np.cos(rad) + h * np.sin(rad) - 1e-6
        assert tfm.bound_h >= w * np.sin(rad) + h * np.cos(rad) - 1e-6
        assert tfm.bound_w <= w * np.cos(rad) + h * np.sin(rad) + 1
        dst = tfm.apply_coords(src)
        # Every image corner lands on the canvas (no pixel lost) and distances are preserved.
        assert (dst >= -1e-9).all() and (dst[:, 0] <= tfm.bound_w + 1e-9).all()
        assert (dst[:, 1] <= tfm.bound_h + 1e-9).all()
        d_src = np.linalg.norm(src[:, None] - src[None], axis=-1)
        np.testing.assert_allclose(np.linalg.norm(dst[:, None] - dst[None], axis=-1), d_src)
        # The rotation is counter-clockwise on screen for a positive angle (cv2 convention).
        v = dst[1] - dst[0]
        np.testing.assert_allclose(np.degrees(np.arctan2(-v[1], v[0])), angle, atol=1e-9)
        out = tfm.apply_image(image)
        assert out.shape == (tfm.bound_h, tfm.bound_w, 3)
        white = (out == 255).all(-1).sum()
        # All the image is there: interior pixels stay white, only the 1-px border blends.
        assert white >= h * w - 2 * (h + w) and white <= h * w
        if angle != 0:
            np.testing.assert_array_equal(out[0, 0], np.round(fill).astype(np.uint8))
        # Image and coordinates agree to a small fraction of a pixel: the centroid of a blob
        # drawn at p (continuous coordinates, pixel i spans [i, i+1)) lands at apply_coords(p).
        p = np.array([37.3, 21.7])
        yy, xx = np.mgrid[0:h, 0:w] + 0.5
        blob = np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * 2.0**2)).astype(np.float32)
        rot = TextRotationTransform(h, w, angle, fill=(0.0,)).apply_image(blob)
        ry, rx = np.mgrid[0 : rot.shape[0], 0 : rot.shape[1]] + 0.5
        centroid = np.array([(rx * rot).sum(), (ry * rot).sum()]) / rot.sum()
        np.testing.assert_allclose(centroid, tfm.apply_coords(p[None])[0], atol=0.02)
    # The augmentation draws within ±max_angle.
    aug = RandomTextRotation(max_angle=15.0, fill=fill)
    for seed in range(20):
        np.random.seed(seed)
        assert abs(aug.get_transform(image).angle) <= 15.0


def test_color_jitter_matches_torchvision():
    import torchvision.transforms.functional as F

    from dld_d2.data.transforms import ColorJitterTransform, RandomColorJitter

    rng = np.random.RandomState(0)
    # ≤ 220 so that brightness never clips: torchvision clips between the two steps, we don't.
    rgb = rng.randint(0, 221, size=(20, 30, 3)).astype(np.uint8)
    for b, s in [(0.875, 0.5), (1.125, 1.5), (1.0, 1.0), (0.9, 1.3)]:
        ref = np.asarray(F.adjust_saturation(F.adjust_brightness(Image.fromarray(rgb), b), s))
        ours_rgb = ColorJitterTransform(b, s, [0.299, 0.587, 0.114]).apply_image(rgb)
        np.testing.assert_allclose(ours_rgb.astype(int), ref.astype(int), atol=3)
        # BGR input gives the same colours (channel order handled by the augmentation).
        bgr_aug = RandomColorJitter((b, b), (s, s), image_format="BGR")
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        ours_bgr = bgr_aug.get_transform(bgr).apply_image(bgr)
        np.testing.assert_array_equal(ours_bgr[..., ::-1], ours_rgb)
    with pytest.raises(ValueError, match="INPUT.FORMAT"):
        RandomColorJitter(image_format="YUV-BT.601")


# -------------------------------------------------------------------------------------------------
# Test mode, empty images, don't-care, out-of-vocabulary and degenerate annotations
# -------------------------------------------------------------------------------------------------
def test_test_mode_keeps_the_dict_and_drops_annotations(scenes):
    d = dict(scenes[0], extra="kept")
    out = _mapper(_small_cfg(), is_train=False)(d)
    assert "annotations" not in out and "instances" not in out
    assert {k: out[k] for k in ("file_name", "image_id", "height", "width", "extra")} == {
        k: d[k] for k in ("file_name", "image_id", "height", "width", "extra")
    }
    assert out["image"].dtype.is_floating_point is False
    assert tuple(out["image"].shape) == (3, 128, 192)  # 160×240 → short side 128
    assert "annotations" in d  # the registered dict is left untouched


def _assert_empty(inst, max_len=32):
    import torch

    assert len(inst) == 0
    assert inst.gt_boxes.tensor.shape == (0, 4) and inst.gt_boxes.tensor.dtype == torch.float32
    assert inst.gt_classes.shape == (0,) and inst.gt_classes.dtype == torch.int64
    assert len(inst.gt_masks) == 0
    assert inst.gt_texts.shape == (0, max_len + 2) and inst.gt_texts.dtype == torch.int64


def test_image_without_text(tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((90, 120, 3), BG, np.uint8)).save(path)
    base = {"file_name": str(path), "image_id": "blank", "height": 90, "width": 120}
    crowd = {
        "bbox": [10, 10, 50, 30], "bbox_mode": 0, "category_id": 0, "iscrowd": 1, "text": "###",
        "segmentation": [[10, 10, 50, 10, 50, 30, 10, 30]],
    }
    mapper = _mapper(_small_cfg())
    for seed in range(3):
        np.random.seed(seed)
        for d in (dict(base), dict(base, annotations=[]), dict(base, annotations=[crowd])):
            out = mapper(d)
            _assert_empty(out["instances"])
            assert out["instances"].image_size == tuple(out["image"].shape[1:])
    assert mapper.stats["dont_care_dropped"] == 3


def test_dont_care_instances_are_not_training_targets(scenes):
    d = dict(scenes[1])
    d["annotations"] = [dict(a) for a in d["annotations"]]
    d["annotations"][0]["iscrowd"] = 1
    inst = _mapper([])(d)["instances"]
    assert len(inst) == len(d["annotations"]) - 1


def test_out_of_vocabulary_text_gives_a_zero_row_and_is_logged(scenes, caplog):
    d = dict(scenes[2])
    d["annotations"] = [dict(a) for a in d["annotations"]]
    d["annotations"][1]["text"] = "wörld"
    mapper = _mapper([])
    with caplog.at_level(logging.WARNING, logger="dld_d2.data.dataset_mapper"):
        for _ in range(3):
            inst = mapper(d)["instances"]
    assert len(inst) == len(d["annotations"])  # still a detection target
    rows_nonzero = inst.gt_texts.any(dim=1).tolist()
    assert rows_nonzero == [i != 1 for i in range(len(d["annotations"]))]
    assert mapper.stats["no_rec_target_out_of_vocabulary"] == 3
    logged = [r for r in caplog.records if "out_of_vocabulary" in r.getMessage()]
    assert len(logged) == 1 and "'ö'" in logged[0].getMessage()  # once per log_period


def test_degenerate_polygons_are_dropped_and_counted(scenes):
    d = dict(scenes[3])
    good = d["annotations"][0]
    d["annotations"] = [
        good,
        dict(good, segmentation=[[10, 10, 40, 10]], text="two"),  # 2 points
        dict(good, segmentation=[[10, 10, 40, 10, 70, 10]], text="line"),  # zero area
        dict(good, segmentation=[[300, 300, 350, 300, 350, 330]], text="outside"),  # off-image
    ]
    mapper = _mapper([])
    inst = mapper(d)["instances"]
    assert len(inst) == 1
    assert inst.gt_boxes.tensor.equal(inst.gt_masks.get_bounding_boxes().tensor)  # d2's own view
    assert mapper.stats["invalid_polygon_dropped"] == 1
    assert mapper.stats["degenerate_polygon_dropped"] == 2
    with pytest.raises(ValueError, match="RLE"):
        mapper(dict(d, annotations=[dict(good, segmentation={"size": [1, 1], "counts": "0"})]))


# -------------------------------------------------------------------------------------------------
# Construction
# -------------------------------------------------------------------------------------------------
def test_configurable_construction(scenes):
    from detectron2.data import transforms as T

    from dld_d2.config import get_cfg
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.data.transforms import (
        RandomColorJitter, RandomTextRotation, TextSafeRandomCrop, build_text_augmentation,
    )
    from dld_d2.data.vocabulary import Vocabulary

    cfg = get_cfg()
    augs = build_text_augmentation(cfg, is_train=True)
    assert [type(a) for a in augs] == [
        TextSafeRandomCrop, RandomColorJitter, RandomTextRotation, T.ResizeShortestEdge,
    ]
    assert augs[2].fill == tuple(cfg.MODEL.PIXEL_MEAN)
    assert [type(a) for a in build_text_augmentation(cfg, is_train=False)] == [T.ResizeShortestEdge]
    cfg.INPUT.TEXT.CROP.ENABLED = cfg.INPUT.TEXT.ROTATE.ENABLED = False
    cfg.INPUT.TEXT.COLOR_JITTER.ENABLED = False
    assert [type(a) for a in build_text_augmentation(cfg, is_train=True)] == [T.ResizeShortestEdge]

    from_cfg = TextSpottingDatasetMapper(get_cfg(), is_train=True)
    assert from_cfg.is_train and from_cfg.image_format == "BGR" and from_cfg.max_text_len == 32
    assert from_cfg.vocabulary == Vocabulary.builtin()
    overridden = TextSpottingDatasetMapper(get_cfg(), False, max_text_len=8)
    assert not overridden.is_train and overridden.max_text_len == 8
    explicit = TextSpottingDatasetMapper(
        is_train=True, augmentations=[T.ResizeShortestEdge(64, 200)], image_format="RGB",
        vocabulary=Vocabulary.builtin(), max_text_len=16,
    )
    out = explicit(scenes[0])
    assert tuple(out["image"].shape) == (3, 64, 96)
    assert out["instances"].gt_texts.shape[1] == 18


# -------------------------------------------------------------------------------------------------
# tools/visualize_data.py
# -------------------------------------------------------------------------------------------------
def test_visualize_data_tool(scenes, tmp_path):
    from pathlib import Path

    from detectron2.data import DatasetCatalog, MetadataCatalog

    module = load_script("tools/visualize_data.py")

    name = "dld_test_visualize_scenes"
    dicts = [dict(scenes[0]), dict(scenes[1], annotations=[])]
    dicts[0]["annotations"] = [dict(a) for a in scenes[0]["annotations"]]
    dicts[0]["annotations"][0]["iscrowd"] = 1
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(thing_classes=["text"])
    try:
        for source in ("annotation", "dataloader"):
            written = module.main([
                "--source", source, "--dataset", name, "--num", "2",
                "--output-dir", str(tmp_path / source), "INPUT.MIN_SIZE_TRAIN", "(128,)",
            ])
            names = [Path(p).name for p in written]
            assert names == [f"scene_0_{source}.jpg", f"scene_1_{source}.jpg"]
            assert all(Image.open(p).size[0] > 0 for p in written)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_visualize_data_names_an_unregistered_dataset(tmp_path):
    proc = subprocess.run(
        [sys.executable, "tools/visualize_data.py", "--source", "annotation",
         "--dataset", "dld_synthetic_tset", "--output-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    # A misspelt name gets the registered names close to it.
    assert proc.stderr.strip().splitlines()[-1] == (
        "dataset 'dld_synthetic_tset' is not registered; did you mean 'dld_synthetic_test' or "
        "'dld_synthetic_train' or 'dld_synthetic_val'?")


def test_any_crop_drops_the_instances_it_cuts(scenes):
    """A plain Detectron2 crop (not text-safe) through a word: the word is dropped, not clipped."""
    from detectron2.data import transforms as T

    from dld_d2.data.vocabulary import Vocabulary

    d = scenes[4]
    first = np.array(d["annotations"][0]["segmentation"][0]).reshape(-1, 2)
    cut_x = int(first[:, 0].mean())  # a vertical edge through the middle of the first word
    crop = T.CropTransform(cut_x, 0, d["width"] - cut_x, d["height"])
    mapper = _mapper([crop])
    inst = _check_output(mapper(d), min_coverage=0.0)  # the cut word's ink remains, unlabelled
    texts = {Vocabulary.builtin().decode(r) for r in inst.gt_texts}
    expected = {
        a["text"] for a in d["annotations"]
        if np.array(a["segmentation"][0]).reshape(-1, 2)[:, 0].min() >= cut_x
    }
    assert d["annotations"][0]["text"] not in texts and texts == expected
    assert mapper.stats["cropped_out_dropped"] == len(d["annotations"]) - len(expected)
