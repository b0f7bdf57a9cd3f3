"""COCO-Text v2 (`cocotext.v2.json`): word annotations of COCO train2014 images.

    {"anns": {"45346": {"mask": [x0, y0, x1, y1, ...], "bbox": [x, y, w, h], "utf8_string": "PIE",
                        "legibility": "legible", "language": "english",
                        "class": "machine printed", "image_id": 217925, "id": 45346, ...}, ...},
     "imgs": {"217925": {"file_name": "COCO_train2014_000000217925.jpg", "height": 480,
                         "width": 640, "set": "train", "id": 217925}, ...},
     "imgToAnns": {"217925": [45346, ...], ...}, "cats": {}, "info": {...}}

`cocotext` reads every image of `imgs`, `cocotext_train` and `cocotext_val` those whose `set` is
train or val (all are COCO train2014 images). An image's words are the `anns` whose `image_id`
is that image, in file order (`imgToAnns` indexes the same). The polygon is `mask`, or the box
`bbox` as 4 points when `mask` is missing or empty. A word is care only when legible and English:
`legibility` "illegible" and `language` other than "english" ("not english", "na", missing) are
don't-care (iscrowd=1), text kept as given. The image id is the file name's stem.

Types are checked, not coerced: an image whose file_name is not a string or whose height/width is
not a finite number >= 1 is a malformed entry; a word whose polygon is not a flat list of numbers,
whose utf8_string/language is not a string, whose legibility is neither value or whose image_id
is not in `imgs` is a malformed instance.
"""
import functools
import os
import re

from .common import (MALFORMED, MALFORMED_ENTRY, AnnotationError, DatalistImage, RawInstance, Skip,
                     image_size_field)
from .polygon_lines import parse_numbers
from .registry import register_format
from .sources import read_json_file

SETS = ("train", "val")
TABLES = ("anns", "imgs")  # the two objects read
_LEGIBILITY = {"legible": True, "illegible": False}
# A JSON object whose first key is one of COCO-Text's (a DAVAR datalist starts with an image path).
_HEAD = re.compile(r'\{\s*"(?:anns|imgs|imgToAnns|cats|info)"\s*:')


def read_cocotext(path, split=None):
    """(list of DatalistImage, list of Skip) of the images of set `split` (None: every image).

    AnnotationError when the file is not UTF-8 JSON or lacks the `anns` and `imgs` objects.
    """
    data = read_json_file(path)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), dict) for k in TABLES):
        raise AnnotationError(f"{path}: a COCO-Text v2 file is a JSON object with \"anns\" and "
                              "\"imgs\" objects")
    images, bad = {}, []
    for key, entry in data["imgs"].items():
        origin = f"{path}[imgs][{key!r}]"
        try:
            image = _read_image(entry, origin)
        except ValueError as e:
            bad.append(Skip(origin, MALFORMED_ENTRY, str(e)))
            continue
        if split is None or entry["set"] == split:
            images[key] = image
    for key, ann in data["anns"].items():
        where = f"{path}[anns][{key!r}]"
        if not isinstance(ann, dict):
            bad.append(Skip(where, MALFORMED, f"expected an object, got {type(ann).__name__}"))
            continue
        image_key = str(ann.get("image_id"))
        if image_key in images:
            images[image_key].items.append(_read_word(ann, where))
        elif image_key not in data["imgs"]:
            bad.append(Skip(where, MALFORMED, f"image_id {ann.get('image_id')!r} is not in imgs"))
        # else: a word of an image of the other set, or of a malformed image entry
    return list(images.values()), bad


def _read_image(entry, origin):
    if not isinstance(entry, dict):
        raise ValueError(f"expected an object with file_name, height, width, set; got "
                         f"{type(entry).__name__}")
    name = entry.get("file_name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"file_name is {name!r}, expected a file name")
    if entry.get("set") not in SETS:
        raise ValueError(f"set is {entry.get('set')!r}, expected one of {', '.join(SETS)}")
    image_id = os.path.splitext(os.path.basename(name))[0]
    return DatalistImage(name, image_id, origin, image_size_field(entry, "height"),
                         image_size_field(entry, "width"), [])


def _read_word(ann, where):
    """RawInstance of one `anns` entry, or Skip saying what is wrong."""
    text, language = ann.get("utf8_string", ""), ann.get("language", "na")
    legible = _LEGIBILITY.get(ann.get("legibility"))
    if legible is None:
        return Skip(where, MALFORMED, f"legibility {ann.get('legibility')!r}, expected "
                                      "'legible' or 'illegible'")
    if not isinstance(text, str) or not isinstance(language, str):
        return Skip(where, MALFORMED, f"utf8_string {text!r} / language {language!r}: expected "
                                      "strings")
    coords = _polygon(ann)
    if coords is None:
        return Skip(where, MALFORMED, f"mask {ann.get('mask')!r} / bbox {ann.get('bbox')!r}: "
                                      "expected a flat polygon or [x, y, w, h]")
    return RawInstance(where, coords, text, care=legible and language == "english")


def _polygon(ann):
    """The word's flat polygon (`mask`, else `bbox` as 4 points), or None when malformed."""
    mask, box = ann.get("mask"), ann.get("bbox")
    if mask:
        coords = _numbers(mask)
        return coords if coords is not None and len(coords) % 2 == 0 else None
    coords = _numbers(box)
    if coords is None or len(coords) != 4:
        return None
    x, y, w, h = coords
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def _numbers(values):
    return parse_numbers([str(v) for v in values]) if isinstance(values, list) else None


def _sniff(head):
    return _HEAD.match(head) is not None


# Registered before davar_json (formats/__init__.py): both datalists start with "{", and this
# sniffer is the narrower.
register_format(
    "cocotext",
    'COCO-Text v2 JSON (`anns`, `imgs`), every image; "illegible" or non-English -> don\'t-care',
    read_datalist=read_cocotext,
    sniff=_sniff,
)
for _split in SETS:
    register_format(
        f"cocotext_{_split}",
        f'COCO-Text v2 JSON, the images of set "{_split}" (not detected: give fmt=)',
        read_datalist=functools.partial(read_cocotext, split=_split),
    )
