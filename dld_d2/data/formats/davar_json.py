"""DAVAR JSON datalists (docs/data.md, "Annotation formats").

    {"###": "optional comment",
     "Images/Train/img11.jpg": {"height": 720, "width": 1280,
                                "content_ann": {"bboxes": [[x1, y1, ..., xn, yn], ...],
                                                "cares": [1, 0, ...],
                                                "texts": ["abc", "###", ...]}}}

Keys are image paths relative to the image folder. `bboxes` holds flat polygons; a 4-value box
[x0, y0, x1, y1] becomes the 4-point polygon TL, TR, BR, BL. `cares` defaults to all 1 and
`texts` to "" (a detection-only list); `labels` and `cbboxes` are ignored. An image without
`content_ann` (or with empty lists) has no text. The image id is the key's stem, or the key
without its extension when two keys share a stem.

Types are checked, not coerced: an entry whose height/width is not a finite number >= 1, whose
`content_ann` is not an object or whose bboxes/cares/texts is not a list (a missing or null key
takes its default) is a malformed entry; an instance whose care flag is not 0/1 or true/false
(a string such as "0", None, 0.5) is a malformed instance.
"""
import os
import reprlib

from .common import (MALFORMED, MALFORMED_ENTRY, AnnotationError, DatalistImage, RawInstance, Skip,
                     image_size_field)
from .polygon_lines import parse_numbers
from .registry import register_format
from .sources import read_json_file

COMMENT_KEY = "###"


def read_davar_json(path):
    """(list of DatalistImage, list of Skip for entries that are not image records).

    AnnotationError when the file is not UTF-8, not JSON, or not a JSON object.
    """
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: a DAVAR datalist is a JSON object keyed by image path")
    images, bad = [], []
    for key, entry in data.items():
        origin = f"{path}[{key!r}]"
        if key == COMMENT_KEY:
            continue
        try:
            images.append(_read_entry(key, entry, origin))
        except ValueError as e:
            bad.append(Skip(origin, MALFORMED_ENTRY, str(e)))
    stems = [os.path.splitext(os.path.basename(im.key))[0] for im in images]
    unique = len(set(stems)) == len(stems)
    for im, stem in zip(images, stems):
        im.image_id = stem if unique else os.path.splitext(im.key.replace(os.sep, "/"))[0]
    return images, bad


def _list(ann, name, default):
    """content_ann[name], which must be a list; `default` when it is missing or null."""
    value = ann.get(name)
    if value is None:
        return default
    if not isinstance(value, list):
        raise ValueError(
            f"content_ann {name} is {reprlib.repr(value)} ({type(value).__name__}), "
            "expected a list"
        )
    return value


def _care(flag):
    """The care flag as a bool (0/1, 0.0/1.0, true/false), or None for anything else."""
    if isinstance(flag, bool):
        return flag
    if isinstance(flag, (int, float)) and flag in (0, 1):
        return flag == 1
    return None


def _read_entry(key, entry, origin):
    if not isinstance(entry, dict):
        raise ValueError(
            f"expected an object with height, width, content_ann; got {type(entry).__name__}"
        )
    height, width = image_size_field(entry, "height"), image_size_field(entry, "width")
    ann = entry.get("content_ann")
    ann = {} if ann is None else ann
    if not isinstance(ann, dict):
        raise ValueError(f"content_ann is {reprlib.repr(ann)}, expected an object")
    boxes = _list(ann, "bboxes", [])
    cares = _list(ann, "cares", [1] * len(boxes))
    texts = _list(ann, "texts", [""] * len(boxes))
    if not (len(boxes) == len(cares) == len(texts)):
        raise ValueError(
            f"content_ann lists differ in length: {len(boxes)} bboxes, {len(cares)} cares, "
            f"{len(texts)} texts"
        )
    items = []
    for i, (box, flag, text) in enumerate(zip(boxes, cares, texts)):
        where = f"{origin}, instance {i}"
        coords = parse_numbers([str(v) for v in box]) if isinstance(box, list) else None
        if coords is None or len(coords) % 2 or not isinstance(text, str):
            detail = f"bbox {box!r} / text {text!r}: expected a flat polygon and a string"
            items.append(Skip(where, MALFORMED, detail))
            continue
        care = _care(flag)
        if care is None:
            detail = f"care flag {flag!r}: expected 0/1 or true/false"
            items.append(Skip(where, MALFORMED, detail))
            continue
        if len(coords) == 4:
            x0, y0, x1, y1 = coords
            coords = [x0, y0, x1, y0, x1, y1, x0, y1]
        items.append(RawInstance(where, coords, text, care=care))
    return DatalistImage(key, "", origin, height, width, items)


register_format(
    "davar_json",
    'DAVAR JSON datalist (docs/data.md, "Annotation formats")',
    read_datalist=read_davar_json,
    sniff=lambda head: head.startswith("{"),
)
