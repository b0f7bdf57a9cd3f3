"""DAVAR JSON datalists (DLD_SPEC §5).

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
"""
import json
import os
from dataclasses import dataclass

from .common import MALFORMED, MALFORMED_ENTRY, RawInstance, Skip
from .polygon_lines import parse_numbers

COMMENT_KEY = "###"


@dataclass
class JsonImage:
    key: str  # image path relative to the image folder
    image_id: str
    origin: str
    height: object  # int or None
    width: object
    items: list  # RawInstance / Skip


def read_davar_json(path):
    """(list of JsonImage, list of Skip for entries that are not image records)."""
    with open(path, encoding="utf-8-sig") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a DAVAR datalist is a JSON object keyed by image path")
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


def _size(entry, name):
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} is {value!r}, expected a positive number")
    return int(value)


def _read_entry(key, entry, origin):
    if not isinstance(entry, dict):
        raise ValueError(
            f"expected an object with height, width, content_ann; got {type(entry).__name__}"
        )
    height, width = _size(entry, "height"), _size(entry, "width")
    ann = entry.get("content_ann") or {}
    if not isinstance(ann, dict):
        raise ValueError("content_ann is not an object")
    boxes = ann.get("bboxes") or []
    cares = ann.get("cares")
    texts = ann.get("texts")
    cares = [1] * len(boxes) if cares is None else cares
    texts = [""] * len(boxes) if texts is None else texts
    if not (len(boxes) == len(cares) == len(texts)):
        raise ValueError(
            f"content_ann lists differ in length: {len(boxes)} bboxes, {len(cares)} cares, "
            f"{len(texts)} texts"
        )
    items = []
    for i, (box, care, text) in enumerate(zip(boxes, cares, texts)):
        where = f"{origin}, instance {i}"
        coords = parse_numbers([str(v) for v in box]) if isinstance(box, list) else None
        if coords is None or len(coords) % 2 or not isinstance(text, str):
            detail = f"bbox {box!r} / text {text!r}: expected a flat polygon and a string"
            items.append(Skip(where, MALFORMED, detail))
            continue
        if len(coords) == 4:
            x0, y0, x1, y1 = coords
            coords = [x0, y0, x1, y0, x1, y1, x0, y1]
        items.append(RawInstance(where, coords, text, care=bool(care)))
    return JsonImage(key, "", origin, height, width, items)
