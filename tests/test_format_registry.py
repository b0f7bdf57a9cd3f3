"""One `register_format` call adds an annotation format: loading, detection, FORMATS, the docs."""
import contextlib
import re
from pathlib import Path

import pytest

from dld_d2.data.formats import (
    FORMATS,
    detect_format,
    load_annotations,
    register_format,
    registry,
    unregister_format,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def parse_toy(line):
    """`text@x1:y1;x2:y2;...`: a line form no built-in format reads."""
    text, sep, points = line.partition("@")
    if not sep:
        raise ValueError("no '@' after the text")
    coords = [float(v) for point in points.split(";") for v in point.split(":")]
    return coords, text


def toy_from_quad(line):
    """Reads IC15 quad lines (`x1,...,y4,text`), as a second format competing with ic15."""
    fields = line.split(",", 8)
    if len(fields) != 9:
        raise ValueError("not a quad line")
    return [float(v) for v in fields[:8]], fields[8]


@contextlib.contextmanager
def registered(name, description, **hooks):
    register_format(name, description, **hooks)
    try:
        yield
    finally:
        unregister_format(name)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_formats_are_the_registry_names_in_order():
    assert FORMATS == registry.names() == (
        "ic13", "ic15", "mlt17", "totaltext", "totaltext_poly", "adet", "cocotext",
        "cocotext_train", "cocotext_val", "davar_json", "synthtext"
    )
    assert [f.name for f in registry.line_formats()] == [
        "adet", "ic13", "mlt17", "totaltext_poly", "ic15"
    ]
    assert [f.name for f in registry.sniffers(datalist=True)] == ["cocotext", "davar_json"]
    assert [f.name for f in registry.sniffers(datalist=False)] == ["totaltext"]


def test_toy_line_format_by_one_registration(tmp_path):
    folder = tmp_path / "gt"
    folder.mkdir()
    write(folder / "gt_img_1.txt", "hello@0:0;10:0;10:5;0:5\n###@1:1;4:1;4:4\nbroken line\n")
    write(folder / "gt_img_2.txt", "a b@2.5:3;8:3;8:9;2.5:9\nx@0:0;1:1\n")
    with registered("toy", "`text@x1:y1;...`", parse_line=parse_toy, check_line=parse_toy,
                    rank=5):
        assert "toy" in registry.names() and "toy" not in FORMATS
        dicts, report = load_annotations(folder / "gt_img_1.txt", fmt="toy")
        assert [d["image_id"] for d in dicts] == ["img_1"]
        anns = dicts[0]["annotations"]
        assert [a["text"] for a in anns] == ["hello", "###"]
        assert anns[0]["segmentation"] == [[0.0, 0.0, 10.0, 0.0, 10.0, 5.0, 0.0, 5.0]]
        assert anns[0]["bbox"] == [0.0, 0.0, 10.0, 5.0]
        assert [a["iscrowd"] for a in anns] == [0, 1]
        assert report.fmt == "toy" and report.skipped == {"malformed_line": 1}
        assert "gt_img_1.txt, line 3: no '@' after the text" in report.examples["malformed_line"][0]
        # 4 of the 5 lines read: 80 %, detected; the 2-point polygon is skipped when loading.
        assert detect_format(folder) == "toy"
        dicts, report = load_annotations(folder)
        assert report.fmt == "toy" and report.images == 2
        assert (report.care, report.dont_care) == (2, 1)
        assert report.skipped == {"malformed_line": 1, "too_few_points": 1}
    assert "toy" not in registry.names()
    with pytest.raises(ValueError, match="unknown annotation format 'toy'; expected one of ic13"):
        load_annotations(folder / "gt_img_1.txt", fmt="toy")
    with pytest.raises(ValueError, match="cannot detect"):
        detect_format(folder)


def test_rank_and_evidence_decide_between_formats(tmp_path):
    gt = write(tmp_path / "gt_img_1.txt", "0,0,9,0,9,9,0,9,word\n1,1,5,1,5,5,1,5,more\n")
    assert detect_format(gt) == "ic15"
    with registered("quad_first", "IC15 lines", parse_line=toy_from_quad,
                    check_line=toy_from_quad, rank=5):
        assert detect_format(gt) == "quad_first"  # ranked before adet, so before ic15
    with registered("quad_last", "IC15 lines", parse_line=toy_from_quad,
                    check_line=toy_from_quad, rank=60):
        assert detect_format(gt) == "ic15"

    def upper_evidence(line):  # evidence: an upper-case text
        return toy_from_quad(line)[1].isupper()

    with registered("quad_upper", "IC15 lines", parse_line=toy_from_quad,
                    check_line=upper_evidence, rank=5, needs_evidence=True):
        assert detect_format(gt) == "ic15"  # no evidence: tried after every other format
        upper = write(tmp_path / "gt_img_2.txt", "0,0,9,0,9,9,0,9,WORD\n")
        assert detect_format(upper) == "quad_upper"


def test_toy_file_format_with_a_sniffer(tmp_path):
    def parse_toy_file(text, origin):
        from dld_d2.data.formats.common import RawInstance

        for n, line in enumerate(text.splitlines()[1:], 2):
            x0, y0, x1, y1, word = line.split()
            x0, y0, x1, y1 = map(float, (x0, y0, x1, y1))
            yield RawInstance(f"{origin}, line {n}", [x0, y0, x1, y0, x1, y1, x0, y1], word)

    gt = write(tmp_path / "gt_img_7.txt", "  TOY v1\n0 0 4 2 ab\n1 1 3 3 cd\n")
    with registered("toyfile", "`TOY` header, then boxes", parse_file=parse_toy_file,
                    sniff=lambda head: head.startswith("TOY")):
        assert detect_format(gt) == "toyfile"
        dicts, report = load_annotations(gt)
        assert report.fmt == "toyfile"
        assert [a["bbox"] for a in dicts[0]["annotations"]] == [[0, 0, 4, 2], [1, 1, 3, 3]]
    with pytest.raises(ValueError, match="cannot detect"):
        detect_format(gt)


def test_register_format_rejects_bad_registrations():
    with pytest.raises(ValueError, match="'ic15' is already registered"):
        register_format("ic15", "again", parse_line=parse_toy)
    with pytest.raises(ValueError, match="exactly one of parse_line, parse_file, read_datalist"):
        register_format("toy", "two readers", parse_line=parse_toy, parse_file=parse_toy)
    with pytest.raises(ValueError, match="exactly one of"):
        register_format("toy", "no reader")
    with pytest.raises(ValueError, match="check_line and rank go together"):
        register_format("toy", "no rank", parse_line=parse_toy, check_line=parse_toy)
    with pytest.raises(ValueError, match="needs_evidence requires check_line"):
        register_format("toy", "evidence", parse_line=parse_toy, needs_evidence=True)
    assert registry.names() == FORMATS


def test_docs_list_every_format_once():
    rows = re.findall(r"^\| `(\w+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.M)
    assert rows == list(FORMATS)
