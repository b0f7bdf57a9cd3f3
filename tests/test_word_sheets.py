"""Word sheets: every legible word cut out once, pixels and polygons carried exactly, cached."""
import json
import os

import cv2
import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from dld_d2.data import word_sheets
from dld_d2.data.word_sheets import SheetSpec, cut_words, load_word_sheets, pack_sheets


def _scene(tmp_path, name="scene.png", size=(200, 300)):
    """A noise image (every pixel distinct enough to check copies) and four words: two legible
    quads, a curved-ish hexagon, a don't-care and an unlabelled one."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
    path = tmp_path / name
    cv2.imwrite(str(path), image)
    annos = [
        {"segmentation": [[10, 20, 90, 20, 90, 50, 10, 50]], "iscrowd": 0, "text": "alpha"},
        {"segmentation": [[120, 100, 200, 90, 290, 100, 290, 130, 200, 120, 120, 130]],
         "iscrowd": 0, "text": "Curve"},
        {"segmentation": [[30, 150, 60, 150, 60, 160, 30, 160]], "iscrowd": 1, "text": "###"},
        {"segmentation": [[100, 10, 150, 10, 150, 40, 100, 40]], "iscrowd": 0, "text": "z9"},
        {"segmentation": [[200, 10, 250, 10, 250, 40, 200, 40]], "iscrowd": 0, "text": ""},
    ]
    return image, {"file_name": str(path), "height": size[0], "width": size[1],
                   "annotations": annos}


def test_cut_words_keeps_the_legible_words_their_pixels_and_polygons(tmp_path):
    image, record = _scene(tmp_path)
    spec = SheetSpec(margin=3, max_height=0)
    crops = cut_words(record, spec)
    assert [c.text for c in crops] == ["alpha", "Curve", "z9"]
    first = crops[0]
    # box 10..90 × 20..50 with 3 px of margin
    assert first.image.shape == (36, 86, 3)
    np.testing.assert_array_equal(first.image, image[17:53, 7:93])
    np.testing.assert_allclose(first.polygons[0][0], [3, 3])
    assert first.source == f"{record['file_name']}#0"


def test_tall_crops_are_scaled_to_the_max_height_with_their_polygon(tmp_path):
    _, record = _scene(tmp_path)
    crops = cut_words(record, SheetSpec(margin=0, max_height=20))
    alpha = crops[0]  # 80 × 30 box → scale 2/3
    assert alpha.image.shape[:2] == (20, 53)
    np.testing.assert_allclose(alpha.polygons[0].max(axis=0), [80 * 2 / 3, 20])


def test_packing_places_every_word_once_with_its_pixels_under_its_polygon(tmp_path):
    _, record = _scene(tmp_path)
    spec = SheetSpec(width=180, height=80, margin=2, gap=2, max_height=0)
    crops = cut_words(record, spec)
    sheets = pack_sheets(crops, spec)
    placed = [a for _, annos in sheets for a in annos]
    assert sorted(a["text"] for a in placed) == ["Curve", "alpha", "z9"]
    # 180 px wide: the 174-px curved word fills a sheet; the others share the next one.
    assert [len(a) for _, a in sheets] == [1, 2]
    for sheet, annos in sheets:
        assert sheet.shape == (80, 180, 3)
        for anno in annos:
            crop = next(c for c in crops if c.text == anno["text"])
            poly = np.asarray(anno["segmentation"][0]).reshape(-1, 2)
            offset = poly[0] - crop.polygons[0][0]
            x, y = np.round(offset).astype(int)
            h, w = crop.image.shape[:2]
            np.testing.assert_array_equal(sheet[y:y + h, x:x + w], crop.image)
            x0, y0, x1, y1 = anno["bbox"]
            assert 0 <= x0 < x1 <= 180 and 0 <= y0 < y1 <= 80
            # the polygon's centre pixel on the sheet is the crop's pixel there
            cx, cy = poly.mean(axis=0)
            assert MplPath(poly).contains_point((cx, cy))
            assert anno["iscrowd"] == 0 and anno["category_id"] == 0


def test_crops_wider_than_a_sheet_are_shrunk_to_fit(tmp_path):
    _, record = _scene(tmp_path)
    spec = SheetSpec(width=64, height=48, margin=0, gap=2, max_height=0)
    crops = cut_words(record, spec)
    assert all(c.image.shape[1] <= 60 and c.image.shape[0] <= 44 for c in crops)
    assert sum(len(a) for _, a in pack_sheets(crops, spec)) == 3


def test_load_word_sheets_builds_once_and_reads_the_cache(tmp_path, monkeypatch):
    _, record = _scene(tmp_path)
    root = tmp_path / "cache"
    spec = SheetSpec(width=180, height=80)
    records = load_word_sheets("toy", [record], str(root), spec)
    assert sum(len(r["annotations"]) for r in records) == 3
    assert all(os.path.isfile(r["file_name"]) for r in records)
    sheet = cv2.imread(records[0]["file_name"])
    assert sheet.shape == (80, 180, 3)
    folder = os.path.dirname(os.path.dirname(records[0]["file_name"]))
    with open(os.path.join(folder, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    assert index["num_words"] == 3 and index["source"] == "toy"

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt a cached folder")

    monkeypatch.setattr(word_sheets, "_build", no_build)
    again = load_word_sheets("toy", [record], str(root), spec)
    assert again == records
    # Another spec (or other records) is another folder.
    with pytest.raises(AssertionError, match="rebuilt"):
        load_word_sheets("toy", [record], str(root), SheetSpec(width=200, height=80))


def test_a_dataset_without_legible_words_is_an_error_naming_it(tmp_path):
    _, record = _scene(tmp_path)
    record["annotations"] = [a for a in record["annotations"] if a["iscrowd"]]
    with pytest.raises(ValueError, match="'toy' has no legible words"):
        load_word_sheets("toy", [record], str(tmp_path / "cache"))


def test_an_unreadable_source_image_is_named(tmp_path):
    _, record = _scene(tmp_path)
    record["file_name"] = str(tmp_path / "missing.png")
    with pytest.raises(OSError, match="missing.png"):
        cut_words(record, SheetSpec())


def test_a_malformed_polygon_names_the_file_and_entry(tmp_path):
    _, record = _scene(tmp_path)
    record["annotations"][1]["segmentation"] = [[1, 2, 3]]
    with pytest.raises(ValueError, match=r"scene.png, annotation 1: 'segmentation'"):
        cut_words(record, SheetSpec())


@pytest.mark.detectron2
def test_builtin_word_sheets_hold_the_legible_words_of_their_scenes(tmp_path, monkeypatch):
    monkeypatch.setenv("DLD_D2_CACHE", str(tmp_path))
    from detectron2.data import DatasetCatalog, MetadataCatalog

    import dld_d2  # noqa: F401  (registers the built-in datasets)

    for words, scenes in (("dld_synthetic_words_train", "dld_synthetic_train"),
                          ("dld_synthetic_3k_words_train", "dld_synthetic_3k_train"),
                          ("dld_synthetic_tiny_words_train", "dld_synthetic_tiny_train")):
        assert MetadataCatalog.get(words).word_sheets_of == scenes
        assert scenes in DatasetCatalog.list()
    scenes = DatasetCatalog.get("dld_synthetic_tiny_train")
    sheets = DatasetCatalog.get("dld_synthetic_tiny_words_train")
    legible = sorted(a["text"] for r in scenes for a in r["annotations"]
                     if not a["iscrowd"] and a["text"])
    assert len(legible) > 50
    assert sorted(a["text"] for r in sheets for a in r["annotations"]) == legible
