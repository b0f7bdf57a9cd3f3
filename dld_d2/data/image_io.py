"""Image reading for the mapper and the tools (PIL + numpy; no Detectron2 needed).

`read_image(path, format)` returns what Detectron2's `detection_utils.read_image` returns for
8-bit images (HWC uint8 in "RGB", "BGR", "L" or another PIL mode; EXIF orientation applied), and
differs where that one goes wrong:

* the whole file is decoded here, so a truncated or corrupt file fails at once with an
  `UnreadableImageError` naming the file and saying what is wrong (not later, nameless, inside
  a conversion);
* 16-bit grayscale ("I;16*", "I": 16-bit PNG/TIFF) is scaled from 0..65535 to 0..255, where
  PIL's conversion to 8 bit clips every value above 255 to white.
"""
import functools
import struct
import zlib

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["UnreadableImageError", "read_image", "check_image_format"]

_EXIF_ORIENTATION = 0x0112
# EXIF orientation value → the transposition that shows the image upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Exceptions PIL raises on a missing, truncated or corrupt file (SyntaxError: broken PNG chunks).
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
    Image.DecompressionBombError,
)


class UnreadableImageError(OSError):
    """An image file that cannot be read or decoded; `file_name` and `reason` say which and why."""

    def __init__(self, file_name, reason):
        self.file_name = str(file_name)
        self.reason = reason
        super().__init__(f"unreadable image {self.file_name}: {reason}")

    def __reduce__(self):  # picklable across dataloader workers
        return type(self), (self.file_name, self.reason)


@functools.lru_cache(maxsize=None)
def check_image_format(format):
    """Raise ValueError unless `format` is None, "BGR" or a PIL mode (all give uint8 arrays)."""
    if format is None or format == "BGR":
        return
    try:
        Image.new(format, (1, 1))
    except (ValueError, TypeError):
        raise ValueError(
            f"image format {format!r} is not supported: use 'BGR', 'RGB', 'L' or another PIL mode"
        ) from None


def read_image(file_name, format=None):
    """Read an image file, fully decoded and upright (EXIF orientation), as an HWC array.

    Args:
        file_name: path of the image.
        format: "BGR", a PIL mode ("RGB", "L", ...) or None (the file's own mode, 16-bit
            grayscale scaled to "L").

    Returns:
        np.ndarray: uint8 (H, W, C) in `format` ((H, W, 1) for "L"; for None, PIL's own array).

    Raises:
        UnreadableImageError: the file is missing, not an image, truncated or corrupt.
    """
    check_image_format(format)
    image = _decode(file_name)
    image = _upright(image)
    if image.mode == "I" or image.mode.startswith("I;16"):
        image = _to_8bit(image)
    if format is not None:
        # PIL has no BGR mode: read RGB and reverse the channels.
        image = image.convert("RGB" if format == "BGR" else format)
    array = np.asarray(image)
    if format == "L":
        array = array[:, :, None]  # PIL drops the channel axis of single-channel images
    elif format == "BGR":
        array = array[:, :, ::-1]
    return array


def _decode(file_name):
    """The image with all its pixels decoded, or UnreadableImageError saying why not."""
    try:
        f = open(file_name, "rb")
    except OSError as e:  # missing, a folder, no permission
        raise UnreadableImageError(file_name, e.strerror or str(e)) from None
    try:
        with f:
            image = Image.open(f)
            image.load()  # decode now: opening alone reads only the header
        return image
    except UnidentifiedImageError:
        raise UnreadableImageError(file_name, "not an image file PIL can identify") from None
    except _DECODE_ERRORS as e:
        raise UnreadableImageError(
            file_name, f"cannot decode it ({type(e).__name__}: {e}); the file may be truncated "
            "or corrupt"
        ) from e


def _upright(image):
    """Apply the EXIF orientation tag, if any; an unreadable EXIF block is ignored."""
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # malformed EXIF data: keep the pixels as stored
        return image
    method = _UPRIGHT.get(orientation)
    return image if method is None else image.transpose(method)


def _to_8bit(image):
    """Scale a 16-bit grayscale image (0..65535, PIL modes "I;16*" / "I") to an "L" image;
    "I" values outside 0..65535 are clipped."""
    values = np.asarray(image).astype(np.int64)
    values = np.clip(values, 0, 65535)
    # round(v * 255 / 65535), in integers
    scaled = (values * 255 + 32767) // 65535
    return Image.fromarray(scaled.astype(np.uint8))  # 2-D uint8 → mode "L"
