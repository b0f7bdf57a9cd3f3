"""Where annotations and images come from: a file, a folder or a zip of GT files; image lookup."""
import os
import re
import zipfile
from dataclasses import dataclass

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
GT_EXTENSION = ".txt"
# GT file name prefixes in front of the image stem: gt_img_12 -> img_12 (IC13 test, IC15,
# MLT17), gt_100 -> 100 (IC13 train), poly_gt_img12 -> img12 (Total-Text).
_GT_PREFIX = re.compile(r"^(?:poly_gt_|gt_)")
_EXIF_ORIENTATION = 0x0112


@dataclass
class GTFile:
    name: str  # the file's own name (no folder)
    origin: str  # how messages refer to it: "path" or "archive.zip[entry]"
    data: bytes


def natural_key(name):
    """Sort key that puts img_2 before img_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def image_id_from_gt_name(name):
    """Image stem of a GT file name: gt_img_12.txt -> img_12, poly_gt_img12.txt -> img12."""
    stem = os.path.splitext(os.path.basename(name))[0]
    return _GT_PREFIX.sub("", stem) or stem


def iter_gt_files(path):
    """GTFile per annotation file of `path` (a file, a folder or a zip), in natural order.

    Returns (files, ignored): folders and zips contribute their `*.txt` files (a folder is not
    searched recursively; zip members may sit in sub-folders); `ignored` counts the other entries.
    """
    if os.path.isdir(path):
        names = sorted(
            (e.name for e in os.scandir(path) if e.is_file() and not e.name.startswith(".")),
            key=natural_key,
        )
        gt = [n for n in names if n.lower().endswith(GT_EXTENSION)]
        files = (GTFile(n, os.path.join(path, n), _read_bytes(os.path.join(path, n))) for n in gt)
        return files, len(names) - len(gt)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            members = [
                i for i in zf.infolist()
                if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                and not os.path.basename(i.filename).startswith(".")
            ]
            members.sort(key=lambda i: natural_key(i.filename))
            gt = [i for i in members if i.filename.lower().endswith(GT_EXTENSION)]
            files = [
                GTFile(os.path.basename(i.filename), f"{path}[{i.filename}]", zf.read(i))
                for i in gt
            ]
        return iter(files), len(members) - len(gt)
    return iter([GTFile(os.path.basename(path), path, _read_bytes(path))]), 0


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def decode_text(data):
    """UTF-8 text without a leading BOM; UnicodeDecodeError if the bytes are not UTF-8."""
    return data.decode("utf-8-sig")


class ImageIndex:
    """Images of one folder by stem (scanned once), with their sizes read from the header."""

    def __init__(self, root):
        if not os.path.isdir(root):
            raise FileNotFoundError(f"image folder not found: {root}")
        self.root = root
        self.by_stem = {}
        for name in sorted(os.listdir(root), key=natural_key):
            stem, ext = os.path.splitext(name)
            if ext.lower() in IMAGE_EXTENSIONS:
                # On a stem clash (img_1.jpg and img_1.png) the first in sorted order wins.
                self.by_stem.setdefault(stem, os.path.join(root, name))

    def find(self, stem):
        return self.by_stem.get(stem)


def image_size(path):
    """(height, width) as Detectron2 will decode the image (EXIF rotation applied), header only.

    Raises OSError (or a PIL error) when the header cannot be read.
    """
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
        # Detectron2's read_image applies the EXIF orientation; 5-8 swap the two sides.
        if im.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):
            width, height = height, width
    return height, width
