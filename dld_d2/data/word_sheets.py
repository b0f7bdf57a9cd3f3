"""Word sheets: the legible words of a text dataset cut out of their images and packed densely
into new images, with their polygons and transcriptions, as Detectron2 dicts.

A sheet holds several times the words of a scene, so a recognition warm-up on sheets
(`MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY`; docs/data.md, "Word sheets") sees more words per
backbone pass than joint training on the scenes: the analogue of the paper's pretraining of the
reader. Each word keeps its size (up to `max_height`), its polygon and `margin` pixels of its own
scene around its box; crops are packed in shelves (rows), tallest first, so a row wastes little
height.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .cache_folder import build_folder_once
from .image_io import read_image

__all__ = ["SheetSpec", "WordCrop", "cut_words", "default_root", "load_word_sheets", "pack_sheets"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SheetSpec:
    """How to cut and pack words. Every field changes the pixels (and the cache key)."""

    width: int = 853
    height: int = 480
    margin: int = 4  # px of the word's own scene kept around its box
    # Taller crops (large or steep words) are scaled down to this height: more words a sheet
    # (0 = every word at its own size).
    max_height: int = 64
    gap: int = 2  # px between packed crops
    fill: int = 127  # grey level between crops
    seed: int = 0  # order of the crops before packing

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class WordCrop:
    """One word cut out of its image: pixels (BGR), polygon(s) in crop coordinates, text."""

    image: np.ndarray
    polygons: list
    text: str
    source: str  # "<file_name>#<annotation index>", for error messages


def default_root() -> str:
    """`$DLD_D2_CACHE/word_sheets`, else `~/.cache/dld_d2/word_sheets` (beside the scenes)."""
    from .synthetic import default_root as scenes_root

    return os.path.join(os.path.dirname(scenes_root()), "word_sheets")


def cut_words(record: dict, spec: SheetSpec) -> list:
    """The legible words (`iscrowd` 0, with a text) of one dataset record as `WordCrop`s.

    A crop taller than spec.max_height, or larger than the sheet, is scaled down to fit, its
    polygon with it.
    """
    image = read_image(record["file_name"], format="BGR")
    h, w = image.shape[:2]
    crops = []
    for i, anno in enumerate(record.get("annotations", [])):
        text = anno.get("text", "")
        if anno.get("iscrowd", 0) or not text or text == "###":
            continue
        source = f"{record['file_name']}#{i}"
        try:
            polys = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in anno["segmentation"]]
            pts = np.concatenate(polys)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{record['file_name']}, annotation {i}: 'segmentation' is not a "
                             f"list of polygons [x0, y0, x1, y1, ...] ({e})") from None
        x0 = int(max(0, np.floor(pts[:, 0].min()) - spec.margin))
        y0 = int(max(0, np.floor(pts[:, 1].min()) - spec.margin))
        x1 = int(min(w, np.ceil(pts[:, 0].max()) + spec.margin))
        y1 = int(min(h, np.ceil(pts[:, 1].max()) + spec.margin))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        crop = image[y0:y1, x0:x1]
        polys = [p - [x0, y0] for p in polys]
        scale = min(1.0, spec.max_height / crop.shape[0] if spec.max_height else 1.0,
                    (spec.width - 2 * spec.gap) / crop.shape[1],
                    (spec.height - 2 * spec.gap) / crop.shape[0])
        if scale < 1.0:
            size = (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            polys = [p * scale for p in polys]
        crops.append(WordCrop(np.ascontiguousarray(crop), polys, text, source))
    return crops


def pack_sheets(crops: list, spec: SheetSpec) -> list:
    """Pack `crops` into sheets of spec.width × spec.height: a list of (BGR image, annotations).

    Shelf packing, tallest crops first: each row is as tall as its first crop; a crop that does
    not fit the row's remaining width opens a new row, one that does not fit the sheet's
    remaining height a new sheet. Every crop is placed (`cut_words` made each fit a sheet).
    """
    order = sorted(range(len(crops)), key=lambda i: -crops[i].image.shape[0])
    sheets = []
    x = y = row_h = 0
    for i in order:
        crop = crops[i]
        ch, cw = crop.image.shape[:2]
        if sheets and x + cw + spec.gap > spec.width:  # next row
            x, y, row_h = spec.gap, y + row_h + spec.gap, 0
        if not sheets or y + ch + spec.gap > spec.height:  # next sheet
            sheets.append((np.full((spec.height, spec.width, 3), spec.fill, np.uint8), []))
            x = y = spec.gap
            row_h = 0
        image, annos = sheets[-1]
        image[y:y + ch, x:x + cw] = crop.image
        polys = [p + [x, y] for p in crop.polygons]
        pts = np.concatenate(polys)
        annos.append({
            "bbox": [float(pts[:, 0].min()), float(pts[:, 1].min()),
                     float(pts[:, 0].max()), float(pts[:, 1].max())],
            "bbox_mode": 0,  # BoxMode.XYXY_ABS
            "segmentation": [[round(float(v), 2) for v in p.ravel()] for p in polys],
            "category_id": 0,
            "iscrowd": 0,
            "text": crop.text,
        })
        x += cw + spec.gap
        row_h = max(row_h, ch)
    return sheets


def load_word_sheets(source_name: str, records: list, root: str, spec: SheetSpec | None = None
                     ) -> list:
    """Detectron2 dicts of the word sheets of `records` (dataset `source_name`), built into
    `root` on first use and cached there.

    The cache folder is keyed by the spec and a hash of the records, so a changed dataset gets
    new sheets. Safe to call from several processes at once (one builds under a lock into a
    temporary folder renamed into place; the others wait and read it).
    """
    spec = spec or SheetSpec()
    blob = json.dumps([spec.key(), records], sort_keys=True, default=str).encode("utf-8")
    final = os.path.join(root, f"{source_name}-{hashlib.sha1(blob).hexdigest()[:12]}")
    build_folder_once(final, lambda tmp: _build(tmp, source_name, records, spec))
    with open(os.path.join(final, "index.json"), encoding="utf-8") as f:
        out = json.load(f)["records"]
    for r in out:
        r["file_name"] = os.path.join(final, r["file_name"])
    return out


def _build(folder: str, source_name: str, records: list, spec: SheetSpec) -> None:
    """Cut and pack the words of `records` into the empty `folder` (sheets, then index.json)."""
    crops = []
    for r in records:
        crops.extend(cut_words(r, spec))
    if not crops:
        raise ValueError(f"dataset {source_name!r} has no legible words (iscrowd 0, with a text) "
                         "to cut into word sheets")
    # Shuffled before the (stable) sort by height: rows of equal height mix the source images.
    perm = np.random.default_rng(spec.seed).permutation(len(crops))
    sheets = pack_sheets([crops[i] for i in perm], spec)
    os.makedirs(os.path.join(folder, "images"))
    out = []
    for i, (image, annos) in enumerate(sheets):
        rel = os.path.join("images", f"sheet_{i:06d}.png")
        if not cv2.imwrite(os.path.join(folder, rel), image, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
            raise OSError(f"could not write {os.path.join(folder, rel)}")
        out.append({"file_name": rel, "image_id": f"{source_name}_sheet_{i:06d}",
                    "height": spec.height, "width": spec.width, "annotations": annos})
    with open(os.path.join(folder, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"source": source_name, "spec": asdict(spec), "num_words": len(crops),
                   "records": out}, f)
    logger.info("Packed %d words of %s into %d word sheets in %s", len(crops), source_name,
                len(out), folder)
