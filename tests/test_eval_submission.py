"""Submission / GT zips: reading with the official semantics, writing safe submissions."""
import zipfile

import numpy as np
import pytest
import shapely

from dld_d2.evaluation.protocol import ProtocolConfig, evaluate, polygon_area
from dld_d2.evaluation.submission import (
    SubmissionFormatError,
    adet_totaltext_ids,
    decode_utf8,
    entry_name,
    gt_from_dataset_dicts,
    name_patterns,
    parse_adet_lines,
    parse_davar_lines,
    prepare_predictions,
    read_gt_zip,
    read_submission_zip,
    sanitize_polygon,
    write_submission_zip,
)

SQ = [0, 0, 10, 0, 10, 10, 0, 10]
BOW = [0, 0, 10, 10, 10, 0, 0, 10]


def make_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------
def test_name_patterns_follow_the_gt_base_name():
    assert name_patterns("x/gt-icdar2015.zip") == (r"gt_img_([0-9]+).txt", r"img_([0-9]+).txt")
    assert name_patterns("total-text-gt.zip") == (r"poly_gt_img([0-9]+).txt", r"img([0-9]+).txt")
    assert name_patterns("gt_totaltext.zip") == (r"([0-9]+).txt", r"([0-9]+).txt")


def test_davar_lines_are_parsed_like_the_official_script():
    text = "\ufeff1,2,3,4,5,6,7,8, Foo Bar \r\n\n   \n-1,0,2,0,2,2,###\n"
    assert parse_davar_lines(decode_utf8(text.encode())) == [
        ([1, 2, 3, 4, 5, 6, 7, 8], " Foo Bar "), ([-1, 0, 2, 0, 2, 2], "###")]
    assert parse_davar_lines("hello\n") == [([], "hello")]  # scored as a degenerate detection
    with pytest.raises(SubmissionFormatError, match=r"f\.txt: line 2: coordinate '2\.5'"):
        parse_davar_lines("1,2,3,4,5,6,x\n1,2.5,3,4,5,6,x\n", "f.txt")
    with pytest.raises(SubmissionFormatError, match="line 1: odd number"):
        parse_davar_lines("1,2,3,4,5,ABC\n")


def test_adet_lines():
    assert parse_adet_lines('1.5,2,3,4,5,6,####  a,b \n0,0,1,0,1,1,####"say \\"hi\\""\n') == [
        ([1.5, 2.0, 3.0, 4.0, 5.0, 6.0], "a,b"), ([0.0, 0.0, 1.0, 0.0, 1.0, 1.0], 'say "hi"')]
    with pytest.raises(SubmissionFormatError, match="line 1: missing the ',####'"):
        parse_adet_lines("1,2,3,4,5,6,text\n")


def test_gt_zip_keys_and_skipped_entries(tmp_path):
    gt = make_zip(tmp_path / "gt-icdar2015.zip", {
        "gt_img_1.txt": "0,0,10,0,10,10,0,10,ABC\n", "gt_img_2.txt": "", "readme.md": "not GT",
        "gt_img_3.txt.bak": "0,0,1,0,1,1,0,1,prefix match\n"})
    data, fmt = read_gt_zip(gt)
    assert fmt == "davar" and sorted(data) == ["1", "2", "3"]  # re.match is a prefix match
    assert data["1"][0].text == "ABC" and not data["1"][0].dont_care


def test_official_gt_zips(eval_data):
    counts = {}
    for sub, name in (("davar_format", "gt-icdar2013.zip"), ("davar_format", "gt-icdar2015.zip"),
                      ("davar_format", "total-text-gt.zip"), ("adelaidet_format", "gt_icdar2015.zip"),
                      ("adelaidet_format", "gt_totaltext.zip")):
        gt, fmt = read_gt_zip(eval_data / "gt" / sub / name)
        lines = [g for v in gt.values() for g in v]
        counts[name] = (fmt, len(gt), len(lines), sum(g.dont_care for g in lines))
    assert counts == {
        "gt-icdar2013.zip": ("davar", 233, 1637, 720), "gt-icdar2015.zip": ("davar", 500, 5230, 3153),
        "total-text-gt.zip": ("davar", 300, 2543, 328), "gt_icdar2015.zip": ("adet", 500, 5230, 3153),
        "gt_totaltext.zip": ("adet", 300, 2542, 328)}


def test_submission_duplicate_key_later_entry_wins(tmp_path):
    pred = make_zip(tmp_path / "p.zip", {"img_1.txt": "0,0,1,0,1,1,A\n", "img_01.txt": "0,0,1,0,1,1,B\n"})
    got = read_submission_zip(pred, "gt-icdar2013.zip")
    assert set(got) == {"1", "01"}  # keys compare as strings: zero-padding must agree


# ------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------
def test_sanitize_polygon():
    assert sanitize_polygon(np.array(SQ) + 0.7).tolist() == [[0, 0], [10, 0], [10, 10], [0, 10]]
    hull = sanitize_polygon(BOW)
    assert polygon_area(hull) == 100.0 and shapely.Polygon(hull).is_valid
    assert sanitize_polygon(BOW, invalid="drop") is None
    assert sanitize_polygon([0, 0, 5, 5]) is None  # < 3 points
    assert sanitize_polygon([0, 0, 5, 5, 10, 10]) is None  # zero area
    assert sanitize_polygon([0, 0, 0.5, 0, 0.5, 0.5]) is None  # collapses when truncated


def test_write_sorts_by_score_cleans_text_and_repairs(tmp_path):
    preds = {"img_7": [(SQ, "LOW,ER", 0.2), (BOW, "bow", 0.9), ([0, 0, 1, 1], "line", 0.5),
                       ([0, 0, 10, 0, 10, 10, 0, 10], "two\nlines", 0.7)],
             "img_8": []}
    rep = write_submission_zip(tmp_path / "s.zip", preds, image_keys=["img_7", "img_8", "img_9"])
    assert (rep.num_images, rep.num_written, rep.num_dropped, rep.num_repaired, rep.num_text_cleaned) == (3, 3, 1, 1, 2)
    with zipfile.ZipFile(tmp_path / "s.zip") as zf:
        assert sorted(zf.namelist()) == ["img_7.txt", "img_8.txt", "img_9.txt"]
        assert zf.read("img_7.txt").decode().splitlines() == [
            "0,0,0,10,10,10,10,0,bow", "0,0,10,0,10,10,0,10,twolines", "0,0,10,0,10,10,0,10,LOWER"]
        assert zf.read("img_9.txt") == b""


def test_adet_naming_and_orientation(tmp_path):
    assert entry_name("img_12", "adet") == "0000012.txt" and entry_name(3, "adet") == "0000003.txt"
    assert entry_name("img12", "stem") == "img12.txt"
    ids = adet_totaltext_ids(["img1", "img10", "img100", "img2"])
    assert ids == {"img1": 0, "img10": 1, "img100": 2, "img2": 3}
    write_submission_zip(tmp_path / "a.zip", {"5": [(SQ, " a,b ")]}, naming="adet")
    line = zipfile.ZipFile(tmp_path / "a.zip").read("0000005.txt").decode().strip()
    pts, text = parse_adet_lines(line)[0]
    assert text == "a,b" and not shapely.LinearRing(np.reshape(pts, (-1, 2))).is_ccw


def test_prepared_predictions_score_like_the_written_zip(eval_data, tmp_path):
    """In-memory scoring after prepare_predictions equals scoring the written zip."""
    gt_zip = eval_data / "gt" / "davar_format" / "gt-icdar2015.zip"
    gt, _ = read_gt_zip(gt_zip)
    rng = np.random.default_rng(0)
    preds = {}
    for k, items in gt.items():
        dets = []
        for pts, text, dc in items:
            p = np.reshape(pts, (-1, 2)) + rng.normal(0, 2, (4, 2))
            if rng.random() < 0.1:
                p = p[[0, 2, 1, 3]]  # bow-tie
            dets.append((p, text + ("," if rng.random() < 0.1 else ""), float(rng.random())))
        preds[k] = dets
    write_submission_zip(tmp_path / "s.zip", preds, naming=lambda k: f"img_{k}.txt")
    from_zip = evaluate(gt, read_submission_zip(tmp_path / "s.zip", gt_zip), ProtocolConfig.davar(0.5))
    prepared, rep = prepare_predictions(preds)
    in_memory = evaluate(gt, prepared, ProtocolConfig.davar(0.5))
    assert rep.num_repaired > 0 and rep.num_text_cleaned > 0
    assert in_memory.to_dict()["counts"] == from_zip.to_dict()["counts"]
    assert from_zip.num_invalid_det == 0  # nothing self-intersecting reaches the scorer


# ------------------------------------------------------------------------------------------
# Dataset dicts
# ------------------------------------------------------------------------------------------
def test_gt_from_dataset_dicts():
    dicts = [{"image_id": "img_1", "annotations": [
        {"segmentation": [SQ], "text": "ABC", "iscrowd": 0},
        {"segmentation": [[50, 0, 60, 0, 60, 10], [0, 0, 1, 0, 1, 1]], "text": "long text", "iscrowd": 1},
        {"bbox": [20, 0, 10, 10], "bbox_mode": 1, "text": "###", "iscrowd": 0}]},
        {"image_id": "img_2", "annotations": []}]
    gt = gt_from_dataset_dicts(dicts)
    assert [g.dont_care for g in gt["img_1"]] == [False, True, True] and gt["img_2"] == []
    assert gt["img_1"][2].points == [20.0, 0.0, 30.0, 0.0, 30.0, 10.0, 20.0, 10.0]
    r = evaluate(gt, {"img_1": [(SQ, "abc")]})
    assert (r.num_gt_care, r.det_correct) == (1, 1)


def test_dataset_dicts_from_the_annotation_loader_score_the_same(eval_data):
    """GT read by dld_d2.data.formats (no text-length limit) gives the official numbers."""
    formats = pytest.importorskip("dld_d2.data.formats")
    gt_zip = eval_data / "gt" / "davar_format" / "gt-icdar2013.zip"
    dicts, _ = formats.load_annotations(gt_zip, max_text_len=None)
    gt = gt_from_dataset_dicts(dicts)
    preds = {f"img_{k}": v for k, v in read_submission_zip(
        eval_data / "preds" / "mango_r50_ic13_none.zip", gt_zip).items()}
    r = evaluate(gt, preds, ProtocolConfig.davar(0.1))
    assert r.summary_lines()[0] == "num_gt, num_det:  917 1038"
    assert r.summary_lines()[3] == "spot_recall:  0.795 spot_precision:  0.8256 spot_hmean:  0.81"
