"""ICDAR line formats: IC13 (boxes and quads), IC15 (quads), MLT17 (quads + script)."""
import re

from .polygon_lines import parse_polygon_line
from .registry import register_format

# MLT17/19 script names (the field between the quad and the text); used by format detection.
MLT_SCRIPTS = frozenset(
    "Arabic Latin Chinese Japanese Korean Bangla Hindi Symbols Mixed None".split()
)

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
# IC13 box: `xmin ymin xmax ymax "text"` (training GT) or `xmin, ymin, xmax, ymax, "text"` (test
# GT); the separator after each number is a comma (spaces around it allowed) or spaces.
_SEP = r"(?:\s*,\s*|\s+)"
_IC13_BOX = re.compile(rf"\s*({_NUM}){_SEP}({_NUM}){_SEP}({_NUM}){_SEP}({_NUM}){_SEP}(.*)")
_QUOTED = re.compile(r'\s*"(.*)"\s*')


def parse_ic13_box(line):
    """(coords of the 4-point box TL,TR,BR,BL, text) of an IC13 box line; ValueError if not one.

    A quoted text is unquoted and unescaped (\\" and \\\\), as the RRC scripts do; it may hold
    spaces, commas and quotes.
    """
    m = _IC13_BOX.fullmatch(line)
    if m is None:
        raise ValueError('expected "xmin ymin xmax ymax text" (space or comma separated)')
    x0, y0, x1, y1 = (float(v) for v in m.groups()[:4])
    text = m.group(5)
    quoted = _QUOTED.fullmatch(text)
    if quoted:
        text = quoted.group(1).replace("\\\\", "\\").replace('\\"', '"')
    return [x0, y0, x1, y0, x1, y1, x0, y1], text


def parse_ic15_line(line):
    """`x1,y1,...,x4,y4,text`: the text is everything after the 8th comma (it may hold commas)."""
    coords, _, text = parse_polygon_line(line, n_coords=8)
    return coords, text


def parse_ic13_line(line):
    """IC13 box line (space or comma form, quoted text) or the end-to-end quad form (as IC15)."""
    try:
        return parse_ic15_line(line)
    except ValueError:
        pass
    try:
        return parse_ic13_box(line)
    except ValueError:
        raise ValueError(
            'expected "xmin ymin xmax ymax "text"", "xmin,ymin,xmax,ymax,"text"" or '
            '"x1,y1,...,x4,y4,text"'
        ) from None


def parse_mlt17_line(line):
    """`x1,y1,...,x4,y4,script,text`: the text is everything after the script (commas allowed)."""
    coords, _, text = parse_polygon_line(line, n_coords=8, n_extra=1)
    return coords, text


def _is_ic13_box(line):
    """Detection: an IC13 box line that is not also a quad line."""
    try:
        parse_ic15_line(line)
    except ValueError:
        return parse_ic13_box(line)
    raise ValueError("a quad line")


def _is_mlt17(line):
    """Detection: a quad line whose first text field is a known MLT script."""
    coords, extra, _ = parse_polygon_line(line, n_coords=8, n_extra=1)
    if extra[0] not in MLT_SCRIPTS:
        raise ValueError("not a script name")


# Detection ranks: the box form and the script field are distinctive, so they go before the
# generic polygon lines. The IC13 end-to-end quad form is line for line the IC15 form and is
# detected as "ic15" (both parse it the same way).
register_format(
    "ic13",
    '`xmin ymin xmax ymax "text"`, `xmin,ymin,xmax,ymax,"text"` (quoted text is unescaped) '
    "and the end-to-end quad form `x1,y1,...,x4,y4,text`",
    parse_line=parse_ic13_line,
    check_line=_is_ic13_box,
    rank=20,
)
register_format(
    "ic15",
    "`x1,y1,...,x4,y4,text` (text = everything after the 8th comma)",
    parse_line=parse_ic15_line,
    check_line=parse_ic15_line,
    rank=50,
)
register_format(
    "mlt17",
    "`x1,y1,...,x4,y4,script,text`",
    parse_line=parse_mlt17_line,
    check_line=_is_mlt17,
    rank=30,
)
