"""ICDAR end-to-end / word-spotting evaluation protocol (pure Python: numpy + shapely).

Re-implements the RRC "4.4 End-to-End" scoring as shipped by DAVAR-Lab-OCR
(`demo/text_spotting/evaluation/script.py`) and AdelaiDet (`text_eval_script.py`); see
docs/evaluation.md ("Matching and IoU" to "The DAVAR and AdelaiDet flavours"). The numbers equal
the official scripts' on the same input.

Geometry follows the Polygon3 (GPC) semantics the official scripts rely on:
  * coordinates are converted to int32 (truncation; DAVAR) or float32 (AdelaiDet TT/CTW);
  * area(P) = |shoelace area|, so a self-intersecting "bow-tie" has area ~0;
  * intersections use the even-odd fill of the contour (GPC's rule);
  * IoU = inter / (area(det) + area(gt) - inter), 0 when the union is exactly 0.
Polygons with fewer than 3 points (the official scripts crash on them) score as empty regions
with area 0: they never match, and they stay in the precision denominator.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import shapely

logger = logging.getLogger(__name__)

DONT_CARE = "###"
# E2E strip list. DAVAR's script.py adds a space to the RRC list; AdelaiDet keeps the RRC list.
SPECIAL_CHARACTERS_DAVAR = "!?.:,*\"()·[]/' "
SPECIAL_CHARACTERS_RRC = "!?.:,*\"()·[]/'"
# Word-spotting filter: allowed code-point ranges and explicit exclusions (docs/evaluation.md,
# "End-to-end and word spotting").
_WS_RANGES = ((ord("a"), ord("z")), (ord("A"), ord("Z")), (0x00C0, 0x01BF), (0x01C4, 0x027F),
              (0x0386, 0x03FF), (ord("-"), ord("-")))
_WS_NOT_ALLOWED = "×÷·"  # U+00D7, U+00F7, U+0387 (inside the ranges above)


# --------------------------------------------------------------------------------------------
# Configuration and instances
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtocolConfig:
    """Scoring parameters. Use :meth:`davar` or :meth:`adet` for the two official flavours."""

    iou_threshold: float = 0.5
    # None: tied to iou_threshold, as DAVAR's script.py does (-iou sets both). AdelaiDet: 0.5.
    area_precision_threshold: Optional[float] = None
    word_spotting: bool = False
    special_characters: str = SPECIAL_CHARACTERS_DAVAR
    min_length_care_word: int = 3
    coordinate_dtype: str = "int32"  # "int32" (DAVAR, truncating) or "float32" (AdelaiDet TT/CTW)
    # AdelaiDet computes detection-only numbers in a second pass whose don't-cares are only
    # '###' GTs; DAVAR reports them from the single pass (WS-filtered don't-cares in WS mode).
    separate_detection_pass: bool = False

    def __post_init__(self):
        if self.coordinate_dtype not in ("int32", "float32"):
            raise ValueError(f"coordinate_dtype must be 'int32' or 'float32', got {self.coordinate_dtype!r}")

    @property
    def area_threshold(self) -> float:
        """The don't-care area-precision constraint actually applied."""
        if self.area_precision_threshold is None:
            return self.iou_threshold
        return self.area_precision_threshold

    @classmethod
    def davar(cls, iou_threshold: float = 0.5, word_spotting: bool = False, **kw) -> "ProtocolConfig":
        """DAVAR-Lab-OCR `script.py` (the MANGO/DLD scripts pass iou 0.1, E2E mode)."""
        return cls(iou_threshold=iou_threshold, word_spotting=word_spotting, **kw)

    @classmethod
    def adet(cls, iou_threshold: float = 0.5, word_spotting: bool = False, **kw) -> "ProtocolConfig":
        """AdelaiDet/TESTR/DeepSolo `text_eval_script.py` (TT/CTW variant, `%07d` zips)."""
        kw.setdefault("area_precision_threshold", 0.5)
        kw.setdefault("special_characters", SPECIAL_CHARACTERS_RRC)
        kw.setdefault("coordinate_dtype", "float32")
        kw.setdefault("separate_detection_pass", True)
        return cls(iou_threshold=iou_threshold, word_spotting=word_spotting, **kw)


class UnknownImageError(KeyError):
    """Predictions for an image the ground truth does not have (the official scripts abort)."""

    def __str__(self):
        return str(self.args[0])


class GTInstance(NamedTuple):
    """One ground-truth line: polygon points (flat list or N×2), transcription, don't-care flag."""

    points: object
    text: str
    dont_care: bool = False


class Detection(NamedTuple):
    """One predicted line: polygon points (flat list or N×2) and transcription."""

    points: object
    text: str


def as_points(points) -> np.ndarray:
    """Return polygon points as a float64 (N, 2) array; accepts flat [x1, y1, ...] or N×2."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if arr.ndim == 1:
        if arr.size % 2:
            raise ValueError(f"odd number of polygon coordinates ({arr.size})")
        return arr.reshape(-1, 2)
    if arr.ndim == 2 and arr.shape[1] == 2:
        return arr
    raise ValueError(f"polygon points must be flat or N×2, got shape {arr.shape}")


# --------------------------------------------------------------------------------------------
# Geometry (Polygon3 semantics)
# --------------------------------------------------------------------------------------------
_EMPTY = shapely.Polygon()


def quantize_points(points, dtype: str = "int32") -> np.ndarray:
    """Convert coordinates the way the official scripts do (int32 truncation or float32)."""
    pts = as_points(points)
    if dtype == "int32":
        pts = np.trunc(pts)
        if pts.size and (pts.min() < -2**31 or pts.max() >= 2**31):
            raise ValueError("polygon coordinate out of int32 range")
        return pts
    return pts.astype(np.float32).astype(np.float64)


def polygon_area(points) -> float:
    """|shoelace area| of the contour (Polygon3's area(); ~0 for a symmetric bow-tie)."""
    pts = as_points(points)
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    twice = x[:-1] @ y[1:] - x[1:] @ y[:-1] + (x[-1] * y[0] - x[0] * y[-1])
    return float(abs(0.5 * twice))


def _inside_even_odd(pts: np.ndarray, x: float, y: float) -> bool:
    """Crossing-number test: odd number of edge crossings of a ray from (x, y) → inside."""
    xi, yi = pts[:, 0], pts[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    straddle = (yi > y) != (yj > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = (xj - xi) * (y - yi) / (yj - yi) + xi
    return bool(np.count_nonzero(straddle & (x < x_cross)) % 2)


def polygon_region(points):
    """Filled region of the contour under the even-odd rule (what GPC intersects).

    Valid simple polygons are returned as they are. Self-intersecting contours are split into
    the faces of their noded outline and the faces with odd winding parity are kept; degenerate
    contours (< 3 points, zero area) give an empty polygon.
    """
    return _region(as_points(points))[0]


def _region(pts: np.ndarray):
    """(region, is_simple) of an (N, 2) contour; see :func:`polygon_region`."""
    if len(pts) < 3:
        return _EMPTY, False
    poly = shapely.Polygon(pts)
    if poly.is_valid:
        return poly, True
    outline = shapely.union_all(shapely.LineString(np.vstack([pts, pts[:1]])))  # noded, dissolved
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(outline)))
    keep = [f for f in faces if _inside_even_odd(pts, *shapely.get_coordinates(shapely.point_on_surface(f))[0])]
    return (shapely.union_all(keep) if keep else _EMPTY), False


class PreparedPolygons:
    """Quantized polygons of one image with their Polygon3 areas and even-odd regions."""

    def __init__(self, polygons: Sequence, dtype: str = "int32"):
        self.points = [quantize_points(p, dtype) for p in polygons]
        self.areas = np.array([polygon_area(p) for p in self.points], dtype=np.float64)
        regions, simple = zip(*(_region(p) for p in self.points)) if self.points else ((), ())
        self.num_degenerate = sum(1 for p in self.points if len(p) < 3)
        # self-intersecting or zero-area contours with >= 3 points
        self.num_invalid = len(self.points) - sum(simple) - self.num_degenerate
        self.regions = np.array(regions, dtype=object) if regions else np.zeros(0, dtype=object)
        self.bounds = shapely.bounds(self.regions) if len(regions) else np.zeros((0, 4))

    def __len__(self):
        return len(self.points)


def intersection_matrix(a: PreparedPolygons, b: PreparedPolygons) -> np.ndarray:
    """Intersection areas (len(a) × len(b)); pairs whose boxes do not overlap are 0."""
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    if not len(a) or not len(b):
        return out
    ba, bb = a.bounds, b.bounds
    # NaN bounds (empty regions) compare False, so they never become candidates.
    cand = ((ba[:, None, 0] < bb[None, :, 2]) & (bb[None, :, 0] < ba[:, None, 2])
            & (ba[:, None, 1] < bb[None, :, 3]) & (bb[None, :, 1] < ba[:, None, 3]))
    ia, ib = np.nonzero(cand)
    if ia.size:
        try:
            out[ia, ib] = shapely.area(shapely.intersection(a.regions[ia], b.regions[ib]))
        except shapely.errors.GEOSException:  # pragma: no cover - robustness fallback
            for i, j in zip(ia, ib):
                try:
                    out[i, j] = shapely.intersection(a.regions[i], b.regions[j]).area
                except shapely.errors.GEOSException:
                    logger.warning("polygon intersection failed; counted as 0")
    return out


def iou_from_intersections(inter: np.ndarray, gt_areas: np.ndarray, det_areas: np.ndarray) -> np.ndarray:
    """IoU matrix (gt × det) as the scripts compute it: inter / (area_det + area_gt - inter)."""
    union = (det_areas[None, :] + gt_areas[:, None]) - inter
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union != 0)  # ZeroDivisionError → 0 in the scripts
    return iou


def iou_matrix(gt_polygons: Sequence, det_polygons: Sequence, dtype: str = "int32") -> np.ndarray:
    """IoU (gt × det) of two polygon lists under the official geometry."""
    g, d = PreparedPolygons(gt_polygons, dtype), PreparedPolygons(det_polygons, dtype)
    return iou_from_intersections(intersection_matrix(g, d), g.areas, d.areas)


# --------------------------------------------------------------------------------------------
# Transcriptions
# --------------------------------------------------------------------------------------------
def transcription_match(gt: str, det: str, special_characters: str = SPECIAL_CHARACTERS_DAVAR) -> bool:
    """E2E rule: det equals gt, or gt with ONE special character removed at either/both ends.

    Both strings are compared as given (callers upper-case them); the detection is never
    normalised. Matches ONLY_REMOVE_FIRST_LAST_CHARACTER=True of the official scripts.
    """
    if gt == det:
        return True
    if not gt:
        return False
    first, last = gt[0] in special_characters, gt[-1] in special_characters
    if first and gt[1:] == det:
        return True
    if last and gt[:-1] == det:
        return True
    return first and last and gt[1:-1] == det


def word_spotting_transform(text: str, special_characters: str = SPECIAL_CHARACTERS_RRC) -> str:
    """WS form of a GT word: drop final 's/'S, strip '-', special characters → spaces, trim."""
    if text[-2:] in ("'s", "'S"):
        text = text[:-2]
    text = text.strip("-")
    for ch in special_characters:
        text = text.replace(ch, " ")
    return text.strip()


def word_spotting_eligible(text: str, min_length: int = 3,
                           special_characters: str = SPECIAL_CHARACTERS_RRC) -> bool:
    """WS filter: one token, at least `min_length` characters, Latin letters or '-' only."""
    t = word_spotting_transform(text, special_characters)
    if " " in t or len(t) < min_length:
        return False
    for ch in t:
        if ch in _WS_NOT_ALLOWED:
            return False
        c = ord(ch)
        if not any(lo <= c <= hi for lo, hi in _WS_RANGES):
            return False
    return True


# --------------------------------------------------------------------------------------------
# Matching and metrics
# --------------------------------------------------------------------------------------------
def _prf(correct: int, num_gt: int, num_det: int) -> Tuple[float, float, float]:
    """Global P/R/H; any zero denominator gives 0 (as the scripts' summary does)."""
    r = correct / num_gt if num_gt else 0.0
    p = correct / num_det if num_det else 0.0
    h = 2 * r * p / (r + p) if (r + p) else 0.0
    return p, r, h


@dataclass
class ImageResult:
    """Per-image outcome of the protocol (indices refer to the input line order)."""

    num_gt: int
    num_det: int
    gt_dont_care: List[int]
    det_dont_care: List[int]
    pairs: List[Tuple[int, int, bool]]  # (gt index, det index, transcription correct)
    gt_texts: List[str]  # as compared (WS-transformed in WS mode)
    # Detection-only bookkeeping (differs from the above only with separate_detection_pass).
    det_only_num_gt_care: int = 0
    det_only_num_det_care: int = 0
    det_only_matched: int = 0
    # Predicted polygons scored with the degenerate/self-intersecting rules (for reporting).
    num_invalid_det: int = 0
    num_degenerate_det: int = 0

    @property
    def num_gt_care(self) -> int:
        return self.num_gt - len(self.gt_dont_care)

    @property
    def num_det_care(self) -> int:
        return self.num_det - len(self.det_dont_care)

    @property
    def det_matched(self) -> int:
        return len(self.pairs)

    @property
    def det_correct(self) -> int:
        return sum(1 for p in self.pairs if p[2])

    def metrics(self) -> Dict[str, float]:
        """Per-sample precision/recall/hmean as the scripts define them (R=1 with no care GT)."""
        if self.num_gt_care == 0:
            r, p = 1.0, (0.0 if self.num_det_care > 0 else 1.0)
        else:
            r = self.det_correct / self.num_gt_care
            p = self.det_correct / self.num_det_care if self.num_det_care else 0.0
        h = 2 * p * r / (p + r) if (p + r) else 0.0
        return {"precision": p, "recall": r, "hmean": h}


def _dont_care_detections(inter: np.ndarray, det_areas: np.ndarray, dc_gt: np.ndarray,
                          threshold: float) -> np.ndarray:
    """Detections with intersection/area(det) > threshold against any don't-care GT."""
    n_det = inter.shape[1]
    if not dc_gt.any() or n_det == 0:
        return np.zeros(n_det, dtype=bool)
    sub = inter[dc_gt]
    ratio = np.zeros_like(sub)
    np.divide(sub, det_areas[None, :], out=ratio, where=det_areas[None, :] != 0)
    return (ratio > threshold).any(axis=0)


def _greedy_match(iou: np.ndarray, gt_care: np.ndarray, det_care: np.ndarray,
                  threshold: float) -> List[Tuple[int, int]]:
    """GT-major, file-order, one-to-one matching with a strict IoU threshold."""
    ok = (iou > threshold) & gt_care[:, None] & det_care[None, :]
    taken = np.zeros(iou.shape[1], dtype=bool)
    pairs = []
    for g in np.flatnonzero(ok.any(axis=1)):
        cand = np.flatnonzero(ok[g] & ~taken)
        if cand.size:
            d = int(cand[0])
            taken[d] = True
            pairs.append((int(g), d))
    return pairs


def _as_gt(inst) -> Tuple[object, str, bool]:
    if isinstance(inst, Mapping):
        return inst["points"], inst["text"], bool(inst.get("dont_care", False))
    if len(inst) == 2:
        return inst[0], inst[1], False
    return inst[0], inst[1], bool(inst[2])


def _as_det(inst) -> Tuple[object, str]:
    if isinstance(inst, Mapping):
        return inst["points"], inst["text"]
    return inst[0], inst[1]


def evaluate_image(gts: Sequence, dets: Sequence, config: ProtocolConfig = ProtocolConfig()) -> ImageResult:
    """Score one image. `gts`: (points, text, dont_care) items; `dets`: (points, text) items.

    A GT is don't-care when flagged or when its text is exactly '###'; in WS mode also when it
    fails the word-spotting filter (then it is compared in its transformed form).
    """
    gts = [_as_gt(g) for g in gts]
    dets = [_as_det(d) for d in dets]
    n_gt, n_det = len(gts), len(dets)

    gt_texts, dc_base, dc = [], np.zeros(n_gt, bool), np.zeros(n_gt, bool)
    for i, (_, text, flag) in enumerate(gts):
        text = "" if text is None else str(text)
        dc_base[i] = dc[i] = flag or text == DONT_CARE
        if config.word_spotting and not dc[i]:
            if word_spotting_eligible(text, config.min_length_care_word, config.special_characters):
                text = word_spotting_transform(text, config.special_characters)
            else:
                dc[i] = True
        gt_texts.append(text)

    gpol = PreparedPolygons([g[0] for g in gts], config.coordinate_dtype)
    dpol = PreparedPolygons([d[0] for d in dets], config.coordinate_dtype)
    inter = intersection_matrix(gpol, dpol)
    iou = iou_from_intersections(inter, gpol.areas, dpol.areas)

    det_dc = _dont_care_detections(inter, dpol.areas, dc, config.area_threshold)
    matched = _greedy_match(iou, ~dc, ~det_dc, config.iou_threshold)
    pairs = []
    for g, d in matched:
        gt_t = gt_texts[g].upper()
        det_t = ("" if dets[d][1] is None else str(dets[d][1])).upper()
        if config.word_spotting:
            correct = gt_t == det_t
        else:
            correct = transcription_match(gt_t, det_t, config.special_characters)
        pairs.append((g, d, correct))

    result = ImageResult(n_gt, n_det, [int(i) for i in np.flatnonzero(dc)],
                         [int(i) for i in np.flatnonzero(det_dc)], pairs, gt_texts)
    if config.separate_detection_pass and (dc != dc_base).any():
        det_dc0 = _dont_care_detections(inter, dpol.areas, dc_base, config.area_threshold)
        matched0 = _greedy_match(iou, ~dc_base, ~det_dc0, config.iou_threshold)
        result.det_only_num_gt_care = int(n_gt - dc_base.sum())
        result.det_only_num_det_care = int(n_det - det_dc0.sum())
        result.det_only_matched = len(matched0)
    else:
        result.det_only_num_gt_care = result.num_gt_care
        result.det_only_num_det_care = result.num_det_care
        result.det_only_matched = result.det_matched
    result.num_invalid_det = dpol.num_invalid
    result.num_degenerate_det = dpol.num_degenerate
    return result


@dataclass
class EvaluationResult:
    """Micro-averaged totals over a test set, plus per-image results."""

    config: ProtocolConfig
    num_gt_care: int = 0
    num_det: int = 0  # every detection line, don't-care ones included (DAVAR's num_det)
    num_det_care: int = 0
    det_matched: int = 0
    det_correct: int = 0
    det_only_num_gt_care: int = 0
    det_only_num_det_care: int = 0
    det_only_matched: int = 0
    num_invalid_det: int = 0
    num_degenerate_det: int = 0
    per_image: Dict[str, ImageResult] = field(default_factory=dict)

    @property
    def detection(self) -> Dict[str, float]:
        p, r, h = _prf(self.det_only_matched, self.det_only_num_gt_care, self.det_only_num_det_care)
        return {"precision": p, "recall": r, "hmean": h}

    @property
    def spotting(self) -> Dict[str, float]:
        p, r, h = _prf(self.det_correct, self.num_gt_care, self.num_det_care)
        return {"precision": p, "recall": r, "hmean": h}

    def to_dict(self) -> Dict[str, object]:
        """Plain-data summary (metrics, counts, settings)."""
        c = self.config
        return {
            "detection": self.detection,
            "spotting": self.spotting,
            "counts": {
                "num_gt_care": self.num_gt_care, "num_det": self.num_det,
                "num_det_care": self.num_det_care, "det_matched": self.det_matched,
                "det_correct": self.det_correct,
                "det_only_num_gt_care": self.det_only_num_gt_care,
                "det_only_num_det_care": self.det_only_num_det_care,
                "det_only_matched": self.det_only_matched,
                "num_invalid_det": self.num_invalid_det,
                "num_degenerate_det": self.num_degenerate_det,
                "num_images": len(self.per_image),
            },
            "settings": {
                "mode": "ws" if c.word_spotting else "e2e", "iou_threshold": c.iou_threshold,
                "area_precision_threshold": c.area_threshold,
                "coordinate_dtype": c.coordinate_dtype,
                "special_characters": c.special_characters,
                "separate_detection_pass": c.separate_detection_pass,
            },
        }

    def summary_lines(self) -> List[str]:
        """The lines DAVAR's script.py prints (same spacing and rounding)."""
        def fmt(num: int, den: int) -> str:  # int 0 when the denominator is 0, as the script
            return repr(round(num / den, 4)) if den else "0"

        def fmt_h(p: float, r: float) -> str:
            return repr(round(2 * r * p / (r + p), 4)) if (r + p) else "0"

        dp, dr = self.detection["precision"], self.detection["recall"]
        sp, sr = self.spotting["precision"], self.spotting["recall"]
        return [
            f"num_gt, num_det:  {self.num_gt_care} {self.num_det}",
            "Origin:",
            f"det_recall:  {fmt(self.det_only_matched, self.det_only_num_gt_care)} "
            f"det_precision:  {fmt(self.det_only_matched, self.det_only_num_det_care)} "
            f"det_hmean:  {fmt_h(dp, dr)}",
            f"spot_recall:  {fmt(self.det_correct, self.num_gt_care)} "
            f"spot_precision:  {fmt(self.det_correct, self.num_det_care)} "
            f"spot_hmean:  {fmt_h(sp, sr)}",
        ]


def evaluate(gt: Mapping[str, Sequence], predictions: Mapping[str, Sequence],
             config: ProtocolConfig = ProtocolConfig()) -> EvaluationResult:
    """Score a test set: `gt` and `predictions` map an image key to its instances.

    Every GT image counts (missing predictions = no detections). A prediction key absent from
    the GT is an error, as in the official scripts.
    """
    unknown = [k for k in predictions if k not in gt]
    if unknown:
        raise UnknownImageError(f"{len(unknown)} prediction image(s) not present in the ground truth, "
                       f"e.g. {unknown[0]!r}")
    res = EvaluationResult(config=config)
    for key, gts in gt.items():
        r = evaluate_image(gts, predictions.get(key, ()), config)
        res.per_image[key] = r
        res.num_gt_care += r.num_gt_care
        res.num_det += r.num_det
        res.num_det_care += r.num_det_care
        res.det_matched += r.det_matched
        res.det_correct += r.det_correct
        res.det_only_num_gt_care += r.det_only_num_gt_care
        res.det_only_num_det_care += r.det_only_num_det_care
        res.det_only_matched += r.det_only_matched
        res.num_invalid_det += r.num_invalid_det
        res.num_degenerate_det += r.num_degenerate_det
    if res.num_invalid_det or res.num_degenerate_det:
        logger.warning("%d self-intersecting/zero-area and %d <3-point predicted polygons were scored "
                       "with Polygon3 semantics (see protocol docstring)",
                       res.num_invalid_det, res.num_degenerate_det)
    return res


__all__ = [
    "DONT_CARE", "SPECIAL_CHARACTERS_DAVAR", "SPECIAL_CHARACTERS_RRC", "ProtocolConfig", "UnknownImageError",
    "GTInstance", "Detection", "as_points", "quantize_points", "polygon_area", "polygon_region",
    "PreparedPolygons", "intersection_matrix", "iou_from_intersections", "iou_matrix",
    "transcription_match", "word_spotting_transform", "word_spotting_eligible", "ImageResult",
    "EvaluationResult", "evaluate_image", "evaluate",
]
