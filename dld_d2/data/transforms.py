"""Text-safe training augmentations (docs/data.md, "Augmentations") as Detectron2 augmentations
and transforms.

They compose with Detectron2's `AugInput` / `AugmentationList` / `TransformList` machinery:

- `RandomColorJitter`: torchvision-style brightness and saturation jitter, channel-order aware.
- `TextSafeRandomCrop`: a random crop whose edges never cut a GT box; it reads the boxes from
  `AugInput.boxes`. Instances not fully inside the crop must be dropped by the caller
  (`TextSpottingDatasetMapper` does; `TextCropTransform.inside` tells which).
- `RandomTextRotation`: a rotation with the canvas expanded to hold the whole image, filled with
  the pixel mean; coordinates are rotated exactly.

`build_text_augmentation(cfg, is_train)` returns the list used by the mapper, ending with
Detectron2's `ResizeShortestEdge`.
"""
import math

import cv2
import numpy as np

from detectron2.data import transforms as T

__all__ = [
    "ColorJitterTransform",
    "RandomColorJitter",
    "TextCropTransform",
    "TextSafeRandomCrop",
    "TextRotationTransform",
    "RandomTextRotation",
    "build_text_augmentation",
]

# ITU-R 601 luma weights in RGB order: what PIL's "L" conversion (hence torchvision's
# adjust_saturation) uses.
_LUMA_RGB = np.array([0.299, 0.587, 0.114])


# -------------------------------------------------------------------------------------------------
# Colour jitter
# -------------------------------------------------------------------------------------------------
class ColorJitterTransform(T.Transform):
    """Brightness factor `brightness` then saturation factor `saturation` (torchvision semantics).

    Brightness blends with black (x·b); saturation blends with the luma image
    (s·x + (1 − s)·luma(x)). Both are linear, so they commute and are applied as one 3×3 colour
    matrix (one pass, saturating uint8 arithmetic) instead of two float round trips.
    """

    def __init__(self, brightness, saturation, luma_weights=None):
        """
        Args:
            brightness, saturation (float): factors; 1 keeps the image.
            luma_weights: 3 weights in the image's channel order, or None for a 1-channel image
                (saturation is then ignored).
        """
        super().__init__()
        if luma_weights is None:
            matrix = np.array([[brightness]], dtype=np.float64)
        else:
            luma = np.asarray(luma_weights, dtype=np.float64).reshape(1, 3)
            gray = np.ones((3, 1)) @ luma  # each output channel = luma of the input pixel
            matrix = brightness * (saturation * np.eye(3) + (1.0 - saturation) * gray)
        self.brightness, self.saturation, self.matrix = float(brightness), float(saturation), matrix

    def apply_image(self, img):
        if img.ndim == 3 and img.shape[2] != self.matrix.shape[0]:
            raise ValueError(
                f"ColorJitterTransform built for {self.matrix.shape[0]} channel(s), "
                f"got an image of shape {img.shape}"
            )
        if img.dtype == np.uint8:
            if self.matrix.shape[0] == 1:
                return cv2.convertScaleAbs(img, alpha=float(self.matrix[0, 0])).reshape(img.shape)
            # cv2.transform rounds and saturates to [0, 255] like the PIL path does.
            return cv2.transform(img, self.matrix)
        out = img.astype(np.float32) @ self.matrix.T.astype(np.float32)
        return out.reshape(img.shape)

    def apply_coords(self, coords):
        return coords

    def apply_segmentation(self, segmentation):
        return segmentation

    def inverse(self):
        return T.NoOpTransform()  # photometric: geometry is unchanged


class RandomColorJitter(T.Augmentation):
    """Uniformly drawn brightness and saturation factors (torchvision `ColorJitter` ranges).

    Detectron2's `RandomSaturation` assumes RGB input and `RandomBrightness` +
    `RandomSaturation` cost two float passes; this one follows `image_format`
    ("BGR", "RGB" or "L") and applies both factors in a single pass.
    """

    def __init__(self, brightness=(0.875, 1.125), saturation=(0.5, 1.5), image_format="BGR"):
        super().__init__()
        if image_format == "RGB":
            luma = _LUMA_RGB
        elif image_format == "BGR":
            luma = _LUMA_RGB[::-1].copy()
        elif image_format == "L":
            luma = None
        else:
            raise ValueError(
                f"RandomColorJitter supports INPUT.FORMAT 'BGR', 'RGB' or 'L', got {image_format!r}"
            )
        for name, rng in (("brightness", brightness), ("saturation", saturation)):
            if len(rng) != 2 or not 0 <= rng[0] <= rng[1]:
                raise ValueError(f"{name} range must be (min, max) with 0 <= min <= max, got {rng}")
        self._init(locals())
        self.luma = luma

    def get_transform(self, image):
        b = np.random.uniform(*self.brightness)
        s = np.random.uniform(*self.saturation)
        return ColorJitterTransform(b, s, self.luma)


# -------------------------------------------------------------------------------------------------
# Text-safe random crop
# -------------------------------------------------------------------------------------------------
class TextCropTransform(T.CropTransform):
    """`img[y0:y0+h, x0:x0+w]` for crops that never cut an instance.

    Unlike `CropTransform`, polygons are only shifted, never clipped: an instance is either
    fully inside the crop (kept whole) or must be dropped by the caller, see `inside`.
    """

    def apply_polygons(self, polygons):
        return [self.apply_coords(np.array(p, dtype=np.float64)) for p in polygons]

    def inside(self, boxes, eps=1e-6):
        """Boolean mask of the XYXY `boxes` (in pre-crop coordinates) fully inside the crop."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return (
            (boxes[:, 0] >= self.x0 - eps)
            & (boxes[:, 1] >= self.y0 - eps)
            & (boxes[:, 2] <= self.x0 + self.w + eps)
            & (boxes[:, 3] <= self.y0 + self.h + eps)
        )


def _free_edges(lo, hi, size, pad):
    """Integer edge positions in [-pad, size + pad] that cut no interval (lo_i, hi_i).

    An edge at integer e cuts an interval when lo < e < hi, i.e. e in [floor(lo)+1, ceil(hi)-1];
    edges on the boundary of a box are allowed (the box then lies fully on one side).
    """
    n = size + 2 * pad + 1  # index i <-> edge position i - pad
    first = np.clip(np.floor(lo).astype(np.int64) + 1 + pad, 0, n)
    last = np.clip(np.ceil(hi).astype(np.int64) + pad, 0, n)  # exclusive
    diff = np.zeros(n + 1, dtype=np.int64)
    valid = last > first
    np.add.at(diff, first[valid], 1)
    np.add.at(diff, last[valid], -1)
    covered = np.cumsum(diff[:-1]) > 0
    return np.flatnonzero(~covered) - pad


class TextSafeRandomCrop(T.Augmentation):
    """Random crop that never cuts a text box (DAVAR's `DavarRandomCrop`; docs/data.md, "Augmentations").

    Each crop edge is drawn from the rows/columns not covered by any GT box, in a search area
    extended by `search_extension` of the image size on each side (then clipped to the image,
    which makes crops flush with the border more likely); each side must be at least
    `min_size_ratio` of the image side, and the crop is accepted when at least one box lies fully
    inside. After `max_tries` rejections (or without boxes) the full image is kept.

    Input: `image` and `boxes` (N×4 XYXY_ABS) of the AugInput; give it the boxes of the instances
    that will be kept as training targets.
    """

    def __init__(self, min_size_ratio=0.1, max_tries=50, search_extension=0.1):
        super().__init__()
        if not 0 < min_size_ratio <= 1:
            raise ValueError(f"min_size_ratio must be in (0, 1], got {min_size_ratio}")
        if max_tries < 0:
            raise ValueError(f"max_tries must be >= 0, got {max_tries}")
        self._init(locals())

    def get_transform(self, image, boxes):
        h, w = image.shape[:2]
        boxes = np.zeros((0, 4)) if boxes is None else np.asarray(boxes, np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return T.NoOpTransform()
        pad_w, pad_h = int(w * self.search_extension), int(h * self.search_extension)
        xs = _free_edges(boxes[:, 0], boxes[:, 2], w, pad_w)
        ys = _free_edges(boxes[:, 1], boxes[:, 3], h, pad_h)
        if len(xs) == 0 or len(ys) == 0:
            return T.NoOpTransform()
        for _ in range(self.max_tries):
            x0, x1 = np.clip(np.sort(np.random.choice(xs, size=2)), 0, w)
            y0, y1 = np.clip(np.sort(np.random.choice(ys, size=2)), 0, h)
            if x1 - x0 < self.min_size_ratio * w or y1 - y0 < self.min_size_ratio * h:
                continue
            inside = (boxes[:, 0] >= x0) & (boxes[:, 1] >= y0)
            inside &= (boxes[:, 2] <= x1) & (boxes[:, 3] <= y1)
            if not inside.any():
                continue
            if (x0, y0, x1, y1) == (0, 0, w, h):
                return T.NoOpTransform()
            return TextCropTransform(
                int(x0), int(y0), int(x1 - x0), int(y1 - y0), orig_w=w, orig_h=h
            )
        return T.NoOpTransform()


# -------------------------------------------------------------------------------------------------
# Rotation with an expanded canvas
# -------------------------------------------------------------------------------------------------
class TextRotationTransform(T.Transform):
    """Rotate by `angle` degrees (counter-clockwise, cv2 convention) about the image centre, on a
    canvas just large enough to hold the whole rotated image.

    Differences from Detectron2's `RotationTransform(expand=True)`: the canvas size is rounded
    *up* (its `np.rint` can clip up to half a pixel at the corners), the border is filled with
    `fill` (the pixel mean, which is what a zero border in normalised space is in the original
    code) instead of black, and `apply_box` is not meant to be used for tight boxes — recompute
    boxes from the rotated polygons.
    """

    def __init__(self, h, w, angle, fill=(0.0, 0.0, 0.0), interp=cv2.INTER_LINEAR):
        super().__init__()
        rad = math.radians(angle)
        c, s = abs(math.cos(rad)), abs(math.sin(rad))
        # -1e-6: a 0°/90° rotation must not grow the canvas by a pixel through float noise.
        bound_w = max(1, int(math.ceil(w * c + h * s - 1e-6)))
        bound_h = max(1, int(math.ceil(w * s + h * c - 1e-6)))
        # Coordinates are continuous (pixel i spans [i, i+1)): rotate about (w/2, h/2), then move
        # that centre to the centre of the new canvas.
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
        matrix[:, 2] += (bound_w / 2.0 - w / 2.0, bound_h / 2.0 - h / 2.0)
        # cv2.warpAffine works on pixel centres (pixel i at i): conjugate by the half-pixel shift.
        image_matrix = matrix.copy()
        image_matrix[:, 2] += (matrix[:, :2] - np.eye(2)) @ np.array([0.5, 0.5])
        self.h, self.w, self.angle, self.interp = h, w, float(angle), interp
        self.fill = tuple(float(v) for v in np.atleast_1d(fill))
        self.bound_w, self.bound_h = bound_w, bound_h
        self.matrix, self.image_matrix = matrix, image_matrix

    def _border(self, img):
        channels = 1 if img.ndim == 2 else img.shape[2]
        fill = self.fill
        if channels == 1 and len(fill) > 1:
            fill = (float(np.mean(fill)),)
        if len(fill) == 1:
            fill = fill * max(channels, 1)
        if len(fill) != channels:
            raise ValueError(f"fill has {len(self.fill)} values for a {channels}-channel image")
        return fill

    def apply_image(self, img, interp=None):
        if img.shape[:2] != (self.h, self.w):
            raise ValueError(f"expected an image of size {(self.h, self.w)}, got {img.shape[:2]}")
        out = cv2.warpAffine(
            img, self.image_matrix, (self.bound_w, self.bound_h),
            flags=self.interp if interp is None else interp,
            borderMode=cv2.BORDER_CONSTANT, borderValue=self._border(img),
        )
        return out.reshape(out.shape[:2] + img.shape[2:])  # cv2 drops a trailing channel of 1

    def apply_coords(self, coords):
        coords = np.asarray(coords, dtype=np.float64)
        return coords @ self.matrix[:, :2].T + self.matrix[:, 2]

    def apply_segmentation(self, segmentation):
        out = cv2.warpAffine(
            segmentation, self.image_matrix, (self.bound_w, self.bound_h),
            flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )
        return out.reshape(out.shape[:2] + segmentation.shape[2:])


class RandomTextRotation(T.Augmentation):
    """Rotation by an angle uniform in [-max_angle, max_angle] degrees, on an expanded canvas."""

    def __init__(self, max_angle=15.0, fill=(0.0, 0.0, 0.0), interp=cv2.INTER_LINEAR):
        super().__init__()
        if max_angle < 0:
            raise ValueError(f"max_angle must be >= 0, got {max_angle}")
        self._init(locals())

    def get_transform(self, image):
        angle = np.random.uniform(-self.max_angle, self.max_angle) if self.max_angle > 0 else 0.0
        if angle == 0.0:
            return T.NoOpTransform()
        h, w = image.shape[:2]
        return TextRotationTransform(h, w, angle, fill=self.fill, interp=self.interp)


# -------------------------------------------------------------------------------------------------
def build_text_augmentation(cfg, is_train):
    """The augmentation list of `TextSpottingDatasetMapper`.

    Training: text-safe crop → colour jitter → rotation → multi-scale shortest-edge resize
    (INPUT.TEXT.* switches, INPUT.MIN_SIZE_TRAIN / MAX_SIZE_TRAIN / MIN_SIZE_TRAIN_SAMPLING).
    The reference code jitters before the crop; jitter is per-pixel and drawn independently, so applying it
    to the (smaller) crop gives the same distribution for less work. It stays before the
    rotation so that the border keeps the un-jittered pixel mean, as in the original code.
    Test: shortest-edge resize (INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST).

    Detectron2's INPUT.RANDOM_FLIP and INPUT.CROP are deliberately not used: a mirrored word
    no longer reads as its transcription, and a plain crop cuts words.
    """
    if not is_train:
        return [T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, "choice")]
    text = cfg.INPUT.TEXT
    augs = []
    if text.CROP.ENABLED:
        augs.append(TextSafeRandomCrop(text.CROP.MIN_SIZE_RATIO, text.CROP.MAX_TRIES))
    if text.COLOR_JITTER.ENABLED:
        augs.append(
            RandomColorJitter(
                tuple(text.COLOR_JITTER.BRIGHTNESS), tuple(text.COLOR_JITTER.SATURATION),
                image_format=cfg.INPUT.FORMAT,
            )
        )
    if text.ROTATE.ENABLED:
        augs.append(RandomTextRotation(text.ROTATE.MAX_ANGLE, fill=tuple(cfg.MODEL.PIXEL_MEAN)))
    augs.append(
        T.ResizeShortestEdge(
            cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN, cfg.INPUT.MIN_SIZE_TRAIN_SAMPLING
        )
    )
    return augs
