"""Total-Text: the original txt annotations and the polygon-line form of the evaluation zip.

Original (`Groundtruth/Text`, one file per image, `poly_gt_img11.txt`)::

    x: [[115 503 494 115]], y: [[322 346 426 404]], ornt: [u'm'], transcriptions: [u'nauGHTY']

Long coordinate lists wrap onto following lines, so a record runs from one line starting with
`x:` to the next. The transcription is a Python literal (`u'...'` or `u"..."`, with escapes).
A transcription `#` (or orientation `#`) is a don't-care region; its text becomes "###".

Evaluation zip (`poly_gt_img12.txt`): `x1,y1,...,xn,yn,text`, n variable, text = last comma field.
"""
import ast
import re

from .common import DONT_CARE_TEXT, MALFORMED, RawInstance, Skip
from .polygon_lines import iter_lines, parse_numbers, parse_polygon_line
from .registry import register_format

_RECORD_START = "x:"  # every original record starts so; no other format's line does

_RECORD = re.compile(
    r"x:\s*\[\[(?P<x>[^\]]*)\]\]\s*,\s*y:\s*\[\[(?P<y>[^\]]*)\]\]\s*,\s*"
    r"ornt:\s*\[(?P<ornt>[^\]]*)\]\s*,\s*transcriptions:\s*\[(?P<text>.*)\]\s*"
)


def parse_totaltext_poly_line(line):
    """`x1,y1,...,xn,yn,text` with the text in the last comma field (DAVAR's rule)."""
    coords, _, text = parse_polygon_line(line)
    return coords, text


def _literal_strings(inner, what):
    """The strings of a Python list literal's inside (`u'a'` or `u"a", u'b'`)."""
    try:
        values = ast.literal_eval("[" + inner + "]")
    except (ValueError, SyntaxError):
        raise ValueError(f"{what} [{inner}] is not a list of quoted strings") from None
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} [{inner}] is not a list of quoted strings")
    return values


def parse_totaltext_record(record):
    """(coords, text, care) of one joined original Total-Text record; ValueError if malformed."""
    m = _RECORD.fullmatch(record)
    if m is None:
        raise ValueError("expected x: [[...]], y: [[...]], ornt: [...], transcriptions: [...]")
    xs, ys = parse_numbers(m.group("x").split()), parse_numbers(m.group("y").split())
    if xs is None or ys is None:
        raise ValueError("a coordinate is not a number")
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values but {len(ys)} y values")
    texts = _literal_strings(m.group("text"), "transcriptions")
    ornt = _literal_strings(m.group("ornt"), "ornt")
    # Several strings happen only when a transcription was split on commas upstream; rejoin them.
    text = ",".join(texts)
    care = "#" not in ornt
    if text in ("#", "", DONT_CARE_TEXT):
        text, care = DONT_CARE_TEXT, True  # "###" itself makes it don't-care
    coords = [v for xy in zip(xs, ys) for v in xy]
    return coords, text, care


def _is_record_start(head):
    return head.startswith(_RECORD_START)


def parse_totaltext_file(text, origin):
    """RawInstance per record of an original Total-Text file, Skip per malformed record."""
    records = []  # [first line number, joined text]
    for n, line in iter_lines(text):
        if _is_record_start(line.lstrip()) or not records:
            records.append([n, line.strip()])
        else:
            records[-1][1] += " " + line.strip()  # a wrapped coordinate list
    for n, record in records:
        where = f"{origin}, line {n}"
        try:
            yield RawInstance(where, *parse_totaltext_record(record))
        except ValueError as e:
            yield Skip(where, MALFORMED, f"{e}: {record!r}")


def _is_tt_poly(line):
    """Detection: a polygon line; true (evidence) when the polygon is not a quad."""
    coords, _, _ = parse_polygon_line(line)
    if len(coords) < 6:
        raise ValueError("fewer than 3 points")
    return len(coords) != 8  # evidence that the quads-only formats do not fit


register_format(
    "totaltext",
    "original `x: [[...]], y: [[...]], ornt: [...], transcriptions: [...]` (records may wrap "
    'over lines; transcription "#" -> "###")',
    parse_file=parse_totaltext_file,
    sniff=_is_record_start,
)
# The last comma field as text also reads IC15 quad lines, hence the rank after the ICDAR forms
# and, without a non-quad polygon, after IC15 itself.
register_format(
    "totaltext_poly",
    "`x1,y1,...,xn,yn,text` (text = last comma field; DAVAR evaluation zip)",
    parse_line=parse_totaltext_poly_line,
    check_line=_is_tt_poly,
    rank=40,
    needs_evidence=True,
)
