"""ICDAR-format zips: ground truth and submissions, read and written as the official scripts do.

Two line formats (docs/evaluation.md, "Ground truth" and "Submission format"):
  * ``davar``: ``x1,y1,...,xn,yn,text`` — split on every comma, the last field is the text
    (verbatim), the others are integers. Entries ``img_N.txt`` (IC13/IC15) or ``imgN.txt`` (TT).
  * ``adet``: ``x1,y1,...,xn,yn,####text`` — AdelaiDet/TESTR/DeepSolo; float coordinates, the text
    follows the literal ``,####`` (commas allowed), is stripped and unquoted. Entries ``%07d.txt``.

Zip entries are selected with the official file-name regexes, chosen from the GT zip's base name
(DAVAR ``script.py``). GT zips are read here, not with ``dld_d2.data.formats.load_annotations``,
because the scores depend on the official reader's exact semantics, which that training-data
loader deliberately changes: sample keys are the regex's group ('12', prefix match, non-matching
GT entries skipped) where the loader makes image stems ('img_12'); only '###' is don't-care,
whereas the loader also marks long texts (`max_text_len`) and zero-area polygons iscrowd, which
would change num_gt; malformed lines are errors, not counted skips; and GT and submissions share
one line parser, as in the official script. Dataset dicts from the loader (with
``max_text_len=None``) are scored through :func:`gt_from_dataset_dicts`.
"""
from __future__ import annotations

import codecs
import logging
import lzma
import math
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import shapely

from .protocol import DONT_CARE, Detection, GTInstance, as_points

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

# GT zip base name → (GT entry regex, prediction entry regex), as in DAVAR's script.py.
DAVAR_NAME_PATTERNS = {
    "gt-icdar2013.zip": (r"gt_img_([0-9]+).txt", r"img_([0-9]+).txt"),
    "gt-icdar2015.zip": (r"gt_img_([0-9]+).txt", r"img_([0-9]+).txt"),
    "total-text-gt.zip": (r"poly_gt_img([0-9]+).txt", r"img([0-9]+).txt"),
}
DEFAULT_NAME_PATTERNS = (r"([0-9]+).txt", r"([0-9]+).txt")
ADET_SEPARATOR = ",####"


class SubmissionFormatError(ValueError):
    """A zip entry or line that the official scripts would reject; names the file and line."""


def name_patterns(gt_path: PathLike) -> Tuple[str, str]:
    """(GT regex, prediction regex) chosen from the GT zip's base name (renaming it matters)."""
    return DAVAR_NAME_PATTERNS.get(Path(gt_path).name, DEFAULT_NAME_PATTERNS)


def decode_utf8(raw: bytes) -> str:
    """Decode UTF-8 (invalid bytes replaced) and drop one leading BOM, like rrc_evaluation_funcs."""
    text = codecs.decode(raw, "utf-8", "replace")
    return text[1:] if text.startswith("\ufeff") else text


# What zipfile raises on a damaged archive or member (bad CRC, broken deflate stream, truncated
# data, unsupported or encrypted entries, undecodable names): reported, never a traceback.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError)


def _open_zip(path: PathLike) -> zipfile.ZipFile:
    if not Path(path).is_file():
        raise FileNotFoundError(f"zip file not found: {path}")
    try:
        return zipfile.ZipFile(path, mode="r", allowZip64=True)
    except zipfile.BadZipFile as e:
        raise SubmissionFormatError(f"{path}: not a zip file, or a truncated one ({e})") from None
    except _ZIP_ERRORS as e:
        raise SubmissionFormatError(
            f"{path}: not a readable zip file, truncated or corrupt ({_describe(e)})") from None


def _read_entry(zf: zipfile.ZipFile, path: PathLike, name: str) -> bytes:
    """The entry's bytes; a corrupt member (CRC or compressed-data error) names the zip and entry."""
    try:
        return zf.read(name)
    except _ZIP_ERRORS as e:
        raise SubmissionFormatError(
            f"{path}:{name}: ZIP entry is corrupt and cannot be read ({_describe(e)})") from None


def _describe(e: BaseException) -> str:
    """'zlib.error: ...', 'BadZipFile: ...': the exception's type and message on one line."""
    kind = type(e).__name__
    if type(e).__module__ not in ("builtins", "zipfile"):
        kind = f"{type(e).__module__}.{kind}"
    return f"{kind}: {e}" if str(e) else kind


def read_zip_entries(path: PathLike, pattern: str = "", require_all: bool = False) -> Dict[str, Tuple[str, bytes]]:
    """Map sample key → (entry name, bytes) for entries whose name prefix-matches `pattern`.

    The key is the regex's first group. With `require_all`, a non-matching entry is an error
    (the official rule for submissions); otherwise it is skipped (the rule for GT).
    """
    out: Dict[str, Tuple[str, bytes]] = {}
    with _open_zip(path) as zf:
        for name in zf.namelist():
            key = name
            if pattern:
                m = re.match(pattern, name)
                if m is None:
                    if require_all:
                        raise SubmissionFormatError(
                            f"{path}: ZIP entry not valid: {name!r} (entries must match {pattern!r} "
                            f"at the zip root)")
                    continue
                if m.groups():
                    key = m.group(1)
            out[key] = (name, _read_entry(zf, path, name))  # duplicate keys: the later entry wins, as dict(pairs)
    return out


def _lines(text: str):
    """(1-based line number, line) of the non-empty lines, CRs removed (official get_values).

    Whitespace-only lines are skipped too (the official scripts crash on them).
    """
    for n, line in enumerate(text.split("\n"), start=1):
        line = line.replace("\r", "")
        if line.strip() != "":
            yield n, line


def parse_davar_lines(text: str, source: str = "<text>") -> List[Tuple[List[int], str]]:
    """Parse ``x1,y1,...,xn,yn,text`` lines: integer coordinates, last field is the text."""
    out = []
    for n, line in _lines(text):
        fields = line.split(",")
        try:
            points = [int(f) for f in fields[:-1]]
        except ValueError:
            bad = next(f for f in fields[:-1] if not _is_int(f))
            raise SubmissionFormatError(
                f"{source}: line {n}: coordinate {bad!r} is not an integer "
                f"(format: x1,y1,...,xn,yn,transcription without commas)") from None
        if len(points) % 2:
            raise SubmissionFormatError(f"{source}: line {n}: odd number of coordinates ({len(points)}); "
                                        f"does the transcription contain a comma?")
        _check_coordinates(points, fields[:-1], source, n)
        out.append((points, fields[-1]))
    return out


# Coordinates the scorer accepts: finite and within int32, the type the official scripts use.
COORD_MIN, COORD_MAX = -2**31, 2**31  # COORD_MIN <= v < COORD_MAX


def _check_coordinates(values: Sequence[float], fields: Sequence[str], source: str, n: int) -> None:
    """Reject NaN, inf and out-of-int32 coordinates at parse time, naming the file and line."""
    for v, f in zip(values, fields):
        if isinstance(v, float) and not math.isfinite(v):  # ints may exceed float range: range check
            raise SubmissionFormatError(
                f"{source}: line {n}: coordinate {f.strip()!r} is not a finite number (NaN and inf are not valid)")
        if not COORD_MIN <= v < COORD_MAX:
            raise SubmissionFormatError(
                f"{source}: line {n}: coordinate {f.strip()!r} is out of range: coordinates must lie in "
                f"[{COORD_MIN}, {COORD_MAX}) (int32, as in the official scripts)")


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def parse_adet_lines(text: str, source: str = "<text>") -> List[Tuple[List[float], str]]:
    """Parse AdelaiDet ``x1,y1,...,xn,yn,####text`` lines (float coordinates, stripped text)."""
    out = []
    for n, line in _lines(text):
        parts = line.strip().split(ADET_SEPARATOR)
        if len(parts) < 2:
            raise SubmissionFormatError(f"{source}: line {n}: missing the ',####' separator before the text")
        cors = parts[0].split(",")
        if len(cors) % 2:
            raise SubmissionFormatError(f"{source}: line {n}: odd number of coordinates ({len(cors)})")
        try:
            points = [float(c) for c in cors]
        except ValueError:
            raise SubmissionFormatError(f"{source}: line {n}: coordinates must be numbers: {parts[0]!r}") from None
        _check_coordinates(points, cors, source, n)
        rec = parts[1].strip()
        m = re.match(r'^\s*"(.*)"\s*$', rec)
        if m is not None:  # quoted transcription: unquote and unescape
            rec = m.group(1).replace("\\\\", "\\").replace('\\"', '"')
        out.append((points, rec))
    return out


_PARSERS = {"davar": parse_davar_lines, "adet": parse_adet_lines}


def sniff_line_format(text: str) -> str:
    """'adet' when every non-empty line carries the ',####' separator, else 'davar'."""
    lines = [ln for _, ln in _lines(text)]
    return "adet" if lines and all(ADET_SEPARATOR in ln for ln in lines) else "davar"


def _resolve_format(entries: Mapping[str, Tuple[str, bytes]], line_format: str) -> str:
    if line_format != "auto":
        if line_format not in _PARSERS:
            raise ValueError(f"line_format must be 'davar', 'adet' or 'auto', got {line_format!r}")
        return line_format
    for _, raw in entries.values():
        text = decode_utf8(raw)
        if text.strip():
            return sniff_line_format(text)
    return "davar"


def read_gt_zip(path: PathLike, line_format: str = "auto") -> Tuple[Dict[str, List[GTInstance]], str]:
    """Read an official GT zip → ({sample key: [GTInstance]}, line format used).

    Keys come from the GT regex chosen by the zip's base name; a transcription of exactly
    '###' is don't-care. With 'auto', DAVAR-named zips are 'davar' and others are sniffed.
    """
    gt_pattern, _ = name_patterns(path)
    entries = read_zip_entries(path, gt_pattern)
    if line_format == "auto" and Path(path).name in DAVAR_NAME_PATTERNS:
        line_format = "davar"
    fmt = _resolve_format(entries, line_format)
    parse = _PARSERS[fmt]
    gt = {}
    for key, (name, raw) in entries.items():
        gt[key] = [GTInstance(pts, text, text == DONT_CARE)
                   for pts, text in parse(decode_utf8(raw), f"{path}:{name}")]
    return gt, fmt


def read_submission_zip(path: PathLike, gt_path: Optional[PathLike] = None, line_format: str = "davar",
                        pattern: Optional[str] = None) -> Dict[str, List[Detection]]:
    """Read a submission zip → {sample key: [Detection]} (line order kept: it drives matching).

    Every entry must match the prediction regex (from `gt_path`'s base name, or `pattern`).
    """
    if pattern is None:
        pattern = name_patterns(gt_path)[1] if gt_path is not None else DEFAULT_NAME_PATTERNS[1]
    entries = read_zip_entries(path, pattern, require_all=True)
    parse = _PARSERS[_resolve_format(entries, line_format)]
    return {key: [Detection(pts, text) for pts, text in parse(decode_utf8(raw), f"{path}:{name}")]
            for key, (name, raw) in entries.items()}


def gt_from_dataset_dicts(dataset_dicts: Sequence[Mapping], key: str = "image_id") -> Dict[str, List[GTInstance]]:
    """Detectron2-style dataset dicts → {image key: [GTInstance]}; iscrowd=1 or '###' = don't-care.

    Uses the first polygon of ``segmentation`` (text instances have one); without a polygon,
    the box (``bbox_mode`` 0 = XYXY_ABS, 1 = XYWH_ABS) becomes a 4-point polygon.
    """
    gt = {}
    n_multi = 0
    for d in dataset_dicts:
        items = []
        for ann in d.get("annotations", ()):
            seg = ann.get("segmentation")
            if isinstance(seg, (list, tuple)) and seg and isinstance(seg[0], (list, tuple, np.ndarray)):
                n_multi += len(seg) > 1
                pts = list(seg[0])
            elif isinstance(seg, (list, tuple)) and seg:
                pts = list(seg)
            else:
                pts = _bbox_polygon(ann)
            text = str(ann.get("text", ""))
            items.append(GTInstance(pts, text, bool(ann.get("iscrowd", 0)) or text == DONT_CARE))
        gt[str(d[key])] = items
    if n_multi:
        logger.warning("%d GT instance(s) have several polygons; the first one is used", n_multi)
    return gt


def _bbox_polygon(ann: Mapping) -> List[float]:
    if "bbox" not in ann:
        raise ValueError(f"annotation has neither a polygon segmentation nor a bbox: {ann!r}")
    x0, y0, a, b = (float(v) for v in ann["bbox"])
    mode = int(ann.get("bbox_mode", 0))
    if mode == 1:  # XYWH_ABS
        a, b = x0 + a, y0 + b
    elif mode != 0:
        raise ValueError(f"unsupported bbox_mode {mode} (XYXY_ABS=0 or XYWH_ABS=1 expected)")
    return [x0, y0, a, y0, a, b, x0, b]


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def sanitize_polygon(points, invalid: str = "hull") -> Optional[np.ndarray]:
    """Integer polygon safe for the official scorers, or None when it must be dropped.

    Coordinates are truncated to int (DAVAR writers). Fewer than 3 points or zero area → None.
    A self-intersecting polygon is replaced by its convex hull (`invalid='hull'`; docs/evaluation.md, "Submission format")
    or dropped (`invalid='drop'`, AdelaiDet's rule) — Polygon3 would score it with a wrong area.
    """
    if invalid not in ("hull", "drop"):
        raise ValueError(f"invalid must be 'hull' or 'drop', got {invalid!r}")
    pts = np.trunc(as_points(points))
    if len(pts) < 3:
        return None
    poly = shapely.Polygon(pts)
    if poly.is_valid and poly.area > 0:
        return pts
    if invalid == "drop":
        return None
    hull = shapely.convex_hull(shapely.MultiPoint(pts))
    if not isinstance(hull, shapely.Polygon) or hull.area <= 0:
        return None
    return np.asarray(hull.exterior.coords)[:-1]


def entry_name(key, naming: str = "stem") -> str:
    """Zip entry name for an image: 'stem' → ``<key>.txt`` (``img_12.txt``, ``img12.txt``, as
    DAVAR's writers); 'adet' → ``%07d.txt`` of the key's number (for Total-Text that number
    must be the sorted-name index, see :func:`adet_totaltext_ids`)."""
    if naming == "stem":
        return f"{key}.txt"
    if naming == "adet":
        m = re.search(r"([0-9]+)$", str(key))
        if m is None:
            raise ValueError(f"AdelaiDet naming needs a numeric image key, got {key!r}")
        return f"{int(m.group(1)):07d}.txt"
    raise ValueError(f"naming must be 'stem' or 'adet', got {naming!r}")


def adet_totaltext_ids(image_names: Sequence[str]) -> Dict[str, int]:
    """AdelaiDet's Total-Text numbering: index of each name in the lexicographically sorted list."""
    return {name: i for i, name in enumerate(sorted(image_names))}


@dataclass
class WriteReport:
    """What :func:`write_submission_zip` changed, for logging."""

    num_images: int = 0
    num_written: int = 0
    num_dropped: int = 0  # degenerate or (with invalid='drop') self-intersecting polygons
    num_repaired: int = 0  # self-intersecting polygons replaced by their convex hull
    num_text_cleaned: int = 0  # transcriptions that lost commas or line breaks
    dropped: List[Tuple[str, int]] = field(default_factory=list)  # (image key, detection index)


def format_line(points: np.ndarray, text: str, line_format: str = "davar") -> str:
    """One submission line (integral coordinates written as integers)."""
    coords = ",".join(str(int(v)) if float(v).is_integer() else repr(float(v))
                      for v in np.asarray(points, dtype=np.float64).reshape(-1))
    if line_format == "adet":
        return f"{coords}{ADET_SEPARATOR}{text}"
    return f"{coords},{text}"


def clean_text(text: str, line_format: str = "davar") -> str:
    """Text as the scorer will read it back: line breaks removed; commas removed in the DAVAR
    format (its last-comma-field rule); surrounding spaces stripped in the AdelaiDet format."""
    text = ("" if text is None else str(text)).replace("\r", "").replace("\n", "")
    return text.replace(",", "") if line_format == "davar" else text.strip()


def prepare_predictions(predictions: Mapping[str, Sequence], invalid: str = "hull", sort_by_score: bool = True,
                        line_format: str = "davar") -> Tuple[Dict[str, List[Detection]], WriteReport]:
    """Predictions exactly as :func:`write_submission_zip` writes them (and the official scorer
    then reads them), for in-memory scoring that equals scoring the written zip.

    Items are (points, text) or (points, text, score). With scores and `sort_by_score`, items
    are ordered by descending score (stable), since matching is greedy in file order.
    Coordinates are truncated to integers; `invalid` is 'hull' or 'drop' (see
    :func:`sanitize_polygon`), or 'keep' to pass polygons through unchecked (re-writing an
    existing submission; AdelaiDet lines then keep float coordinates). Texts lose what would
    break a line (:func:`clean_text`). For the AdelaiDet format, polygons are oriented as its
    validator requires (shapely ``is_ccw`` False).
    """
    if invalid not in ("hull", "drop", "keep"):
        raise ValueError(f"invalid must be 'hull', 'drop' or 'keep', got {invalid!r}")
    report = WriteReport()
    out: Dict[str, List[Detection]] = {}
    for key, items in predictions.items():
        items = list(items)
        order = list(range(len(items)))
        if sort_by_score and items and all(len(it) > 2 and it[2] is not None for it in items):
            order.sort(key=lambda i: -float(items[i][2]))
        dets = []
        for i in order:
            pts, text = items[i][0], items[i][1]
            raw = as_points(pts)
            if invalid == "keep":
                poly = raw if line_format == "adet" else np.trunc(raw)
            else:
                raw = np.trunc(raw)
                poly = sanitize_polygon(raw, invalid)
                if poly is None:
                    report.num_dropped += 1
                    report.dropped.append((key, i))
                    continue
                if poly.shape != raw.shape or not np.array_equal(poly, raw):
                    report.num_repaired += 1
                if line_format == "adet" and shapely.LinearRing(poly).is_ccw:
                    poly = poly[::-1]  # AdelaiDet asserts `not is_ccw` on the raw numbers
            cleaned = clean_text(text, line_format)
            report.num_text_cleaned += cleaned != ("" if text is None else str(text))
            dets.append(Detection(poly, cleaned))
        out[key] = dets
        report.num_written += len(dets)
    return out, report


def write_submission_zip(path: PathLike, predictions: Mapping[str, Sequence], naming="stem",
                         invalid: str = "hull", sort_by_score: bool = True,
                         image_keys: Optional[Sequence[str]] = None,
                         line_format: Optional[str] = None) -> WriteReport:
    """Write a flat submission zip, one entry per image (empty entries for `image_keys` without
    predictions), after :func:`prepare_predictions`. Naming 'stem' (``<key>.txt``) writes the
    DAVAR format, 'adet' (``%07d.txt``) the ``,####`` format; a callable maps a key to its
    entry name (then `line_format` says which format, default 'davar').
    """
    if line_format is None:
        line_format = "adet" if naming == "adet" else "davar"
    name_of = naming if callable(naming) else (lambda k: entry_name(k, naming))
    prepared, report = prepare_predictions(predictions, invalid, sort_by_score, line_format)
    keys = list(prepared)
    if image_keys is not None:
        keys += [k for k in image_keys if k not in prepared]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in keys:
            lines = [format_line(d.points, d.text, line_format) for d in prepared.get(key, ())]
            zf.writestr(name_of(key), "".join(ln + "\n" for ln in lines))
            report.num_images += 1
    if report.num_dropped or report.num_repaired:
        logger.info("submission %s: %d polygon(s) dropped, %d repaired (convex hull)",
                    path, report.num_dropped, report.num_repaired)
    return report


def prediction_items(predictions):
    """{image id: [(polygon, text, score)]} of the evaluator's prediction records (the lines of
    text_predictions.json), as `prepare_predictions` and `write_submission_zip` take them."""
    return {
        p["image_id"]: [(x["polygon"], x["text"], x["score"]) for x in p["instances"]]
        for p in predictions
    }


__all__ = [
    "DAVAR_NAME_PATTERNS", "DEFAULT_NAME_PATTERNS", "SubmissionFormatError", "name_patterns",
    "decode_utf8", "read_zip_entries", "parse_davar_lines", "parse_adet_lines", "sniff_line_format",
    "read_gt_zip", "read_submission_zip", "gt_from_dataset_dicts", "sanitize_polygon", "entry_name",
    "adet_totaltext_ids", "WriteReport", "format_line", "clean_text", "prepare_predictions",
    "write_submission_zip", "prediction_items",
]

