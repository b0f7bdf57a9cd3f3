"""Format detection from the content of an annotation file, folder or zip.

A format's sniffer (registry.py) names it from the start of the source or of a GT file alone
(a DAVAR JSON datalist starts with "{", an original Total-Text file with "x:"). Otherwise each
sampled line is tried against every line check; the first format, in rank order, that reads at
least 80 % of them wins; a format that needs evidence wins at its rank only when some line gave
it, and otherwise after every other format.

Files that cannot be read (not UTF-8, corrupt zip member) are passed over; when nothing else is
left, AnnotationError says which file and what is wrong. When no format fits, the ValueError
quotes the first line that no format reads, with its file and line number.
"""
import os

from . import registry
from .common import AnnotationError
from .polygon_lines import iter_lines
from .sources import gt_text, is_zip, iter_gt_files

_MAX_LINES = 2000
_MIN_SHARE = 0.8


def _accepts(check, line):
    try:
        return True, check(line)
    except ValueError:
        return False, None


def detect_format(path):
    """Name of the annotation format of `path` (see FORMATS); ValueError when it is unclear,
    AnnotationError (a ValueError) when no file of `path` can be read."""
    path = os.fspath(path)
    datalist_sniffers = registry.sniffers(datalist=True)
    if datalist_sniffers and os.path.isfile(path) and not is_zip(path):
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()
        for fmt in datalist_sniffers:
            if fmt.sniff(head):
                return fmt.name
    file_sniffers = registry.sniffers(datalist=False)
    files, _ = iter_gt_files(path)
    lines, sniffed, unreadable = [], None, None
    for gt in files:
        text, problem = gt_text(gt)
        if text is None:
            unreadable = unreadable or f"{gt.origin}: {problem}"
            continue
        file_lines = [(f"{gt.origin}, line {n}", line) for n, line in iter_lines(text)]
        if not file_lines:
            continue
        if sniffed is None:
            head = file_lines[0][1].lstrip()
            sniffed = next((fmt.name for fmt in file_sniffers if fmt.sniff(head)), None)
        lines.extend(file_lines)
        if len(lines) >= _MAX_LINES:
            break
    if not lines:
        if unreadable:
            raise AnnotationError(f"cannot detect the annotation format: {unreadable}")
        raise ValueError(
            f"cannot detect the annotation format of {path}: no annotation lines found "
            f"(pass fmt=, one of {', '.join(registry.names())})"
        )
    if sniffed is not None:
        return sniffed
    checked = registry.line_formats()
    accepted = {fmt.name: 0 for fmt in checked}
    evidence = {fmt.name: 0 for fmt in checked}
    unparsed = None  # (where, line) of the first line no format reads
    for where, line in lines:
        any_ok = False
        for fmt in checked:
            ok, result = _accepts(fmt.check_line, line)
            accepted[fmt.name] += ok
            evidence[fmt.name] += bool(ok and result)
            any_ok = any_ok or ok
        if not any_ok and unparsed is None:
            unparsed = (where, line)
    need = _MIN_SHARE * len(lines)
    deferred = []  # formats that read enough lines but lack evidence: tried last
    for fmt in checked:
        if accepted[fmt.name] >= need:
            if evidence[fmt.name] or not fmt.needs_evidence:
                return fmt.name
            deferred.append(fmt.name)
    if deferred:
        return deferred[0]
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
        f"pass fmt=, one of {', '.join(registry.names())}"
    )
