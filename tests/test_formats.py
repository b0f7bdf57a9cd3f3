"""Annotation parsers: every format on real-format samples, sources, images, and bad input."""
import json
import logging
import zipfile

import pytest
from PIL import Image

from dld_d2.data.formats import (
    BOX_MODE_XYXY_ABS,
    FORMATS,
    AnnotationError,
    detect_format,
    image_id_from_gt_name,
    load_annotations,
)

ANN_KEYS = ["bbox", "bbox_mode", "segmentation", "category_id", "iscrowd", "text"]


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def load(path, **kw):
    dicts, report = load_annotations(path, **kw)
    for d in dicts:  # the contract, on every result
        assert list(d) == ["file_name", "image_id", "height", "width", "annotations"]
        for a in d["annotations"]:
            assert list(a) == ANN_KEYS
            assert a["bbox_mode"] == BOX_MODE_XYXY_ABS == 0 and a["category_id"] == 0
            assert a["iscrowd"] in (0, 1) and isinstance(a["text"], str)
            poly = a["segmentation"][0]
            assert a["bbox"] == [min(poly[0::2]), min(poly[1::2]), max(poly[0::2]), max(poly[1::2])]
    return dicts, report


def anns(dicts):
    return [a for d in dicts for a in d["annotations"]]


# -- formats --------------------------------------------------------------------------------------
def test_ic13_box_forms_and_quads(tmp_path):
    train = write(tmp_path / "gt_100.txt", '158 128 411 181 "Foot path"\n1 2 30 40 "say \\"hi\\""')
    dicts, report = load(train)
    assert dicts[0]["image_id"] == "100" and dicts[0]["file_name"] is None
    a, b = anns(dicts)
    assert a["text"] == "Foot path" and b["text"] == 'say "hi"'
    assert a["segmentation"] == [[158, 128, 411, 128, 411, 181, 158, 181]]  # TL, TR, BR, BL
    assert a["bbox"] == [158, 128, 411, 181]
    test = write(tmp_path / "gt_img_1.txt", '38, 43, 920, 215, "Tiredness"\n1,2,30,40,"a, b"\n')
    assert [x["text"] for x in anns(load(test, fmt="ic13")[0])] == ["Tiredness", "a, b"]
    assert detect_format(train) == detect_format(test) == "ic13"
    quad = write(tmp_path / "q" / "gt_img_2.txt", "633,257,1149,257,1149,280,633,280,GASTRONOMY\n")
    (q,) = anns(load(quad, fmt="ic13")[0])
    assert q["text"] == "GASTRONOMY" and len(q["segmentation"][0]) == 8
    assert detect_format(quad) == "ic15"  # the quad form is line for line IC15's


def test_ic15_bom_crlf_commas_spaces_dont_care_and_long(tmp_path):
    long_text = "x" * 33
    gt = write(
        tmp_path / "gt_img_7.txt",
        "\ufeff377,117,463,117,465,130,378,130,Genaxis Theatre\r\n"
        "493,115,519,115,519,131,493,131,$8,888\r\n"
        "374,155,409,155,409,170,374,170,###\r\n"
        f"1,1,50,1,50,9,1,9,{long_text}\r\n"
        "1,1,50,1,50,9,1,9, padded \r\n",
    )
    assert detect_format(gt) == "ic15"
    dicts, report = load(gt)
    assert dicts[0]["image_id"] == "img_7"
    texts = [a["text"] for a in anns(dicts)]
    assert texts == ["Genaxis Theatre", "$8,888", "###", long_text, " padded "]
    assert [a["iscrowd"] for a in anns(dicts)] == [0, 0, 1, 1, 0]
    assert report.care == 3 and report.dont_care == 2
    assert report.dont_care_by_reason == {"###": 1, "too_long": 1}
    assert anns(load(gt, max_text_len=40)[0])[3]["iscrowd"] == 0


def test_mlt17_script_field_and_commas(tmp_path):
    gt = write(
        tmp_path / "gt_img_3.txt",
        "989,328,1048,328,1048,362,989,362,Latin,Hello, world\n"
        "10,10,60,10,60,30,10,30,Arabic,مرحبا\n"
        "1,1,9,1,9,9,1,9,None,###\n",
    )
    assert detect_format(gt) == "mlt17"
    dicts, report = load(gt)
    assert [a["text"] for a in anns(dicts)] == ["Hello, world", "مرحبا", "###"]
    assert (report.care, report.dont_care) == (2, 1)


TT_ORIGINAL = (
    "x: [[115 503 494 115]], y: [[322 346 426 404]], ornt: [u'm'], transcriptions: [u'nauGHTY']\n"
    "x: [[ 562  595  651  687  653  637  604\n"
    "   588]], y: [[347 304 305 360 366 334 332\n"
    "   361]], ornt: [u'c'], transcriptions: [u\"Joe's\"]\n"
    "x: [[168 179 179 167]], y: [[439 439 452 453]], ornt: [u'#'], transcriptions: [u'#']\n"
    "x: [[10 40 40 10]], y: [[10 10 20 20]], ornt: [u'h'], transcriptions: [u',']\n"
)


def test_totaltext_original_wrapped_records(tmp_path):
    gt = write(tmp_path / "poly_gt_img11.txt", TT_ORIGINAL)
    assert detect_format(gt) == "totaltext"
    dicts, report = load(gt)
    assert dicts[0]["image_id"] == "img11"
    a, b, c, d = anns(dicts)
    assert a["segmentation"] == [[115, 322, 503, 346, 494, 426, 115, 404]]
    assert b["text"] == "Joe's" and len(b["segmentation"][0]) == 16  # 8 points over 3 lines
    assert b["segmentation"][0][-2:] == [588, 361]
    assert (c["text"], c["iscrowd"]) == ("###", 1)
    assert (d["text"], d["iscrowd"]) == (",", 0)
    assert (report.care, report.dont_care) == (3, 1)


def test_totaltext_poly_lines(tmp_path):
    gt = write(
        tmp_path / "poly_gt_img12.txt",
        "328,276,357,276,386,276,386,303,357,303,328,303,558\n"  # numeric text
        "267,138,313,138,313,177,261,177,M\n"
        "1,1,5,1,9,1,9,5,5,5,1,5,###\n",
    )
    assert detect_format(gt) == "totaltext_poly"
    dicts, report = load(gt)
    assert dicts[0]["image_id"] == "img12"
    first, second, third = anns(dicts)
    assert first["text"] == "558" and len(first["segmentation"][0]) == 12
    assert second["text"] == "M" and third["iscrowd"] == 1


def test_adet_lines(tmp_path):
    gt = write(
        tmp_path / "0000001.txt",
        "933,255,936,277,956,277,954,255,#######\n"
        "1.5,2.5,30,2,30,20,2,20,18,11,####$8,888\n",
    )
    assert detect_format(gt) == "adet"
    dicts, report = load(gt)
    assert dicts[0]["image_id"] == "0000001"
    dc, word = anns(dicts)
    assert (dc["text"], dc["iscrowd"]) == ("###", 1)
    assert word["text"] == "$8,888" and word["segmentation"][0][:2] == [1.5, 2.5]
    assert len(word["segmentation"][0]) == 10


def test_davar_json(tmp_path):
    datalist = {
        "###": "a comment",
        "Images/Train/img11.jpg": {
            "height": 100,
            "width": 200,
            "content_ann": {
                "bboxes": [[10, 10, 50, 30], [0, 0, 250, 0, 250, 50, 0, 50], [1, 2, 3]],
                "cares": [1, 0, 1],
                "texts": ["abc", "def", "bad"],
                "labels": [[0], [0], [0]],
            },
        },
        "Images/Train/img12.jpg": {"height": 50, "width": 60},
        "Images/Train/img13.jpg": {"content_ann": {"bboxes": [[1, 1, 5, 5]], "texts": []}},
        "broken": [1, 2],
    }
    path = write(tmp_path / "train.json", json.dumps(datalist))
    assert detect_format(path) == "davar_json"
    dicts, report = load(path)
    assert [d["image_id"] for d in dicts] == ["img11", "img12"]
    box, wide = dicts[0]["annotations"]
    assert box["segmentation"] == [[10, 10, 50, 10, 50, 30, 10, 30]]  # 4 values -> 4 points
    assert wide["iscrowd"] == 1 and wide["text"] == "def"  # cares=0
    assert wide["segmentation"] == [[0, 0, 200, 0, 200, 50, 0, 50]]  # clipped to JSON width
    assert (dicts[0]["height"], dicts[0]["width"]) == (100, 200)
    assert dicts[1]["annotations"] == []
    assert report.skipped == {"malformed_line": 1, "malformed_entry": 2}
    assert report.flagged["clipped"] == 1 and report.dont_care_by_reason == {"care_flag": 1}
    images = tmp_path / "imgs" / "Images" / "Train"
    images.mkdir(parents=True)
    Image.new("RGB", (200, 100)).save(images / "img11.jpg")
    dicts, report = load(path, image_root=str(tmp_path / "imgs"))
    assert [d["file_name"] for d in dicts] == [str(images / "img11.jpg")]
    assert report.skipped["missing_image"] == 1


# -- sources --------------------------------------------------------------------------------------
def test_folder_and_zip_sources(tmp_path):
    folder = tmp_path / "gts"
    for i in (10, 2, 1):
        write(folder / f"gt_img_{i}.txt", f"1,1,9,1,9,9,1,9,w{i}\n")
    write(folder / "README.md", "not a GT file")
    dicts, report = load(folder)
    assert [d["image_id"] for d in dicts] == ["img_1", "img_2", "img_10"]  # natural order
    assert report.ignored_entries == 1 and report.files == 3
    zpath = tmp_path / "gts.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
        zf.writestr("sub/gt_img_3.txt", "1,1,9,1,9,9,1,9,w3\n")
    dicts, report = load(zpath)
    assert [d["image_id"] for d in dicts] == ["img_1", "img_2", "img_10", "img_3"]
    assert detect_format(zpath) == "ic15"


def test_image_id_from_gt_name():
    assert image_id_from_gt_name("gt_img_12.txt") == "img_12"
    assert image_id_from_gt_name("poly_gt_img12.txt") == "img12"
    assert image_id_from_gt_name("gt_100.txt") == "100"
    assert image_id_from_gt_name("0000012.txt") == "0000012"
    assert image_id_from_gt_name("sub/img_5.txt") == "img_5"


def test_images_sizes_exif_missing_unreadable(tmp_path):
    gts, images = tmp_path / "gts", tmp_path / "images"
    images.mkdir()
    write(gts / "gt_img_1.txt", "1,1,9,1,9,9,1,9,a\n")
    write(gts / "gt_img_2.txt", "1,1,9,1,9,9,1,9,b\n")
    write(gts / "gt_img_3.txt", "1,1,9,1,9,9,1,9,c\n")
    write(gts / "gt_img_4.txt", "1,1,9,1,9,9,1,9,d\n")
    Image.new("RGB", (64, 48)).save(images / "img_1.jpg")
    rotated = Image.new("RGB", (64, 48))
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90: Detectron2 reads it as 48 wide, 64 high
    rotated.save(images / "img_2.JPG", exif=exif)
    (images / "img_3.png").write_bytes(b"not an image")
    Image.new("RGB", (5, 5)).save(images / "img_9.png")  # no GT file
    dicts, report = load(gts, image_root=str(images))
    sizes = [(d["image_id"], d["height"], d["width"]) for d in dicts]
    assert sizes == [("img_1", 48, 64), ("img_2", 64, 48)]
    assert dicts[0]["file_name"] == str(images / "img_1.jpg")
    assert report.skipped == {"unreadable_image": 1, "missing_image": 1}
    assert report.unannotated_images == 1 and report.images == 2
    assert "missing_image=1" in report.summary()
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        load_annotations(gts, image_root=str(tmp_path / "nowhere"))


# -- bad input ------------------------------------------------------------------------------------
def test_malformed_line_counted_logged_and_strict(tmp_path, caplog):
    gt = write(tmp_path / "gt_img_1.txt", "1,1,9,1,9,9,1,9,ok\n1,1,nine,1,9,9,1,9,bad\n")
    with caplog.at_level(logging.WARNING, logger="dld_d2.data"):
        dicts, report = load(gt, fmt="ic15")
    assert report.skipped == {"malformed_line": 1} and report.care == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("gt_img_1.txt, line 2" in m and "'nine'" in m for m in messages)
    assert report.examples["malformed_line"][0].startswith(f"{gt}, line 2:")
    with pytest.raises(AnnotationError, match=r"gt_img_1\.txt, line 2: coordinate field 'nine'"):
        load_annotations(gt, fmt="ic15", strict=True)


def test_wrong_format_is_an_error_naming_file_and_line(tmp_path):
    gt = write(tmp_path / "gt_img_1.txt", "1,1,9,1,9,9,1,9,word\n")
    with pytest.raises(AnnotationError, match=r"gt_img_1\.txt, line 1: no ',####'"):
        load_annotations(gt, fmt="adet")
    zpath = tmp_path / "gt.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("gt_img_5.txt", "x: [[1 2 3]], y: [[1 2]], ornt: [u'c'], transcriptions: []")
    with pytest.raises(AnnotationError, match=r"gt\.zip\[gt_img_5\.txt\], line 1: 3 x values but"):
        load_annotations(zpath, fmt="totaltext")


def test_unknown_and_undetectable_formats(tmp_path):
    gt = write(tmp_path / "gt.txt", "hello world\n")
    with pytest.raises(ValueError, match="unknown annotation format 'coco'.*ic13, ic15"):
        load_annotations(gt, fmt="coco")
    with pytest.raises(ValueError, match=r"cannot detect .*gt\.txt.*'hello world'.*one of ic13"):
        load_annotations(gt)
    with pytest.raises(FileNotFoundError, match="annotations not found"):
        load_annotations(tmp_path / "missing.zip")
    assert set(FORMATS) == {"ic13", "ic15", "mlt17", "totaltext", "totaltext_poly", "adet",
                            "cocotext", "cocotext_train", "cocotext_val", "davar_json",
                            "synthtext"}


def test_degenerate_invalid_and_too_few_points(tmp_path):
    gt = write(
        tmp_path / "poly_gt_img1.txt",
        "533,469,534,469,534,469,533,469,###\n"  # IC13 gt_img_50: zero area
        "1,1,9,1,9,1,1,1,flat\n"  # zero-area care polygon: don't-care
        "0,0,10,10,10,0,0,10,evo\n"  # bow-tie (self-intersecting): kept
        "1,1,9,9,two\n"  # 2 points: skipped
        "0,0,10,0,10,10,0,10,fine\n",
        )
    dicts, report = load(gt, fmt="totaltext_poly")
    texts = {a["text"]: a for a in anns(dicts)}
    assert set(texts) == {"###", "flat", "evo", "fine"}
    assert texts["flat"]["iscrowd"] == 1 and texts["evo"]["iscrowd"] == 0
    assert texts["evo"]["segmentation"] == [[0, 0, 10, 10, 10, 0, 0, 10]]  # as given
    assert report.skipped == {"too_few_points": 1}
    assert report.flagged == {"degenerate": 2, "invalid_polygon_kept": 1}
    assert report.dont_care_by_reason == {"###": 1, "degenerate": 1}


def test_clipping_to_the_image(tmp_path):
    gts, images = tmp_path / "gts", tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (100, 50)).save(images / "img_1.png")
    write(gts / "gt_img_1.txt", "-5,10,120,10,120,60,-5,60,wide\n200,200,300,200,300,300,200,300,x")
    dicts, report = load(gts, image_root=str(images))
    wide, far_away = anns(dicts)
    assert wide["segmentation"] == [[0, 10, 100, 10, 100, 50, 0, 50]]
    assert wide["bbox"] == [0, 10, 100, 50]
    assert far_away["iscrowd"] == 0  # care status stays as annotated
    assert report.flagged == {"clipped": 2, "outside_image": 1}
    unclipped, _ = load(gts, image_root=str(images), clip=False)
    assert anns(unclipped)[0]["segmentation"][0][0] == -5


def test_empty_and_undecodable_files(tmp_path):
    write(tmp_path / "gts" / "gt_img_1.txt", "")
    write(tmp_path / "gts" / "gt_img_2.txt", "\n  \n")
    write(tmp_path / "gts" / "gt_img_3.txt", "1,1,9,1,9,9,1,9,Marché\n", encoding="latin-1")
    write(tmp_path / "gts" / "gt_img_4.txt", "1,1,9,1,9,9,1,9,ok\n")
    dicts, report = load(tmp_path / "gts")
    assert [(d["image_id"], d["annotations"]) for d in dicts[:2]] == [("img_1", []), ("img_2", [])]
    assert report.images == 3 and report.skipped == {"unreadable_file": 1}
