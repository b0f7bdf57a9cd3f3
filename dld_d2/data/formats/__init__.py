"""Text-spotting annotation formats -> Detectron2 dataset dicts (no detectron2 needed).

    dicts, report = load_annotations("gt-icdar2015.zip", image_root="test_images")

Each dict: {"file_name": str|None, "image_id": str, "height": int|None, "width": int|None,
"annotations": [{"bbox": [x0, y0, x1, y1], "bbox_mode": BOX_MODE_XYXY_ABS, "segmentation":
[flat polygon, every point kept], "category_id": 0, "iscrowd": 0|1, "text": str}]}. Coordinates
are floats. `iscrowd=1` marks don't-care instances: text "###", a don't-care flag in the source,
text longer than `max_text_len`, zero-area polygon.

Formats (`fmt`): FORMATS, each registered with a one-line description, its parser and its
detection hooks by one `register_format` call in its module (icdar, totaltext, adet, cocotext,
davar_json, synthtext); registry.py says what a registration holds, docs/data.md describes the
formats. SynthText's gt.mat is read once by tools/convert_synthtext.py; `synthtext` reads the
result.

A source is one file, a folder of `*.txt` GT files, or a zip of them. `image_id` is the image
stem taken from the GT name (gt_img_12.txt -> img_12, gt_100.txt -> 100, poly_gt_img12.txt ->
img12, 0000012.txt -> 0000012); with `image_root`, the image is `<image_id>.<jpg|png|...>` there.

Bad input policy (every skip and flag is counted in the LoadReport and logged on the
"dld_d2.data" logger with file and line: the first 10 per reason one by one, then the summary):
    path missing                          FileNotFoundError naming it
    unknown `fmt`, undetectable format    ValueError listing the formats
    malformed line / JSON instance        skipped, counted (malformed_line); but when *nothing*
                                          in the source parses, AnnotationError naming the
                                          first bad file and line (the format is wrong)
    JSON entry that is not an image       skipped, counted (malformed_entry)
    polygon with < 3 points               skipped, counted (too_few_points)
    zero-area polygon                     kept as don't-care, flagged (degenerate): the official
                                          evaluation keeps such GT (IC13 gt_img_50 has one)
    self-intersecting polygon with area   kept as given, flagged (invalid_polygon_kept)
    coordinates outside a known image     clipped to [0, width] x [0, height], flagged
                                          (clipped; outside_image if nothing is left inside);
                                          the care status stays as annotated
    missing / unreadable image            image skipped, counted (missing_image,
                                          unreadable_image), only when image_root is given
    annotation file not UTF-8, corrupt    skipped, counted (unreadable_file) with the byte
    zip member (CRC / decompression)      offset and line, or `archive.zip[entry]`; when no
                                          annotation file can be read, AnnotationError
    truncated / unreadable zip            AnnotationError naming it
    JSON entry of wrong types (bboxes,    skipped, counted (malformed_entry); an instance whose
    cares, texts not lists; height or     care flag is not 0/1 or true/false is skipped,
    width not a finite number >= 1)       counted (malformed_line); when every entry is
                                          malformed, AnnotationError quoting the first
    coordinate that is not a finite       the line is malformed (inf, nan, 1e400)
    number
    empty annotation file                 kept: an image with annotations=[]
    non-*.txt entries of a folder/zip     ignored, counted (LoadReport.ignored_entries)
`strict=True` turns every skip into an AnnotationError naming the file and line.
"""
# Each format module registers its formats on import; this order is the order of FORMATS, and
# of the sniffers: cocotext's (a JSON object of COCO-Text keys) before davar_json's (any "{").
from . import icdar, totaltext, adet, cocotext, davar_json, synthtext  # noqa: F401  isort: skip
from . import registry
from .common import BOX_MODE_XYXY_ABS, DONT_CARE_TEXT, AnnotationError, LoadReport
from .detect import detect_format
from .loader import load_annotations
from .registry import AnnotationFormat, register_format, unregister_format
from .sources import image_id_from_gt_name

FORMATS = registry.names()  # the built-in formats

__all__ = [
    "BOX_MODE_XYXY_ABS",
    "DONT_CARE_TEXT",
    "FORMATS",
    "AnnotationError",
    "AnnotationFormat",
    "LoadReport",
    "detect_format",
    "image_id_from_gt_name",
    "load_annotations",
    "register_format",
    "unregister_format",
]
