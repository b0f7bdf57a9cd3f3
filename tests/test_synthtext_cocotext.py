"""SynthText (gt.mat -> tools/convert_synthtext.py -> .npz) and COCO-Text v2: small files in the
real formats, written here, read through the format layer, the tools and the registered names."""
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from script_loader import load_script

from dld_d2.data.formats import AnnotationError, detect_format, load_annotations

REPO = Path(__file__).resolve().parents[1]


def blank(path, width, height):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (128, 128, 128)).save(path)


def anns(dicts):
    return [a for d in dicts for a in d["annotations"]]


# -- SynthText ------------------------------------------------------------------------------------
# (image path, wordBB as [x row, y row] of 4 corners per word, txt strings, image size or None)
SYNTH_IMAGES = [
    # Three words over two padded, multi-line strings, as SynthText's txt cells are.
    ("8/ballet_106_0.jpg",
     [[[10, 40, 40, 10], [50, 90, 90, 50], [5, 20, 20, 5]],
      [[5, 5, 20, 20], [5, 5, 25, 25], [30, 30, 40, 40]]],
     ["Lines:\nI", "lost      "], (100, 60)),
    # One word: MATLAB stores its wordBB as 2x4, without the third axis.
    ("8/ballet_106_1.jpg", [[1.5, 30, 30, 1.5], [2, 2, 12.25, 12.25]], ["Kevin"], (80, 40)),
    # 2 boxes, 3 words: skipped, counted.
    ("9/shop_7_0.jpg",
     [[[0, 9, 9, 0], [0, 9, 9, 0]], [[0, 0, 9, 9], [0, 0, 9, 9]]], ["a b c"], None),
    # "###" is don't-care; the second word runs past the 50x50 image: clipped.
    ("9/shop_7_1.jpg",
     [[[1, 9, 9, 1], [30, 70, 70, 30]], [[1, 1, 9, 9], [10, 10, 20, 20]]], ["###", "far"],
     (50, 50)),
]


def cell_array(values):
    cells = np.empty((1, len(values)), dtype=object)
    for i, v in enumerate(values):
        cells[0, i] = v
    return cells


def write_gt_mat(path, images=SYNTH_IMAGES, drop=()):
    """A gt.mat as SynthText's: 1xN cells imnames, wordBB (2x4xW; 2x4 for one word), txt and
    charBB; the variables in `drop` left out."""
    from scipy.io import savemat

    word_bbs = []
    for _, corners, _, _ in images:
        bb = np.asarray(corners, dtype=np.float64)
        word_bbs.append(bb if bb.ndim == 2 else bb.transpose(0, 2, 1))  # -> 2 x 4 x W
    variables = {
        "imnames": cell_array([np.array([name]) for name, *_ in images]),
        "wordBB": cell_array(word_bbs),
        "txt": cell_array([np.array(txt) for _, _, txt, _ in images]),
        "charBB": cell_array([np.zeros((2, 4, 5)) for _ in images]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {k: v for k, v in variables.items() if k not in drop})
    return path


def write_synthtext(folder, images=True):
    """folder/gt.mat and, with `images`, the images that have a size in SYNTH_IMAGES."""
    if images:
        for name, _, _, size in SYNTH_IMAGES:
            if size:
                blank(folder / name, *size)
    return write_gt_mat(folder / "gt.mat")


@pytest.fixture(scope="module")
def convert_tool():
    return load_script("tools/convert_synthtext.py")


@pytest.fixture
def synthtext(tmp_path, convert_tool, capsys):
    """(image folder, converted .npz, the tool's stdout, its stderr) of SYNTH_IMAGES."""
    root = tmp_path / "SynthText"
    gt_mat = write_synthtext(root)
    out = root / "synthtext_train.npz"
    assert convert_tool.main([str(gt_mat), str(out), "--every", "2"]) == 0
    printed = capsys.readouterr()
    return root, out, printed.out, printed.err


SYNTH_POLYGONS = [
    [10.0, 5.0, 40.0, 5.0, 40.0, 20.0, 10.0, 20.0],
    [50.0, 5.0, 90.0, 5.0, 90.0, 25.0, 50.0, 25.0],
    [5.0, 30.0, 20.0, 30.0, 20.0, 40.0, 5.0, 40.0],
    [1.5, 2.0, 30.0, 2.0, 30.0, 12.25, 1.5, 12.25],
    [1.0, 1.0, 9.0, 1.0, 9.0, 9.0, 1.0, 9.0],
    [30.0, 10.0, 50.0, 10.0, 50.0, 20.0, 30.0, 20.0],  # 70 clipped to the width, 50
]


def test_convert_and_load_synthtext(synthtext, caplog):
    root, out, stdout, stderr = synthtext
    assert stdout.splitlines()[0] == f"wrote {out}: 3 images, 6 words, 1 image(s) skipped"
    assert "2/4 images (50.0 %), 4 words, 0 skipped" in stderr
    assert "4/4 images (100.0 %), 6 words, 1 skipped" in stderr
    with caplog.at_level(logging.WARNING, logger="dld_d2.data"):
        dicts, report = load_annotations(out, fmt="synthtext", image_root=root)
    assert [d["image_id"] for d in dicts] == ["8/ballet_106_0", "8/ballet_106_1", "9/shop_7_1"]
    assert [d["file_name"] for d in dicts] == [
        str(root / "8/ballet_106_0.jpg"), str(root / "8/ballet_106_1.jpg"),
        str(root / "9/shop_7_1.jpg")]
    assert [(d["height"], d["width"]) for d in dicts] == [(60, 100), (40, 80), (50, 50)]
    assert [len(d["annotations"]) for d in dicts] == [3, 1, 2]
    words = anns(dicts)
    assert [a["text"] for a in words] == ["Lines:", "I", "lost", "Kevin", "###", "far"]
    assert [a["segmentation"] for a in words] == [[p] for p in SYNTH_POLYGONS]
    assert [a["iscrowd"] for a in words] == [0, 0, 0, 0, 1, 0]
    assert words[3]["bbox"] == [1.5, 2.0, 30.0, 12.25]
    assert {a["category_id"] for a in words} == {0} and {a["bbox_mode"] for a in words} == {0}
    assert (report.fmt, report.files, report.images) == ("synthtext", 3, 3)
    assert (report.care, report.dont_care) == (5, 1)
    assert report.dont_care_by_reason == {"###": 1}
    assert report.skipped == {"malformed_entry": 1} and report.flagged == {"clipped": 1}
    mismatch = (f"{root / 'gt.mat'}, image 2 '9/shop_7_0.jpg': 2 word boxes in wordBB but 3 "
                "words in txt ['a', 'b', 'c']")
    assert report.examples["malformed_entry"] == [f"{mismatch}; left out of {out}"]
    assert f"{mismatch}; left out of {out}; skipped [malformed_entry]" in caplog.text
    with pytest.raises(AnnotationError, match=r"image 2 '9/shop_7_0\.jpg': 2 word boxes"):
        load_annotations(out, fmt="synthtext", strict=True)


def test_synthtext_sizes_are_read_when_the_images_are_missing_at_conversion(tmp_path,
                                                                            convert_tool):
    root = tmp_path / "SynthText"
    gt_mat = write_synthtext(root, images=False)
    out = tmp_path / "converted.npz"
    assert convert_tool.main([str(gt_mat), str(out)]) == 0
    with np.load(out) as npz:
        assert npz["heights"].tolist() == [0, 0, 0] and npz["widths"].tolist() == [0, 0, 0]
        assert npz["polygons"].dtype == np.float32 and npz["polygons"].shape == (6, 8)
    dicts, report = load_annotations(out, fmt="synthtext")
    assert [(d["height"], d["width"], d["file_name"]) for d in dicts] == [(None, None, None)] * 3
    assert report.flagged == {}  # no size, no clipping
    blank(root / "8/ballet_106_1.jpg", 80, 40)  # the others are still missing
    dicts, report = load_annotations(out, fmt="synthtext", image_root=root)
    assert [(d["image_id"], d["height"], d["width"]) for d in dicts] == [
        ("8/ballet_106_1", 40, 80)]
    assert report.skipped == {"malformed_entry": 1, "missing_image": 2}


def test_synthtext_bad_cells_and_bad_files(tmp_path, convert_tool, capsys):
    bad = [
        ("1/ok_0.jpg", [[0, 9, 9, 0], [0, 0, 9, 9]], ["ok"], None),
        ("1/flat_0.jpg", [[0, 9, 9], [0, 0, 9]], ["three"], None),  # 2x3: not 2x4xW
    ]
    gt_mat = write_gt_mat(tmp_path / "bad" / "gt.mat", bad)
    out = tmp_path / "bad.npz"
    assert convert_tool.main([str(gt_mat), str(out)]) == 0
    assert "1 images, 1 words, 1 image(s) skipped" in capsys.readouterr().out
    _, report = load_annotations(out, fmt="synthtext")
    assert report.examples["malformed_entry"] == [
        f"{gt_mat}, image 1 '1/flat_0.jpg': wordBB is float64 of shape (2, 3), expected 2×4×W "
        f"numbers; left out of {out}"]
    # gt.mat without txt; a file that is no MATLAB file: exit status 1, the reason on stderr.
    no_txt = write_gt_mat(tmp_path / "no_txt" / "gt.mat", drop=("txt",))
    assert convert_tool.main([str(no_txt), str(tmp_path / "x.npz")]) == 1
    assert f"error: {no_txt}: no txt cell array; is this SynthText's gt.mat?" in \
        capsys.readouterr().err
    text = tmp_path / "gt.txt"
    text.write_text("not a mat file\n")
    assert convert_tool.main([str(text), str(tmp_path / "x.npz")]) == 1
    assert f"error: {text}: not a readable MATLAB v5 file" in capsys.readouterr().err
    assert convert_tool.main([str(tmp_path / "none.mat"), str(tmp_path / "x.npz")]) == 1
    assert f"error: {tmp_path / 'none.mat'} not found" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
    # gt.mat itself, or another .npz, given as the converted file.
    with pytest.raises(AnnotationError, match=r"gt\.mat: not a SynthText file converted by "
                                              r"tools/convert_synthtext\.py"):
        load_annotations(gt_mat, fmt="synthtext")
    other = tmp_path / "other.npz"
    np.savez(other, polygons=np.zeros((1, 8)))
    with pytest.raises(AnnotationError, match="other.npz: not a SynthText file converted"):
        load_annotations(other, fmt="synthtext")
    truncated = tmp_path / "truncated.npz"  # e.g. an interrupted copy
    truncated.write_bytes(out.read_bytes()[:300])
    with pytest.raises(AnnotationError, match="truncated.npz: not a SynthText file converted"):
        load_annotations(truncated, fmt="synthtext")


# -- COCO-Text v2 ---------------------------------------------------------------------------------
def coco_name(i):
    return f"COCO_train2014_{i:012d}.jpg"


def coco_image(i, height, width, split):
    return {"file_name": coco_name(i), "height": height, "width": width, "set": split, "id": i}


def coco_ann(i, image_id, text, legibility="legible", language="english", mask=None, bbox=None):
    return {"mask": mask if mask is not None else [], "bbox": bbox or [0, 0, 1, 1], "id": i,
            "utf8_string": text, "legibility": legibility, "language": language,
            "class": "machine printed", "image_id": image_id, "area": 1.0}


COCO_TEXT = {
    "cats": {},
    "anns": {
        "10": coco_ann(10, 1, "PIE", mask=[10, 10, 60, 12, 58, 30, 30, 35, 9, 28],
                       bbox=[9, 10, 51, 25]),
        "11": coco_ann(11, 1, "", legibility="illegible", language="na",
                       mask=[100, 50, 120, 50, 120, 60, 100, 60]),
        "12": coco_ann(12, 1, "café", language="not english", mask=[0, 70, 40, 70, 40, 90, 0, 90]),
        "13": coco_ann(13, 2, "EXIT", bbox=[5, 5, 20, 10]),  # empty mask: the box
        "14": coco_ann(14, 1, "odd", legibility="maybe", mask=[0, 0, 5, 0, 5, 5]),
        "15": coco_ann(15, 99, "lost", mask=[0, 0, 5, 0, 5, 5]),
        "16": coco_ann(16, 1, "STOP", mask=[150, 80, 250, 80, 250, 99, 150, 99]),
    },
    "imgs": {
        "1": coco_image(1, 100, 200, "train"),
        "2": coco_image(2, 50, 60, "val"),
        "3": coco_image(3, 80, 80, "train"),  # no text
        "4": {"file_name": 4, "height": 10, "width": 10, "set": "train", "id": 4},
    },
    "imgToAnns": {"1": [10, 11, 12, 14, 16], "2": [13], "3": [], "4": []},
    "info": {"description": "COCO-Text v2 (test copy)"},
}


@pytest.fixture
def cocotext(tmp_path):
    """(image folder, cocotext.v2.json) with the images of COCO_TEXT, but for image 3."""
    path = tmp_path / "coco" / "cocotext.v2.json"
    path.parent.mkdir()
    path.write_text(json.dumps(COCO_TEXT), encoding="utf-8")
    images = tmp_path / "coco" / "train2014"
    blank(images / coco_name(1), 200, 100)
    blank(images / coco_name(2), 60, 50)
    return images, path


def test_cocotext_train_val_and_all(cocotext):
    images, path = cocotext
    assert detect_format(path) == "cocotext"
    dicts, report = load_annotations(path, fmt="cocotext_train")
    assert [(d["image_id"], d["height"], d["width"]) for d in dicts] == [
        ("COCO_train2014_000000000001", 100, 200), ("COCO_train2014_000000000003", 80, 80)]
    words = anns(dicts)
    assert [(a["text"], a["iscrowd"]) for a in words] == [
        ("PIE", 0), ("", 1), ("café", 1), ("STOP", 0)]
    assert words[0]["segmentation"] == [[10.0, 10.0, 60.0, 12.0, 58.0, 30.0, 30.0, 35.0, 9.0,
                                         28.0]]
    assert words[0]["bbox"] == [9.0, 10.0, 60.0, 35.0]
    assert words[3]["segmentation"] == [[150.0, 80.0, 200.0, 80.0, 200.0, 99.0, 150.0, 99.0]]
    assert dicts[1]["annotations"] == []
    assert (report.images, report.care, report.dont_care) == (2, 2, 2)
    assert report.dont_care_by_reason == {"care_flag": 2}
    assert report.skipped == {"malformed_entry": 1, "malformed_line": 2}
    assert report.flagged == {"clipped": 1}
    assert report.examples["malformed_entry"] == [
        f"{path}[imgs]['4']: file_name is 4, expected a file name"]
    assert report.examples["malformed_line"] == [  # words of no image first, then per image
        f"{path}[anns]['15']: image_id 99 is not in imgs",
        f"{path}[anns]['14']: legibility 'maybe', expected 'legible' or 'illegible'"]

    dicts, report = load_annotations(path, fmt="cocotext_val")
    assert [d["image_id"] for d in dicts] == ["COCO_train2014_000000000002"]
    (exit_,) = anns(dicts)
    assert exit_["segmentation"] == [[5.0, 5.0, 25.0, 5.0, 25.0, 15.0, 5.0, 15.0]]
    assert (exit_["text"], exit_["iscrowd"]) == ("EXIT", 0)
    dicts, report = load_annotations(path)  # detected: every image
    assert (report.fmt, report.images, report.care, report.dont_care) == ("cocotext", 3, 3, 2)


def test_cocotext_images_and_bad_files(cocotext, tmp_path):
    images, path = cocotext
    dicts, report = load_annotations(path, fmt="cocotext_train", image_root=images)
    assert [d["file_name"] for d in dicts] == [str(images / coco_name(1))]
    assert report.skipped["missing_image"] == 1
    assert report.examples["missing_image"] == [
        f"{path}[imgs]['3']: image {images / coco_name(3)} not found"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"anns": {},\n "imgs": [}')
    with pytest.raises(AnnotationError, match=r"broken\.json, line 2: not valid JSON"):
        load_annotations(broken, fmt="cocotext")
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"anns": {}, "imgs": {}, "info": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(AnnotationError,
                       match=r"latin1\.json: not UTF-8 text \(byte 0xe9 at offset 37, line 1"):
        load_annotations(latin1, fmt="cocotext")
    no_imgs = tmp_path / "no_imgs.json"
    no_imgs.write_text(json.dumps({"anns": {}, "imgToAnns": {}}))
    assert detect_format(no_imgs) == "cocotext"
    with pytest.raises(AnnotationError, match=r"no_imgs\.json: a COCO-Text v2 file is a JSON "
                                              r'object with "anns" and "imgs" objects'):
        load_annotations(no_imgs)
    only_bad = dict(COCO_TEXT, anns={"14": COCO_TEXT["anns"]["14"]})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(only_bad))
    with pytest.raises(AnnotationError, match=r"no annotation in .*bad\.json could be read as "
                                              r"'cocotext_train' \(1 skipped as malformed_line; "
                                              r"first: .*\['14'\]: legibility 'maybe'"):
        load_annotations(bad, fmt="cocotext_train")


# -- tools/dataset_stats.py -----------------------------------------------------------------------
def test_dataset_stats_reads_both(synthtext, cocotext, capsys):
    tool = load_script("tools/dataset_stats.py")
    root, out, _, _ = synthtext
    assert tool.main(["--json", "--format", "synthtext", "--image-root", str(root), str(out)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["format"], stats["images"], stats["care"], stats["dont_care"]) == (
        "synthtext", 3, 5, 1)
    assert stats["skipped"] == {"malformed_entry": 1} and stats["points_per_polygon"] == {"4": 6}
    images, path = cocotext
    assert tool.main(["--json", "--format", "cocotext_train", "--image-root", str(images),
                      str(path)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["format"], stats["images"], stats["care"], stats["dont_care"]) == (
        "cocotext_train", 1, 2, 2)
    assert stats["points_per_polygon"] == {"4": 3, "5": 1}
    assert stats["skipped"] == {"malformed_entry": 1, "malformed_line": 2, "missing_image": 1}


# -- Registered names (detectron2) ----------------------------------------------------------------
@pytest.mark.detectron2
def test_registered_names_and_missing_conversion(tmp_path):
    import dld_d2  # noqa: F401
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from dld_d2.data.builtin import register_synthtext

    for name, annotations in [("synthtext_train", "SynthText/synthtext_train.npz"),
                              ("cocotext_train", "coco/cocotext.v2.json"),
                              ("cocotext_val", "coco/cocotext.v2.json")]:
        assert name in DatasetCatalog.list()
        meta = MetadataCatalog.get(name)
        assert (meta.thing_classes, meta.evaluator_type) == (["text"], "text_spotting")
        assert meta.annotations.endswith(os.path.join(*annotations.split("/")))
    root = tmp_path / "SynthText"
    gt_mat = write_gt_mat(root / "gt.mat")
    converted = root / "synthtext_train.npz"
    register_synthtext("dld_test_synthtext_unconverted", str(root), str(converted))
    with pytest.raises(FileNotFoundError) as e:
        DatasetCatalog.get("dld_test_synthtext_unconverted")
    assert str(e.value) == (
        f"SynthText annotations not converted: {converted} not found. Convert {gt_mat} once "
        f"with: python tools/convert_synthtext.py {gt_mat} {converted}")
    gt_mat.unlink()  # neither file: the usual message naming the annotations
    with pytest.raises(FileNotFoundError, match="Annotations not found: .*synthtext_train.npz"):
        DatasetCatalog.get("dld_test_synthtext_unconverted")


@pytest.mark.detectron2
def test_builtin_datasets_load_from_detectron2_datasets(synthtext, cocotext, tmp_path):
    """A fresh process with $DETECTRON2_DATASETS at the tree the fixtures wrote."""
    root = tmp_path  # SynthText/ and coco/ lie here
    code = (
        "import dld_d2; from detectron2.data import DatasetCatalog\n"
        "for name in ('synthtext_train', 'cocotext_train', 'cocotext_val'):\n"
        "    d = DatasetCatalog.get(name)\n"
        "    print(name, len(d), sum(1 for x in d for a in x['annotations'] if not a['iscrowd']),"
        " sum(1 for x in d for a in x['annotations'] if a['iscrowd']))\n"
    )
    env = dict(os.environ, DETECTRON2_DATASETS=str(root))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-3:] == [
        "synthtext_train 3 5 1", "cocotext_train 1 2 2", "cocotext_val 1 1 0"]
