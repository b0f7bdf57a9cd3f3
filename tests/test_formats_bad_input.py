"""Bad annotation input: mistyped DAVAR JSON, corrupt and truncated zips, non-UTF-8 files, and
format detection that fails. Each is an error or a counted skip whose message names the file,
entry or line and says what is wrong."""
import json
import logging
import re
import zipfile

import pytest

from dld_d2.data.formats import AnnotationError, detect_format, load_annotations

QUAD = "1,1,9,1,9,9,1,9,"  # an IC15 line without its text


def write_json(path, datalist):
    path.write_text(json.dumps(datalist))
    return path


def image(content_ann, height=100, width=100):
    return {"height": height, "width": width, "content_ann": content_ann}


def texts(dicts):
    return [a["text"] for d in dicts for a in d["annotations"]]


# -- DAVAR JSON -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content_ann, key, what",
    [
        ({"bboxes": 5}, "bboxes", "5 (int)"),
        ({"bboxes": [[1, 1, 9, 1, 9, 9]], "cares": 1}, "cares", "1 (int)"),
        ({"bboxes": [[1, 1, 9, 1, 9, 9]] * 3, "texts": "abc"}, "texts", "'abc' (str)"),
    ],
)
def test_davar_lists_of_the_wrong_type_are_malformed_entries(tmp_path, content_ann, key, what):
    good = image({"bboxes": [[1, 1, 9, 9]], "texts": ["x"]})
    path = write_json(tmp_path / "train.json", {"bad.jpg": image(content_ann), "good.jpg": good})
    dicts, report = load_annotations(path)
    assert [d["image_id"] for d in dicts] == ["good"] and texts(dicts) == ["x"]  # not a, b, c
    assert report.skipped == {"malformed_entry": 1}
    (example,) = report.examples["malformed_entry"]
    assert example == f"{path}['bad.jpg']: content_ann {key} is {what}, expected a list"


@pytest.mark.parametrize(
    "size",
    ["1e400", "-1e400", "NaN", "0.5", "1" + "0" * 400, "true"],
    ids=["inf", "-inf", "nan", "half", "huge_int", "bool"],
)
def test_davar_height_must_be_a_finite_number_of_pixels(tmp_path, size):
    path = tmp_path / "train.json"
    path.write_text(f'{{"a.jpg": {{"height": {size}, "width": 5}}, "b.jpg": {{"width": 5}}}}')
    dicts, report = load_annotations(path)
    assert [d["image_id"] for d in dicts] == ["b"]
    assert report.skipped == {"malformed_entry": 1}
    (example,) = report.examples["malformed_entry"]
    assert example.startswith(f"{path}['a.jpg']: height is ")
    assert example.endswith("expected a finite number >= 1")


def test_davar_care_flags_must_be_0_1_or_booleans(tmp_path, caplog):
    flags = [1, 0, True, False, 1.0, "0", "1", None, 0.5, [1]]
    boxes = [[0, 0, 10, 0, 10, 10, 0, 10]] * len(flags)
    words = [f"w{i}" for i in range(len(flags))]
    path = write_json(
        tmp_path / "train.json", {"a.jpg": image({"bboxes": boxes, "cares": flags, "texts": words})}
    )
    with caplog.at_level(logging.WARNING, logger="dld_d2.data"):
        dicts, report = load_annotations(path)
    kept = dicts[0]["annotations"]
    assert [(a["text"], a["iscrowd"]) for a in kept] == [
        ("w0", 0), ("w1", 1), ("w2", 0), ("w3", 1), ("w4", 0)
    ]  # "0" is not taken as care
    assert report.skipped == {"malformed_line": 5}
    assert report.examples["malformed_line"][0] == (
        f"{path}['a.jpg'], instance 5: care flag '0': expected 0/1 or true/false"
    )
    logged = [r.getMessage() for r in caplog.records]
    assert any("instance 7: care flag None" in m for m in logged)
    with pytest.raises(AnnotationError, match=r"instance 5: care flag '0'"):
        load_annotations(path, strict=True)


def test_davar_all_entries_malformed_is_an_error(tmp_path):
    path = write_json(
        tmp_path / "train.json",
        {"###": "comment", "a.jpg": [1, 2], "b.jpg": image({"bboxes": 5})},
    )
    with pytest.raises(AnnotationError) as e:
        load_annotations(path)
    msg = str(e.value)
    assert f"no image entry in {path}" in msg and "2 skipped as malformed_entry" in msg
    assert f"first: {path}['a.jpg']: expected an object with height, width, content_ann" in msg


def test_davar_json_not_utf8(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(b'{"a.jpg": {"height": 10},\n "caf\xe9.jpg": {}}')
    message = re.escape(f"{path}: not UTF-8 text (byte 0xe9 at offset 31, line 2")
    with pytest.raises(AnnotationError, match=message):
        load_annotations(path)


# -- zips -----------------------------------------------------------------------------------------
def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def corrupt_member(path, name):
    """Flip bytes inside `name`'s compressed data (its local header and the directory stay)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + 6):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_corrupt_member_is_a_counted_skip(tmp_path, compression):
    zpath = make_zip(
        tmp_path / "gt.zip",
        {"gt_img_1.txt": (QUAD + "broken words here\n") * 30, "gt_img_2.txt": QUAD + "ok\n"},
        compression,
    )
    corrupt_member(zpath, "gt_img_1.txt")
    for fmt in (None, "ic15"):  # with detection from the readable member, and without
        dicts, report = load_annotations(zpath, fmt=fmt)
        assert texts(dicts) == ["ok"] and report.fmt == "ic15"
        assert report.skipped == {"unreadable_file": 1} and report.files == 2
        (example,) = report.examples["unreadable_file"]
        assert example.startswith(f"{zpath}[gt_img_1.txt]: corrupt (CRC / decompression error")
    with pytest.raises(AnnotationError, match=r"gt\.zip\[gt_img_1\.txt\]: corrupt \(CRC"):
        load_annotations(zpath, fmt="ic15", strict=True)


def test_archive_with_every_member_corrupt_is_an_error(tmp_path):
    zpath = make_zip(tmp_path / "gt.zip", {"sub/gt_img_1.txt": (QUAD + "some words\n") * 30})
    corrupt_member(zpath, "sub/gt_img_1.txt")
    pattern = r"gt\.zip\[sub/gt_img_1\.txt\]: corrupt \(CRC / decompression error"
    with pytest.raises(AnnotationError, match=pattern):
        detect_format(zpath)
    with pytest.raises(AnnotationError, match=r"no annotation file in .*gt\.zip.*" + pattern):
        load_annotations(zpath, fmt="ic15")


@pytest.mark.parametrize("name", ["gt.zip", "annotations.bin"])
def test_truncated_zip_is_an_error_not_a_text_file(tmp_path, name):
    members = {f"gt_img_{i}.txt": QUAD + f"w{i}\n" for i in range(9)}
    whole = make_zip(tmp_path / "whole.zip", members)
    path = tmp_path / name  # by name, or (not named .zip) by its zip signature
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    message = re.escape(f"{path}: not a readable zip archive (truncated or corrupt")
    for fmt in (None, "ic15"):
        with pytest.raises(AnnotationError, match=message):
            load_annotations(path, fmt=fmt)


# -- non-UTF-8 files ------------------------------------------------------------------------------
def test_latin1_file_says_not_utf8_with_offset_and_line(tmp_path):
    gt = tmp_path / "gt_img_1.txt"
    gt.write_bytes(f"{QUAD}ok\n{QUAD}March".encode() + b"\xe9\n")
    where = re.escape(f"{gt}: not UTF-8 text (byte 0xe9 at offset 40, line 2")
    with pytest.raises(AnnotationError, match=where):
        detect_format(gt)
    with pytest.raises(AnnotationError, match=rf"no annotation file in .*{where}"):
        load_annotations(gt, fmt="ic15")


def test_binary_and_bom_files_in_a_folder(tmp_path):
    folder = tmp_path / "gts"
    folder.mkdir()
    (folder / "gt_img_1.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "gt_img_2.txt").write_bytes(b"\xef\xbb\xbf" + f"{QUAD}ok\n".encode() + b"\xff\n")
    (folder / "gt_img_3.txt").write_text(QUAD + "fine\n")
    dicts, report = load_annotations(folder)  # detected from the readable file
    assert texts(dicts) == ["fine"] and report.files == 3
    assert report.skipped == {"unreadable_file": 2}
    binary, bom = report.examples["unreadable_file"]
    assert binary.startswith(f"{folder}/gt_img_1.txt: not UTF-8 text "
                             "(byte 0x89 at offset 0, line 1")
    # The offset counts the BOM: it is the position in the file.
    assert bom.startswith(f"{folder}/gt_img_2.txt: not UTF-8 text (byte 0xff at offset 22, line 2")


# -- format detection -----------------------------------------------------------------------------
def test_detection_quotes_the_first_line_no_format_reads(tmp_path):
    folder = tmp_path / "gts"
    folder.mkdir()
    (folder / "gt_img_1.txt").write_text(f"{QUAD}one\n{QUAD}two\n")
    (folder / "gt_img_2.txt").write_text(f"{QUAD}three\n\nthis is not a GT line\n1,2,three,4\n")
    with pytest.raises(ValueError) as e:
        detect_format(folder)
    msg = str(e.value)
    assert f"first line in no supported format: {folder / 'gt_img_2.txt'}, line 3: " in msg
    assert "'this is not a GT line'" in msg and "'1,1,9,1,9,9,1,9,one'" not in msg
    assert "pass fmt=, one of ic13" in msg


def test_detection_of_mixed_formats_says_so(tmp_path):
    gt = tmp_path / "gt_img_1.txt"
    # ic15 quads, adet polygons, ic13 boxes: each line fits some format, no format fits 80 %.
    gt.write_text(f"{QUAD}a\n{QUAD}b\n1,1,9,1,9,9,####c\n1,1,9,1,9,9,####d\n5 5 9 9 e\n6 6 9 9 f\n")
    with pytest.raises(ValueError, match=r"lines of mixed formats; .* is 4 of 6\); pass fmt="):
        detect_format(gt)


@pytest.mark.parametrize("coordinate", ["1e400", "9" * 400])
def test_coordinates_that_read_as_infinity_are_malformed(tmp_path, coordinate):
    (tmp_path / "gt_img_1.txt").write_text(f"{QUAD}word\n1,1,{coordinate},1,9,9,1,9,inf\n")
    dicts, report = load_annotations(tmp_path, fmt="ic15")
    assert texts(dicts) == ["word"]
    assert report.skipped == {"malformed_line": 1}
    assert "gt_img_1.txt, line 2" in report.examples["malformed_line"][0]
