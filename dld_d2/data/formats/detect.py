"""Format detection from the content of an annotation file, folder or zip.

Each sampled line is tried against every line format; the first format, in order of how
distinctive its lines are, that reads at least 80 % of them wins:

    adet (",####")  >  ic13 box form  >  mlt17 (a known script field)  >  totaltext_poly
    (only if some polygon has other than 4 points)  >  ic15  >  totaltext_poly

The IC13 end-to-end quad form is line for line the IC15 form and is reported as "ic15" (both
parse it the same way). Files whose first line starts with "x:" are original Total-Text; a file
starting with "{" is a DAVAR JSON datalist.

Files that cannot be read (not UTF-8, corrupt zip member) are passed over; when nothing else is
left, AnnotationError says which file and what is wrong. When no format fits, the ValueError
quotes the first line that no format reads, with its file and line number.
"""
import os

from .common import FORMATS, AnnotationError
from .adet import parse_adet_line
from .icdar import MLT_SCRIPTS, parse_ic13_box, parse_ic15_line
from .polygon_lines import iter_lines, parse_polygon_line
from .sources import gt_text, is_zip, iter_gt_files

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
    """Name of the annotation format of `path` (see FORMATS); ValueError when it is unclear,
    AnnotationError (a ValueError) when no file of `path` can be read."""
    path = os.fspath(path)
    if os.path.isfile(path) and not is_zip(path):
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()
        if head.startswith("{"):
            return "davar_json"
    files, _ = iter_gt_files(path)
    lines, tt_original, unreadable = [], 0, None
    for gt in files:
        text, problem = gt_text(gt)
        if text is None:
            unreadable = unreadable or f"{gt.origin}: {problem}"
            continue
        file_lines = [(f"{gt.origin}, line {n}", line) for n, line in iter_lines(text)]
        if not file_lines:
            continue
        if file_lines[0][1].lstrip().startswith("x:"):
            tt_original += 1
        lines.extend(file_lines)
        if len(lines) >= _MAX_LINES:
            break
    if not lines:
        if unreadable:
            raise AnnotationError(f"cannot detect the annotation format: {unreadable}")
        raise ValueError(
            f"cannot detect the annotation format of {path}: no annotation lines found "
            f"(pass fmt=, one of {', '.join(FORMATS)})"
        )
    if tt_original:
        return "totaltext"
    accepted = {name: 0 for name in _CHECKS}
    tt_evidence = 0
    unparsed = None  # (where, line) of the first line no format reads
    for where, line in lines:
        any_ok = False
        for name, check in _CHECKS.items():
            ok, result = _accepts(check, line)
            accepted[name] += ok
            any_ok = any_ok or ok
            if ok and name == "totaltext_poly" and result:
                tt_evidence += 1
        if not any_ok and unparsed is None:
            unparsed = (where, line)
    need = _MIN_SHARE * len(lines)
    for name in ("adet", "ic13", "mlt17"):
        if accepted[name] >= need:
            return name
    if tt_evidence and accepted["totaltext_poly"] >= need:
        return "totaltext_poly"
    for name in ("ic15", "totaltext_poly"):
        if accepted[name] >= need:
            return name
    if unparsed is not None:
        where, line = unparsed
        culprit = f"first line in no supported format: {where}: {line!r}"
    else:  # every line fits some format, but none fits enough of them
        best = max(accepted, key=accepted.get)
        culprit = (
            f"lines of mixed formats; the most read by one format ({best}) is "
            f"{accepted[best]} of {len(lines)}"
        )
    raise ValueError(
        f"cannot detect the annotation format of {path} ({culprit}); "
        f"pass fmt=, one of {', '.join(FORMATS)}"
    )
