"""Format detection from the content of an annotation file, folder or zip.

Each sampled line is tried against every line format; the first format, in order of how
distinctive its lines are, that reads at least 80 % of them wins:

    adet (",####")  >  ic13 box form  >  mlt17 (a known script field)  >  totaltext_poly
    (only if some polygon has other than 4 points)  >  ic15  >  totaltext_poly

The IC13 end-to-end quad form is line for line the IC15 form and is reported as "ic15" (both
parse it the same way). Files whose first line starts with "x:" are original Total-Text; a file
starting with "{" is a DAVAR JSON datalist.
"""
import os
import zipfile

from .common import FORMATS
from .adet import parse_adet_line
from .icdar import MLT_SCRIPTS, parse_ic13_box, parse_ic15_line
from .polygon_lines import iter_lines, parse_polygon_line
from .sources import decode_text, iter_gt_files

_MAX_LINES = 2000
_MIN_SHARE = 0.8


def _is_mlt17(line):
    coords, extra, _ = parse_polygon_line(line, n_coords=8, n_extra=1)
    if extra[0] not in MLT_SCRIPTS:
        raise ValueError("not a script name")


def _is_tt_poly(line):
    coords, _, _ = parse_polygon_line(line)
    if len(coords) < 6:
        raise ValueError("fewer than 3 points")
    return len(coords) != 8  # evidence that the quads-only formats do not fit


def _is_ic13_box(line):
    try:
        parse_ic15_line(line)
    except ValueError:
        return parse_ic13_box(line)
    raise ValueError("a quad line")


_CHECKS = {
    "adet": parse_adet_line,
    "ic13": _is_ic13_box,
    "mlt17": _is_mlt17,
    "totaltext_poly": _is_tt_poly,
    "ic15": parse_ic15_line,
}


def _accepts(check, line):
    try:
        return True, check(line)
    except ValueError:
        return False, None


def detect_format(path):
    """Name of the annotation format of `path` (see FORMATS); ValueError when it is unclear."""
    path = os.fspath(path)
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()
        if head.startswith("{"):
            return "davar_json"
    files, _ = iter_gt_files(path)
    lines, tt_original, first = [], 0, None
    for gt in files:
        try:
            text = decode_text(gt.data)
        except UnicodeDecodeError:
            continue
        file_lines = [line for _, line in iter_lines(text)]
        if not file_lines:
            continue
        first = first or (gt.origin, file_lines[0])
        if file_lines[0].lstrip().startswith("x:"):
            tt_original += 1
        lines.extend(file_lines)
        if len(lines) >= _MAX_LINES:
            break
    if first is None:
        raise ValueError(
            f"cannot detect the annotation format of {path}: no annotation lines found "
            f"(pass fmt=, one of {', '.join(FORMATS)})"
        )
    if tt_original:
        return "totaltext"
    accepted = {name: 0 for name in _CHECKS}
    tt_evidence = 0
    for line in lines:
        for name, check in _CHECKS.items():
            ok, result = _accepts(check, line)
            accepted[name] += ok
            if ok and name == "totaltext_poly" and result:
                tt_evidence += 1
    need = _MIN_SHARE * len(lines)
    for name in ("adet", "ic13", "mlt17"):
        if accepted[name] >= need:
            return name
    if tt_evidence and accepted["totaltext_poly"] >= need:
        return "totaltext_poly"
    for name in ("ic15", "totaltext_poly"):
        if accepted[name] >= need:
            return name
    origin, line = first
    raise ValueError(
        f"cannot detect the annotation format of {path} (first line, {origin}: {line!r}); "
        f"pass fmt=, one of {', '.join(FORMATS)}"
    )

