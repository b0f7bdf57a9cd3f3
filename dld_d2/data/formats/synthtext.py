"""SynthText (Gupta et al., CVPR 2016): `gt.mat`, converted once into a compact `.npz` datalist.

`gt.mat` (MATLAB v5) holds 1×N cell arrays, one cell per image:

    imnames  the image path relative to the SynthText folder, e.g. '8/ballet_106_0.jpg'
    wordBB   2×4×W word quadrilaterals: row 0 the x, row 1 the y of the 4 corners
             (2×4 without the third axis when the image has one word)
    txt      strings whose whitespace-separated tokens, in order, are the W words
    charBB   character boxes (not read)

Parsing the 858,750 cells takes minutes, so `tools/convert_synthtext.py GT_MAT OUT.npz` does it
once (`convert_gt_mat`) and the `synthtext` format reads the result. The .npz holds flat arrays
rather than JSON: 7 million quadrilaterals as one float32 array load in a second without
building a Python object per number, and it holds no pickled object. Each word is a 4-point
polygon and a care instance unless its text is "###". An image whose word count differs between
wordBB and txt is skipped at conversion and recorded in the .npz, so that each load counts it
again (malformed_entry) with its gt.mat index and name. The image sizes are read from the image
headers at conversion when the images are there (0 = unknown, read again when loading).
"""
import os
import zipfile

import numpy as np

from .common import (MALFORMED, MALFORMED_ENTRY, AnnotationError, DatalistImage, LoadReport, RawInstance,
                     Skip)
from .registry import register_format
from .sources import image_size

FORMAT_TAG = "dld_d2 synthtext v1"  # the .npz's `format` entry
CONVERT_COMMAND = "python tools/convert_synthtext.py {gt_mat} {out}"
_KEYS = ("format", "source", "names", "heights", "widths", "word_counts", "polygons", "words",
         "skipped")
_SEP, _FIELD = "\n", "\t"  # between names / words / skips; between a skip's where and detail


# -- gt.mat -> the .npz ---------------------------------------------------------------------------
def read_gt_mat(path):
    """(imnames, wordBB, txt) of a SynthText gt.mat, as flat object arrays of equal length.

    AnnotationError naming the file when it is not a MATLAB file, lacks one of the three cell
    arrays or when their lengths differ.
    """
    try:
        from scipy.io import loadmat
        from scipy.io.matlab import MatReadError
    except ImportError as e:
        raise ImportError(f"reading {path} needs scipy (pip install scipy): {e}") from None
    wanted = ("imnames", "wordBB", "txt")
    try:
        mat = loadmat(path, variable_names=wanted)  # charBB, the largest, is not read
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError) as e:
        # NotImplementedError: a v7.3 (HDF5) file, which loadmat does not read.
        raise AnnotationError(f"{path}: not a readable MATLAB v5 file ({e})") from None
    missing = [k for k in wanted if k not in mat]
    if missing:
        raise AnnotationError(f"{path}: no {', '.join(missing)} cell array; is this SynthText's "
                              "gt.mat?")
    cells = [np.ravel(mat[k]) for k in wanted]
    if len({len(c) for c in cells}) != 1:
        sizes = ", ".join(f"{k} {len(c)}" for k, c in zip(wanted, cells))
        raise AnnotationError(f"{path}: the cell arrays differ in length ({sizes})")
    return cells


def parse_gt_cell(imname, word_bb, txt):
    """(image path, W×8 float32 polygons x1,y1,...,x4,y4, W words) of one image's cells.

    ValueError, saying what is wrong, for cells of the wrong shape and when wordBB and txt
    disagree on the number of words.
    """
    names = [str(s) for s in np.ravel(imname)]
    if len(names) != 1 or not names[0].strip() or _SEP in names[0] or _FIELD in names[0]:
        raise ValueError(f"imnames cell {names!r} is not one image path")
    name = names[0].strip()
    boxes = np.asarray(word_bb)
    if boxes.shape == (2, 4):  # MATLAB drops the trailing axis of a 2×4×1 array
        boxes = boxes[:, :, None]
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 4) or not np.issubdtype(boxes.dtype, np.number):
        raise ValueError(f"wordBB is {boxes.dtype} of shape {boxes.shape}, expected 2×4×W "
                         "numbers")
    words = " ".join(str(s) for s in np.ravel(txt)).split()
    if len(words) != boxes.shape[2]:
        raise ValueError(f"{boxes.shape[2]} word boxes in wordBB but {len(words)} words in txt "
                         f"{_short(words)}")
    polygons = boxes.transpose(2, 1, 0).reshape(-1, 8).astype(np.float32)  # [word, corner, x|y]
    return name, polygons, words


def _short(words, n=8):
    return repr(words) if len(words) <= n else repr(words[:n])[:-1] + ", ...]"


def convert_gt_mat(gt_mat, out, image_root=None, progress=None, every=10000):
    """Write the .npz of SynthText's `gt_mat` to `out`; returns (LoadReport, words written).

    Image sizes come from the headers under `image_root` (default: gt.mat's folder) when the
    images are there. Bad cells are counted, logged and recorded (module docstring).
    `progress(done, total, words, report)` is called every `every` images and at the end. The
    file is written under a temporary name and renamed, so an interrupted conversion leaves none.
    """
    gt_mat, out = os.fspath(gt_mat), os.fspath(out)
    image_root = os.path.dirname(gt_mat) if image_root is None else os.fspath(image_root)
    imnames, word_bbs, txts = read_gt_mat(gt_mat)
    report = LoadReport(source=gt_mat, fmt="synthtext gt.mat")
    names, sizes, counts, polygons, words, skipped = [], [], [], [], [], []
    total = len(imnames)
    for i, cells in enumerate(zip(imnames, word_bbs, txts)):
        report.files += 1
        try:
            name, polys, image_words = parse_gt_cell(*cells)
        except ValueError as e:
            where = f"{gt_mat}, image {i} {_cell_name(cells[0])}"
            report.note("skipped", MALFORMED_ENTRY, where, str(e))
            skipped.append(f"{where}{_FIELD}{e}".replace(_SEP, " "))
        else:
            names.append(name)
            sizes.append(_header_size(os.path.join(image_root, name)))
            counts.append(len(image_words))
            polygons.append(polys)
            words.extend(image_words)
            report.images += 1
        if progress is not None and ((i + 1) % every == 0 or i + 1 == total):
            progress(i + 1, total, len(words), report)
    sizes = np.array(sizes, np.int32).reshape(-1, 2)
    arrays = {
        "format": np.array(FORMAT_TAG),
        "source": np.array(gt_mat),
        "names": _blob(names),
        "heights": sizes[:, 0],
        "widths": sizes[:, 1],
        "word_counts": np.array(counts, np.int32),
        "polygons": np.concatenate(polygons) if polygons else np.zeros((0, 8), np.float32),
        "words": _blob(words),
        "skipped": _blob(skipped),
    }
    tmp = out + ".partial"
    with open(tmp, "wb") as f:  # a file object: np.savez adds no ".npz" to the name
        np.savez(f, **arrays)
    os.replace(tmp, out)
    return report, len(words)


def _cell_name(imname):
    try:
        return repr(str(np.ravel(imname)[0]))
    except (IndexError, TypeError):
        return "(no name)"


def _header_size(path):
    """(height, width) from the image header, or (0, 0) when the image is missing or unreadable
    (the loader then skips it or reads the size itself)."""
    try:
        return image_size(path)
    except Exception:  # PIL raises several types for broken headers
        return 0, 0


def _blob(strings):
    return np.frombuffer(_SEP.join(strings).encode("utf-8"), np.uint8)


def _unblob(array):
    text = array.tobytes().decode("utf-8")
    return text.split(_SEP) if text else []


# -- the .npz -> images ---------------------------------------------------------------------------
def read_synthtext_npz(path):
    """(list of DatalistImage, list of Skip): the converted SynthText file `path`.

    AnnotationError naming the file when it is not a complete conversion (another .npz, a
    truncated one, gt.mat itself).
    """
    data = _open_npz(path)
    names, words = data["names"], data["words"]
    counts, polygons = data["word_counts"].astype(np.int64), data["polygons"]
    heights, widths = data["heights"], data["widths"]
    if not (len(names) == len(counts) == len(heights) == len(widths)
            and int(counts.sum()) == len(polygons) == len(words) and polygons.shape[1:] == (8,)):
        raise AnnotationError(
            f"{path}: inconsistent arrays ({len(names)} names, {len(counts)} word counts, "
            f"{int(counts.sum())} words counted, {len(polygons)} polygons, {len(words)} words); "
            f"convert {data['source']} again"
        )
    finite = np.isfinite(polygons).all(axis=1)
    coords = polygons.astype(np.float64).tolist()
    skips = []
    for entry in data["skipped"]:
        where, _, detail = entry.partition(_FIELD)
        skips.append(Skip(where, MALFORMED_ENTRY, f"{detail}; left out of {path}"))
    images, start = [], 0
    for name, n, height, width in zip(names, counts.tolist(), heights.tolist(), widths.tolist()):
        origin = f"{path}[{name!r}]"
        items = []
        for j in range(start, start + n):
            where = f"{origin}, word {j - start}"
            if finite[j]:
                items.append(RawInstance(where, coords[j], words[j]))
            else:
                items.append(Skip(where, MALFORMED, f"coordinates {coords[j]} are not finite"))
        start += n
        image_id = os.path.splitext(name)[0]  # keeps the folder: stems repeat across folders
        images.append(DatalistImage(name, image_id, origin, height or None, width or None, items))
    return images, skips


def _open_npz(path):
    """The arrays of the .npz `path`, its text blobs as lists of strings."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in _KEYS}
        for k in ("names", "words", "skipped"):
            data[k] = _unblob(data[k])  # UnicodeDecodeError is a ValueError
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise AnnotationError(
            f"{path}: not a SynthText file converted by tools/convert_synthtext.py ({e})"
        ) from None
    if str(data["format"]) != FORMAT_TAG:
        raise AnnotationError(f"{path}: format {str(data['format'])!r}, expected {FORMAT_TAG!r}")
    return data


def missing_conversion_message(gt_mat, out):
    """The error for a missing `out` when `gt_mat` is there: the command that makes it."""
    return (f"SynthText annotations not converted: {out} not found. Convert {gt_mat} once "
            f"with: {CONVERT_COMMAND.format(gt_mat=gt_mat, out=out)}")


register_format(
    "synthtext",
    "SynthText gt.mat converted by tools/convert_synthtext.py (.npz; not detected: give fmt=)",
    read_datalist=read_synthtext_npz,
)
