"""Where annotations and images come from: a file, a folder or a zip of GT files; image lookup."""
import codecs
import json
import os
import re
import zipfile
import zlib
from dataclasses import dataclass

from .common import AnnotationError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
GT_EXTENSION = ".txt"
# GT file name prefixes in front of the image stem: gt_img_12 -> img_12 (IC13 test, IC15,
# MLT17), gt_100 -> 100 (IC13 train), poly_gt_img12 -> img12 (Total-Text).
_GT_PREFIX = re.compile(r"^(?:poly_gt_|gt_)")
_EXIF_ORIENTATION = 0x0112
# Zip signatures: local file header (a zip truncated from the end starts with it), empty archive.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# What reading a damaged member raises: BadZipFile (bad CRC, bad header), zlib.error (deflate),
# EOFError (bzip2/lzma stream cut short), OSError (bad bzip2 stream).
_CORRUPT_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


@dataclass
class GTFile:
    name: str  # the file's own name (no folder)
    origin: str  # how messages refer to it: "path" or "archive.zip[entry]"
    data: bytes
    problem: str = ""  # why `data` could not be read (a corrupt zip member); data is then b""


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
    A zip member that fails to decompress (bad CRC, damaged data) comes back with `problem` set,
    so the caller counts it and goes on with the other members; a `path` that looks like a zip
    (by name or signature) but whose directory cannot be read raises AnnotationError.
    """
    if os.path.isdir(path):
        names = sorted(
            (e.name for e in os.scandir(path) if e.is_file() and not e.name.startswith(".")),
            key=natural_key,
        )
        gt = [n for n in names if n.lower().endswith(GT_EXTENSION)]
        files = (GTFile(n, os.path.join(path, n), _read_bytes(os.path.join(path, n))) for n in gt)
        return files, len(names) - len(gt)
    if is_zip(path):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError) as e:
            raise AnnotationError(
                f"{path}: not a readable zip archive (truncated or corrupt: {e})"
            ) from None
        with zf:
            members = [
                i for i in zf.infolist()
                if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                and not os.path.basename(i.filename).startswith(".")
            ]
            members.sort(key=lambda i: natural_key(i.filename))
            gt = [i for i in members if i.filename.lower().endswith(GT_EXTENSION)]
            files = [_read_member(zf, i, f"{path}[{i.filename}]") for i in gt]
        return iter(files), len(members) - len(gt)
    return iter([GTFile(os.path.basename(path), path, _read_bytes(path))]), 0


def is_zip(path):
    """Whether the file `path` is, or is meant to be, a zip: readable as one, named *.zip, or
    starting with a zip signature (so a truncated archive is reported, not read as text)."""
    if not os.path.isfile(path):
        return False
    if path.lower().endswith(".zip") or zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as f:
        return f.read(4) in _ZIP_MAGIC


def _read_member(zf, info, origin):
    name = os.path.basename(info.filename)
    try:
        return GTFile(name, origin, zf.read(info))
    except _CORRUPT_MEMBER as e:
        return GTFile(name, origin, b"", f"corrupt (CRC / decompression error: {e})")
    except (NotImplementedError, RuntimeError) as e:  # unsupported compression, encrypted
        return GTFile(name, origin, b"", f"cannot be read from the archive ({e})")


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def gt_text(gt):
    """(text, "") of a GTFile, or (None, what is wrong): a corrupt zip member, or not UTF-8."""
    return (None, gt.problem) if gt.problem else decode_text(gt.data)


def decode_text(data):
    """(UTF-8 text without a leading BOM, ""), or (None, what is wrong) when `data` is not UTF-8:
    the message gives the byte, its offset in `data` and its line."""
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as e:
        # utf-8-sig reports offsets after the BOM it removed.
        offset = e.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        line = data.count(b"\n", 0, offset) + 1
        byte = data[offset:offset + 1]
        return None, (
            f"not UTF-8 text (byte 0x{byte.hex()} at offset {offset}, line {line}: {e.reason})"
        )


def read_json_file(path):
    """The parsed content of the UTF-8 JSON file `path`; AnnotationError naming the file (and
    the byte or line) when it is not UTF-8 or not JSON."""
    with open(path, "rb") as f:
        text, problem = decode_text(f.read())
    if text is None:
        raise AnnotationError(f"{path}: {problem}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}, line {e.lineno}: not valid JSON ({e.msg})") from None


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
