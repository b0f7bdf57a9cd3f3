"""`load_annotations`: any supported source -> Detectron2 dataset dicts and a LoadReport."""
import os

from shapely.geometry import Polygon
from shapely.validation import make_valid

from . import common as c
from .detect import detect_format
from .polygon_lines import parse_line_file
from .registry import get_format
from .sources import ImageIndex, gt_text, image_id_from_gt_name, image_size, iter_gt_files


def load_annotations(path, fmt=None, image_root=None, max_text_len=32, *, strict=False, clip=True):
    """Read annotations into Detectron2 dataset dicts.

    Args:
        path: a GT file, a folder or zip of per-image GT files, or a datalist (DAVAR JSON).
        fmt: one of FORMATS, or None to detect it from the content.
        image_root: folder of the images. When given, each image must exist (else it is skipped,
            counted) and its size is read from its header; when None, file_name/height/width are
            None (a datalist keeps the height/width it gives).
        max_text_len: texts longer than this are don't-care (iscrowd=1); None for no limit.
        strict: raise AnnotationError at the first skip instead of counting it.
        clip: clip coordinates to the image when its size is known.
    Returns:
        (list of dataset dicts, LoadReport)
    Raises:
        AnnotationError: a zip whose directory cannot be read, a JSON datalist that does not
            parse, or skips that leave nothing (every GT file unreadable, every JSON entry or
            every instance malformed); a single unreadable file (not UTF-8, a corrupt zip member)
            or malformed entry among readable ones is a counted skip instead.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"annotations not found: {path}")
    if fmt is None:
        fmt = detect_format(path)
    spec = get_format(fmt)
    report = c.LoadReport(source=path, fmt=fmt)
    builder = _Builder(report, max_text_len, strict, clip)
    if spec.read_datalist is not None:
        dicts = _load_datalist(path, spec.read_datalist, image_root, builder)
    else:
        dicts = _load_gt_files(path, spec, image_root, builder)
    _raise_if_nothing_read(report, path, fmt)
    (c.logger.warning if report.skipped else c.logger.info)("%s", report.summary())
    return dicts, report


def _raise_if_nothing_read(report, path, fmt):
    """AnnotationError, quoting the first problem, when skips left nothing of a non-empty source:
    every GT file unreadable, every JSON entry malformed, or no instance parsed."""
    skipped = report.skipped
    checks = [
        # (reason, nothing left, what was not read, hint)
        (c.UNREADABLE_FILE, skipped[c.UNREADABLE_FILE] == report.files, "annotation file", ""),
        (c.MALFORMED_ENTRY, report.files == 0, "image entry", ""),
        (c.MALFORMED, report.care + report.dont_care == 0, "annotation", "; check the format"),
    ]
    for reason, nothing_left, what, hint in checks:
        if skipped[reason] and nothing_left:
            raise c.AnnotationError(
                f"no {what} in {path} could be read as {fmt!r} ({skipped[reason]} skipped as "
                f"{reason}; first: {report.examples[reason][0]}){hint}"
            )


def _load_gt_files(path, spec, image_root, builder):
    report = builder.report
    index = ImageIndex(image_root) if image_root is not None else None
    files, report.ignored_entries = iter_gt_files(path)
    dicts, matched = [], set()
    for gt in files:
        report.files += 1
        # The GT file is read before its image is looked up: an unreadable one always counts so.
        text, problem = gt_text(gt)
        if text is None:
            builder.skip(gt.origin, c.UNREADABLE_FILE, problem)
            continue
        image_id = image_id_from_gt_name(gt.name)
        file_name = height = width = None
        if index is not None:
            file_name = index.find(image_id)
            if file_name is None:
                builder.skip(gt.origin, c.MISSING_IMAGE, f"no image {image_id}.* in {image_root}")
                continue
            matched.add(image_id)
            try:
                height, width = image_size(file_name)
            except Exception as e:  # PIL raises several types for broken headers
                builder.skip(gt.origin, c.UNREADABLE_IMAGE, f"cannot read {file_name}: {e}")
                continue
        if spec.parse_file is not None:
            items = spec.parse_file(text, gt.origin)
        else:
            items = parse_line_file(text, gt.origin, spec.parse_line)
        dicts.append(builder.image_dict(file_name, image_id, height, width, items))
    if index is not None:
        report.unannotated_images = len(index.by_stem) - len(matched)
    return dicts


def _load_datalist(path, read_datalist, image_root, builder):
    images, bad_entries = read_datalist(path)
    for skip in bad_entries:
        builder.skip(skip.where, skip.reason, skip.detail)
    dicts = []
    for im in images:
        builder.report.files += 1
        file_name, height, width = None, im.height, im.width
        if image_root is not None:
            file_name = os.path.join(image_root, im.key)
            if not os.path.isfile(file_name):
                builder.skip(im.origin, c.MISSING_IMAGE, f"image {file_name} not found")
                continue
            if height is None or width is None:
                try:
                    height, width = image_size(file_name)
                except Exception as e:
                    builder.skip(im.origin, c.UNREADABLE_IMAGE, f"cannot read {file_name}: {e}")
                    continue
        dicts.append(builder.image_dict(file_name, im.image_id, height, width, im.items))
    return dicts


class _Builder:
    """Turns parsed instances into annotation dicts, applying the bad-input policy."""

    def __init__(self, report, max_text_len, strict, clip):
        self.report, self.max_text_len, self.strict, self.clip = report, max_text_len, strict, clip

    def skip(self, where, reason, detail):
        if self.strict:
            raise c.AnnotationError(f"{where}: {detail} ({reason})")
        self.report.note("skipped", reason, where, detail)

    def flag(self, where, reason, detail):
        self.report.note("flagged", reason, where, detail)

    def image_dict(self, file_name, image_id, height, width, items):
        annotations = []
        for item in items:
            if isinstance(item, c.Skip):
                self.skip(item.where, item.reason, item.detail)
                continue
            ann = self.annotation(item, height, width)
            if ann is not None:
                annotations.append(ann)
        self.report.images += 1
        return {
            "file_name": file_name,
            "image_id": image_id,
            "height": height,
            "width": width,
            "annotations": annotations,
        }

    def annotation(self, raw, height, width):
        coords = raw.coords
        if len(coords) < 6:
            self.skip(raw.where, c.TOO_FEW_POINTS, f"polygon of {len(coords) // 2} point(s)")
            return None
        area, valid = _area(coords)
        degenerate = area <= 0
        if degenerate:
            self.flag(raw.where, c.DEGENERATE, "zero-area polygon, kept as don't-care")
        elif not valid:
            # e.g. Total-Text img557 "evo": the official evaluation scores it as given.
            self.flag(raw.where, c.INVALID_KEPT, "self-intersecting polygon, kept as given")
        if self.clip and height is not None and width is not None:
            limits = (float(width), float(height))
            clipped = [min(max(v, 0.0), limits[i % 2]) for i, v in enumerate(coords)]
            if clipped != coords:
                detail = f"coordinates clipped to the {width}x{height} image"
                self.flag(raw.where, c.CLIPPED, detail)
                if not degenerate and _area(clipped)[0] <= 0:
                    # Care status is left as annotated; such an instance has an empty box,
                    # which Detectron2's training filters drop.
                    self.flag(raw.where, c.OUTSIDE_IMAGE, "polygon lies outside the image")
                coords = clipped
        text = raw.text
        if text == c.DONT_CARE_TEXT:
            reason = c.DC_MARKER
        elif not raw.care:
            reason = c.DC_FLAG
        elif self.max_text_len is not None and len(text) > self.max_text_len:
            reason = c.DC_TOO_LONG
        elif degenerate:
            reason = c.DC_DEGENERATE
        else:
            reason = None
        if reason is None:
            self.report.care += 1
        else:
            self.report.dont_care += 1
            self.report.dont_care_by_reason[reason] += 1
        xs, ys = coords[0::2], coords[1::2]
        return {
            "bbox": [min(xs), min(ys), max(xs), max(ys)],
            "bbox_mode": c.BOX_MODE_XYXY_ABS,
            "segmentation": [list(coords)],
            "category_id": 0,
            "iscrowd": int(reason is not None),
            "text": text,
        }


def _area(coords):
    """(area covered, shapely validity) of a flat polygon. Invalid rings are repaired before
    measuring, so a bow-tie counts its two lobes instead of cancelling them (shoelace area)."""
    poly = Polygon(list(zip(coords[0::2], coords[1::2])))
    valid = poly.is_valid
    return (poly.area if valid else make_valid(poly).area), valid
