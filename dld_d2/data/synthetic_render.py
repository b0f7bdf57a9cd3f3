"""Rendering of the synthetic text scenes (numpy, OpenCV, Pillow, shapely; no Detectron2).

Every image is a pure function of (spec, split, index, GENERATOR_VERSION): `render_image` seeds
its own generator from those, so images can be rendered in any order, in parallel or partially.

Geometry follows Detectron2: continuous coordinates where pixel (row i, column j) covers
[j, j+1) x [i, i+1) and has its centre at (j + 0.5, i + 0.5). OpenCV warps address pixel
centres by integer indices, hence the 0.5 shifts where warps are built.

Polygons are computed from the rendered word's own alpha, in the word's frame (a rotated frame
for straight text, polar coordinates around the arc centre for curved text), so that every pixel
with alpha >= POLY_ALPHA has its centre inside the polygon: tight by construction.
"""
from __future__ import annotations

import functools
import math
import os
import string
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry import Polygon

from .formats.common import BOX_MODE_XYXY_ABS

# Bump whenever a change alters any rendered pixel or annotation: it is part of the per-image
# seed and of the cache key, so old caches are never mixed with new renders.
GENERATOR_VERSION = 3

# Pixels of a word's alpha at or above POLY_ALPHA lie inside its polygon (by construction);
# INK_ALPHA defines the "ink" that tests check against the polygons.
POLY_ALPHA = 0.25
INK_ALPHA = 0.5

# Fonts shipped with matplotlib that cover all 95 characters (the cm*/STIXSiz*/Display fonts
# do not: TeX encodings or symbol-only).
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
)

CHARSET = Path(__file__).with_name("character_list.txt").read_text(encoding="utf-8").rstrip("\n")
SYMBOLS = "".join(c for c in CHARSET if not c.isalnum() and c != " ")

# Word lengths 2..12, mostly 3..8.
_LENGTHS = np.arange(2, 13)
_LENGTH_P = np.array([4, 12, 15, 15, 14, 12, 10, 7, 5, 3, 3], float)
_LENGTH_P /= _LENGTH_P.sum()
_STYLES = ("lower", "capital", "upper", "number", "mixed")
_STYLE_P = (0.30, 0.20, 0.18, 0.12, 0.20)

# Don't-care instances: illegible by size, blur or occlusion; labelled "###", iscrowd=1.
DONT_CARE_MODES = ("tiny", "blur", "occluded")
_DONT_CARE_P = (0.35, 0.35, 0.30)


# ----------------------------------------------------------------------------------------------
# Seeds and fonts


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of image `index` of `split`: independent of every other image."""
    split_code = zlib.crc32(split.encode("utf-8"))  # stable across runs (str hash is salted)
    entropy = [GENERATOR_VERSION, seed, split_code, index]
    return np.random.default_rng(np.random.SeedSequence(entropy))


@functools.lru_cache(maxsize=None)
def font_paths() -> tuple:
    """Absolute paths of the usable matplotlib fonts, in FONT_FILES order."""
    import matplotlib

    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    paths = tuple(p for p in (os.path.join(folder, f) for f in FONT_FILES) if os.path.isfile(p))
    if not paths:
        raise FileNotFoundError(f"No usable TrueType font found in {folder}")
    return paths


@functools.lru_cache(maxsize=512)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: identical output whether or not libraqm is installed.
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=None)
def cap_ratio(path: str) -> float:
    """Height of a capital 'H' per pixel of font size (to set sizes by cap height)."""
    x0, y0, x1, y1 = _font(path, 200).getbbox("H")
    return (y1 - y0) / 200.0


# ----------------------------------------------------------------------------------------------
# Words


def random_word(rng: np.random.Generator, length_range=(2, 12)) -> str:
    """A random word over the 95-character set, biased to letters and digits, mostly 3-8 long."""
    lo, hi = length_range
    mask = (_LENGTHS >= lo) & (_LENGTHS <= hi)
    p = _LENGTH_P * mask
    while True:
        n = int(rng.choice(_LENGTHS, p=p / p.sum()))
        style = _STYLES[rng.choice(len(_STYLES), p=_STYLE_P)]
        chars = _word_chars(rng, style, n)
        if n >= 5 and style in ("lower", "capital", "mixed") and rng.random() < 0.06:
            chars[int(rng.integers(2, n - 2))] = " "  # an inner space, never at the ends
        text = "".join(chars)
        # At least one letter or digit; never the don't-care label itself.
        if any(c.isalnum() for c in text) and text != "###":
            return text


# Pronounceable pseudo-words: the scenes' closed vocabulary (an invented language, so that no
# third-party word list ships with the package). Real scene text is mostly dictionary words, and
# a recognizer learns a language prior from them as it does from real ones.
_ONSETS = ("", "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t",
           "v", "w", "y", "z", "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl",
           "pr", "sc", "sh", "sk", "sl", "sm", "sn", "sp", "st", "str", "sw", "th", "tr", "wh")
_NUCLEI = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ee", "oa", "oo", "ou", "ie")
_CODAS = ("", "", "", "", "n", "r", "s", "t", "l", "m", "d", "ck", "nd", "nt", "ng", "st", "rt",
          "rn", "ll", "ss", "x")
_SYLLABLES_P = (0.5, 0.42, 0.08)  # 1, 2 or 3 syllables: mostly 3-8 letters


def _pseudo_word(rng: np.random.Generator) -> str:
    n = 1 + _choose(rng, _SYLLABLES_P)
    parts = []
    for _ in range(n):
        parts += [_ONSETS[rng.integers(len(_ONSETS))], _NUCLEI[rng.integers(len(_NUCLEI))],
                  _CODAS[rng.integers(len(_CODAS))]]
    return "".join(parts)


@functools.lru_cache(maxsize=8)
def pseudo_word_vocabulary(size: int, length_range=(2, 12)) -> tuple:
    """The `size` distinct lower-case pseudo-words of the synthetic scenes, in a fixed order.

    The same for every split and seed: train and test share a vocabulary, as real datasets
    share a language.
    """
    rng = np.random.default_rng(np.random.SeedSequence([GENERATOR_VERSION, 0x70C4B, size]))
    words, seen = [], set()
    lo, hi = length_range
    while len(words) < size:
        w = _pseudo_word(rng)
        if lo <= len(w) <= hi and w not in seen:
            seen.add(w)
            words.append(w)
    return tuple(words)


def sample_text(rng: np.random.Generator, vocabulary_size: int, p_vocabulary: float,
                length_range=(2, 12)) -> str:
    """A word of a scene: a vocabulary word (as lower, Capitalised or UPPER case) with
    probability `p_vocabulary`, else a random string (`random_word`: numbers, symbols, letters)."""
    if vocabulary_size > 0 and rng.random() < p_vocabulary:
        w = pseudo_word_vocabulary(vocabulary_size, tuple(length_range))[rng.integers(vocabulary_size)]
        case = _choose(rng, (0.4, 0.3, 0.3))
        return (w, w.capitalize(), w.upper())[case]
    return random_word(rng, length_range)


def _word_chars(rng, style: str, n: int) -> list:
    lower, upper, digits = string.ascii_lowercase, string.ascii_uppercase, string.digits

    def pick(alphabet, k):
        return [alphabet[i] for i in rng.integers(0, len(alphabet), k)]

    if style == "lower":
        return pick(lower, n)
    if style == "capital":
        return pick(upper, 1) + pick(lower, n - 1)
    if style == "upper":
        return pick(upper, n)
    if style == "number":  # prices, times, dates, percentages
        chars = pick(digits, n)
        if n >= 3 and rng.random() < 0.5:
            chars[int(rng.integers(1, n - 1))] = ".,:-/"[int(rng.integers(5))]
        if rng.random() < 0.2:
            chars[0 if rng.random() < 0.5 else -1] = "$%#+"[int(rng.integers(4))]
        return chars
    classes = (lower, upper, digits, SYMBOLS)
    which = rng.choice(4, size=n, p=(0.42, 0.25, 0.18, 0.15))
    return [classes[k][int(rng.integers(len(classes[k])))] for k in which]


def render_strip(text: str, font_path: str, size: int, pad: int = 2) -> np.ndarray:
    """Horizontal word alpha (float32 in [0, 1]) with `pad` empty pixels around the ink box."""
    font = _font(font_path, size)
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("L", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 0)
    ImageDraw.Draw(img).text((pad - x0, pad - y0), text, fill=255, font=font)
    return np.asarray(img, dtype=np.float32) / 255.0


# ----------------------------------------------------------------------------------------------
# Word geometry: a word patch is an alpha image plus the polygon (in patch coordinates)


@dataclass
class WordPatch:
    alpha: np.ndarray  # float32 (h, w) in [0, 1]
    polygon: np.ndarray  # (k, 2) float, continuous patch coordinates, top edge then bottom edge
    kind: str  # "horizontal" | "rotated" | "curved"
    height: float  # text height in the word's own frame (px)
    # straight words: (origin, e_u, e_v, (u0, u1), (v0, v1)) of the quad; used for occluders
    frame: tuple = field(default=None, repr=False)


def _ink_centres(alpha: np.ndarray, thr: float = POLY_ALPHA) -> np.ndarray:
    ys, xs = np.nonzero(alpha >= thr)
    return np.stack([xs + 0.5, ys + 0.5], axis=1)


def straight_patch(strip: np.ndarray, angle_deg: float, stretch: float = 1.0) -> WordPatch | None:
    """Rotate (counter-clockwise on screen) and stretch a strip; the quad is its tight ink box.

    Returns None when no pixel reaches POLY_ALPHA (nothing legible to enclose).
    """
    h, w = strip.shape
    th = math.radians(angle_deg)
    c, s = math.cos(th), math.sin(th)
    rot = np.array([[c, s], [-s, c]])  # y points down: +angle turns the text counter-clockwise
    A = rot @ np.diag([stretch, 1.0])
    centre = np.array([w // 2, h // 2], float)  # integer: angle 0 and stretch 1 is a pure shift
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) - centre
    tc = corners @ A.T
    lo = np.floor(tc.min(0)) - 1
    size = (np.ceil(tc.max(0)) + 1 - lo).astype(int)
    # continuous: p' = A (p - centre) - lo ; on pixel indices q = p - 0.5:
    t = A @ (np.array([0.5, 0.5]) - centre) - lo - 0.5
    M = np.hstack([A, t[:, None]])
    alpha = cv2.warpAffine(strip, M, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    origin = -lo  # image of the strip centre
    e_u, e_v = rot[:, 0], rot @ np.array([0.0, -1.0])  # reading direction, text "up"
    ink = _ink_centres(alpha)
    if len(ink) == 0:
        return None
    rel = ink - origin
    u, v = rel @ e_u, rel @ e_v
    u0, u1, v0, v1 = u.min() - 0.5, u.max() + 0.5, v.min() - 0.5, v.max() + 0.5
    corners = ((u0, v1), (u1, v1), (u1, v0), (u0, v0))  # TL, TR, BR, BL in reading order
    quad = np.array([origin + a * e_u + b * e_v for a, b in corners])
    kind = "horizontal" if angle_deg == 0 else "rotated"
    return WordPatch(alpha, quad, kind, v1 - v0, frame=(origin, e_u, e_v, (u0, u1), (v0, v1)))


def curved_patch(
    strip: np.ndarray, radius: float, convex_up: bool, phi0: float = 0.0
) -> WordPatch | None:
    """Bend a strip along a circular arc (its middle line on `radius`), rotated by `phi0` rad.

    convex_up: text on top of the circle (a rainbow); else hanging under it (a smile).
    The polygon has 5-10 points per edge; its outer edge is made of tangents to the outer ink
    radius, so the chords never cut the glyphs.
    """
    h, w = strip.shape
    sig = 1.0 if convex_up else -1.0
    ym, span = h / 2.0, w / radius
    phi_start = phi0 - span / 2.0
    k = int(np.clip(math.ceil(span / 0.2) + 1, 5, 10))

    def fwd(x, y):  # strip coordinates -> coordinates relative to the arc centre
        phi, r = phi_start + x / radius, radius + sig * (ym - y)
        return np.stack([r * np.sin(phi), -sig * r * np.cos(phi)], axis=-1)

    xs = np.linspace(0, w, 64)
    r_max = radius + h / 2.0 + 1.0
    # include the polygon's possible tangent vertices beyond the outer radius
    outer = r_max / math.cos(span / (k - 1) / 2.0 + 0.05)
    bound = np.concatenate([
        fwd(xs, np.zeros_like(xs)), fwd(xs, np.full_like(xs, h)),
        fwd(xs, np.full_like(xs, ym - sig * (outer - radius))),
    ])
    lo = np.floor(bound.min(0)) - 2
    size = (np.ceil(bound.max(0)) + 2 - lo).astype(int)
    centre = -lo
    gx = np.arange(size[0], dtype=np.float32) + 0.5 - centre[0]
    gy = np.arange(size[1], dtype=np.float32) + 0.5 - centre[1]
    X, Y = np.meshgrid(gx, gy)
    r = np.hypot(X, Y)
    phi = np.arctan2(X, -sig * Y)
    map_x = ((phi - phi_start) * radius - 0.5).astype(np.float32)
    map_y = (ym - sig * (r - radius) - 0.5).astype(np.float32)
    alpha = cv2.remap(strip, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=0)

    ink = _ink_centres(alpha)
    if len(ink) == 0:
        return None
    rel = ink - centre
    rr = np.hypot(rel[:, 0], rel[:, 1])
    pp = np.arctan2(rel[:, 0], -sig * rel[:, 1])
    r_in, r_out = max(rr.min() - 0.5, 1.0), rr.max() + 0.5
    dphi = 0.5 / r_in  # half a pixel at the smallest radius
    phis = np.linspace(pp.min() - dphi, pp.max() + dphi, k)
    r_tangent = r_out / math.cos((phis[1] - phis[0]) / 2.0)

    def pts(rad, ph):
        return centre + np.stack([rad * np.sin(ph), -sig * rad * np.cos(ph)], axis=-1)

    top_r, bottom_r = (r_tangent, r_in) if convex_up else (r_in, r_tangent)
    poly = np.concatenate([pts(top_r, phis), pts(bottom_r, phis[::-1])])
    return WordPatch(alpha, poly, "curved", r_out - r_in)


def blur_patch(patch: WordPatch, sigma: float) -> WordPatch:
    """Heavily blurred copy (don't-care); the polygon stays that of the sharp word."""
    pad = int(math.ceil(3 * sigma))
    alpha = cv2.GaussianBlur(np.pad(patch.alpha, pad), (0, 0), sigma)
    return WordPatch(alpha, patch.polygon + pad, patch.kind, patch.height, frame=None)


# ----------------------------------------------------------------------------------------------
# Background


def _luma(rgb):
    """Luminance (BT.601) of one colour or of an (..., 3) array of colours."""
    return np.asarray(rgb, np.float64) @ np.array([0.299, 0.587, 0.114])


def _blend_mask(img: np.ndarray, x0: int, y0: int, mask: np.ndarray, color, opacity: float = 1.0):
    """Alpha-blend `color` into img through a uint8/float mask placed at (x0, y0), clipped."""
    H, W = img.shape[:2]
    h, w = mask.shape
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if xa >= xb or ya >= yb:
        return
    m = mask[ya - y0:yb - y0, xa - x0:xb - x0].astype(np.float32)
    if mask.dtype == np.uint8:
        m /= 255.0
    a = (m * opacity)[..., None]
    region = img[ya:yb, xa:xb]
    region *= 1.0 - a
    region += a * np.asarray(color, np.float32)


def _fill_poly_mask(points: np.ndarray, shift: int = 4):
    """Anti-aliased mask of a polygon given in continuous coordinates: (x0, y0, uint8 mask)."""
    x0, y0 = np.floor(points.min(0)).astype(int) - 1
    x1, y1 = np.ceil(points.max(0)).astype(int) + 1
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    # continuous -> pixel-index coordinates, fixed point with `shift` fractional bits
    q = np.round((points - [x0 + 0.5, y0 + 0.5]) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(mask, [q], 255, lineType=cv2.LINE_AA, shift=shift)
    return int(x0), int(y0), mask


def _random_color(rng) -> np.ndarray:
    return rng.uniform(0, 255, 3).astype(np.float32)


def render_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Cluttered background, float32 RGB: gradient, colour blotches, shapes, lines, stripes."""
    H, W = height, width
    c1, c2 = _random_color(rng), _random_color(rng)
    th = rng.uniform(0, 2 * math.pi)
    t = (np.arange(W, dtype=np.float32)[None, :] * math.cos(th)
         + np.arange(H, dtype=np.float32)[:, None] * math.sin(th))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    img = c1 + (c2 - c1) * t[..., None]

    cells = int(rng.integers(2, 9))
    low = rng.normal(0, 1, (cells, max(2, cells * W // H), 3)).astype(np.float32)
    img += cv2.resize(low, (W, H), interpolation=cv2.INTER_CUBIC) * rng.uniform(0, 45)

    for _ in range(int(rng.integers(2, 14))):
        _random_shape(rng, img)
    for _ in range(int(rng.integers(0, 10))):
        _random_line(rng, img)
    if rng.random() < 0.3:  # stripes / fabric-like texture
        th, period = rng.uniform(0, math.pi), rng.uniform(4, 40)
        phase = (np.arange(W, dtype=np.float32)[None, :] * math.cos(th)
                 + np.arange(H, dtype=np.float32)[:, None] * math.sin(th))
        img += (rng.uniform(5, 25) * np.sin(phase * (2 * math.pi / period)))[..., None]
    return np.clip(img, 0, 255)


def _random_shape(rng, img):
    H, W = img.shape[:2]
    cx, cy = rng.uniform(0, W), rng.uniform(0, H)
    size = rng.uniform(0.05, 0.5) * max(H, W)
    kind = rng.integers(3)
    if kind == 0:  # ellipse
        pts = cv2.ellipse2Poly((0, 0), (int(size / 2) + 1, int(rng.uniform(0.2, 1) * size / 2) + 1),
                               int(rng.integers(0, 180)), 0, 360, 8).astype(float)
    elif kind == 1:  # rectangle, possibly rotated
        a, b = size / 2, rng.uniform(0.1, 1) * size / 2
        ang = rng.uniform(0, math.pi)
        R = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        pts = np.array([[-a, -b], [a, -b], [a, b], [-a, b]]) @ R.T
    else:  # random polygon
        n = int(rng.integers(3, 7))
        ang = np.sort(rng.uniform(0, 2 * math.pi, n))
        rad = rng.uniform(0.3, 1.0, n) * size / 2
        pts = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
    x0, y0, mask = _fill_poly_mask(pts + [cx, cy])
    _blend_mask(img, x0, y0, mask, _random_color(rng), rng.uniform(0.25, 0.9))


def _random_line(rng, img):
    H, W = img.shape[:2]
    n = int(rng.integers(2, 5))
    pts = np.stack([rng.uniform(-0.1, 1.1, n) * W, rng.uniform(-0.1, 1.1, n) * H], axis=1)
    mask = np.zeros((H, W), np.uint8)
    cv2.polylines(mask, [np.round(pts).astype(np.int32)], False, 255,
                  thickness=int(rng.integers(1, 5)), lineType=cv2.LINE_AA)
    # a line touches few pixels: blend only those (a full-image blend costs 10x more)
    ys, xs = np.nonzero(mask)
    a = (mask[ys, xs].astype(np.float32) * (rng.uniform(0.3, 1.0) / 255.0))[:, None]
    img[ys, xs] = img[ys, xs] * (1.0 - a) + a * _random_color(rng)


def contrasting_color(rng, luma_lo: float, luma_hi: float, min_contrast: float = 80.0):
    """A random colour whose luminance is >= min_contrast below luma_lo or above luma_hi.

    [luma_lo, luma_hi] is the luminance range of the background behind the word, so the text
    contrasts with all of it. Returns None when neither side has room.
    """
    dark_ok, light_ok = luma_lo - min_contrast >= 0, luma_hi + min_contrast <= 255
    if not (dark_ok or light_ok):
        return None
    dark = dark_ok and (not light_ok or rng.random() < 0.5)
    if dark:
        target = rng.uniform(0, luma_lo - min_contrast)
    else:
        target = rng.uniform(luma_hi + min_contrast, 255)
    chroma = rng.uniform(-1, 1, 3) * rng.uniform(0, 90)
    chroma -= _luma(chroma)  # change the hue, not the luminance
    col = np.clip(target + chroma, 0, 255)
    if abs(_luma(col) - target) > 5:  # clipping moved the luminance: go grey
        col = np.full(3, target)
    return col.astype(np.float32)


def _luma_range(img: np.ndarray, polygon: np.ndarray):
    """5th and 95th percentiles of the background luminance inside a polygon."""
    x0, y0, mask = _fill_poly_mask(polygon)
    H, W = img.shape[:2]
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + mask.shape[1], W), min(y0 + mask.shape[0], H)
    region = img[ya:yb, xa:xb]
    inside = region[mask[ya - y0:yb - y0, xa - x0:xb - x0] > 0]
    lum = _luma(inside if len(inside) else region.reshape(-1, 3))
    return float(np.percentile(lum, 5)), float(np.percentile(lum, 95))


# ----------------------------------------------------------------------------------------------
# Scene


@dataclass
class RenderedImage:
    """One rendered scene: RGB image, its dataset record (no file_name) and per-instance alpha.

    alphas[k] = (x0, y0, float32 alpha patch) of annotation k, placed at (x0, y0) in the image;
    its "ink" is alpha >= INK_ALPHA, and every pixel with alpha >= POLY_ALPHA (before blur for
    blurred don't-care words) has its centre inside the polygon.
    """

    image: np.ndarray
    record: dict
    alphas: list


@dataclass
class _Word:
    patch: WordPatch
    text: str
    dont_care: str  # "" for care words, else one of DONT_CARE_MODES
    cap_height: float
    plate: bool


def _choose(rng, probs):
    p = np.asarray(probs, float)
    return int(rng.choice(len(p), p=p / p.sum()))


def _make_word(rng, spec, base_height: float, char_range) -> _Word | None:
    fonts = font_paths()
    dc = DONT_CARE_MODES[_choose(rng, _DONT_CARE_P)] if rng.random() < spec.p_dont_care else ""
    text = sample_text(rng, spec.vocabulary_size, spec.p_vocabulary, spec.word_length)
    font = fonts[int(rng.integers(len(fonts)))]
    cap_h = float(np.clip(base_height * rng.uniform(0.85, 1.2), *char_range))
    if dc == "tiny":
        cap_h = rng.uniform(3.5, 6.5)
    strip = render_strip(text, font, max(4, int(round(cap_h / cap_ratio(font)))))
    if strip.max() < INK_ALPHA:
        return None

    r = rng.random()
    if r < spec.p_curved and len(text) >= 4 and dc != "occluded":
        h, w = strip.shape
        span = rng.uniform(0.4, 1.4)  # arc angle (rad): gentle arcs, an axis-aligned crop still reads
        radius = max(w / span, 2.0 * h)  # never so tight that the glyphs fold
        patch = curved_patch(strip, radius, bool(rng.random() < 0.5), rng.uniform(-0.3, 0.3))
    else:
        r -= spec.p_curved
        if r < spec.p_rotated:
            angle = rng.uniform(-spec.max_angle, spec.max_angle)
        elif r < spec.p_rotated + spec.p_vertical:
            angle = rng.choice([-1.0, 1.0]) * rng.uniform(60, 90)
        else:
            angle = 0.0
        patch = straight_patch(strip, angle, rng.uniform(0.85, 1.15))
    if patch is None:
        return None
    if dc == "blur":
        patch = blur_patch(patch, rng.uniform(0.2, 0.35) * cap_h)
    return _Word(patch, text, dc, cap_h, plate=bool(rng.random() < spec.p_plate))


def _try_place(rng, word: _Word, shape, placed, tries: int = 12):
    """Integer offset putting the patch and polygon inside the image, away from other words."""
    H, W = shape
    ph, pw = word.patch.alpha.shape
    poly = word.patch.polygon
    pmin, pmax = poly.min(0), poly.max(0)
    x_lo, x_hi = max(0, math.ceil(1 - pmin[0])), min(W - pw, math.floor(W - 1 - pmax[0]))
    y_lo, y_hi = max(0, math.ceil(1 - pmin[1])), min(H - ph, math.floor(H - 1 - pmax[1]))
    if x_lo > x_hi or y_lo > y_hi:
        return None
    # Keep a gap between words (bigger around blurred ones, whose ink spreads, and plates).
    gap = 1.0 + 0.12 * word.patch.height
    if word.dont_care == "blur" or word.plate:
        gap += 0.5 * word.cap_height
    for _ in range(tries):
        ox, oy = int(rng.integers(x_lo, x_hi + 1)), int(rng.integers(y_lo, y_hi + 1))
        shape_ = Polygon(poly + [ox, oy])
        foot = shape_.buffer(gap)
        if not any(foot.intersects(other) for other in placed):
            return ox, oy, shape_, foot, gap
    return None


def _composite_word(rng, img, word: _Word, ox: int, oy: int, shape_, gap: float):
    alpha = word.patch.alpha
    ph, pw = alpha.shape
    polygon = word.patch.polygon + [ox, oy]
    lo, hi = _luma_range(img, polygon)
    color = None if word.plate else contrasting_color(rng, lo, hi)
    if color is None:  # a sign/label plate behind the text (also when the clutter is too busy)
        plate = np.asarray(shape_.buffer(0.8 * gap, join_style=2).exterior.coords)
        plate_color = _random_color(rng)
        x0, y0, mask = _fill_poly_mask(plate)
        _blend_mask(img, x0, y0, mask, plate_color, 1.0)
        lo = hi = float(_luma(plate_color))
        color = contrasting_color(rng, lo, hi)
    if rng.random() < 0.1:  # two-tone gradient along x
        color2 = contrasting_color(rng, lo, hi)
        tt = np.linspace(0, 1, pw, dtype=np.float32)[None, :, None]
        color = color + (color2 - color) * tt
    region = img[oy:oy + ph, ox:ox + pw]
    a = alpha[..., None]
    region *= 1.0 - a
    region += a * color
    if word.dont_care == "occluded":
        _occlude(rng, img, word, ox, oy)


def _occlude(rng, img, word: _Word, ox: int, oy: int):
    """Cover a 50-80% chunk of the word, along its reading direction, inside its quad."""
    origin, e_u, e_v, (u0, u1), (v0, v1) = word.patch.frame
    length = u1 - u0
    cover = rng.uniform(0.5, 0.8) * length
    ua = u0 + rng.uniform(0, length - cover)
    quad = np.array([origin + a * e_u + b * e_v
                     for a, b in ((ua, v1), (ua + cover, v1), (ua + cover, v0), (ua, v0))])
    x0, y0, mask = _fill_poly_mask(quad + [ox, oy])
    _blend_mask(img, x0, y0, mask, _random_color(rng), 1.0)


def render_image(spec, split: str, index: int) -> RenderedImage:
    """Render image `index` of `split` (a pure function of spec, split, index and the version)."""
    rng = image_rng(spec.seed, split, index)
    W, H = spec.image_sizes[int(rng.integers(len(spec.image_sizes)))]
    regime = spec.regimes[_choose(rng, [r.prob for r in spec.regimes])]
    lo, hi = regime.char_height
    # log-uniform base size for the image; words vary around it within the regime's band
    base = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    n_words = int(rng.integers(regime.words[0], regime.words[1] + 1))

    img = render_background(rng, H, W)
    placed, words, alphas = [], [], []
    for _ in range(6 * n_words):
        if len(words) >= n_words:
            break
        word = _make_word(rng, spec, base, regime.char_height)
        if word is None:
            continue
        spot = _try_place(rng, word, (H, W), placed)
        if spot is None:
            continue
        ox, oy, shape_, foot, gap = spot
        _composite_word(rng, img, word, ox, oy, shape_, gap)
        placed.append(foot)
        words.append((word, ox, oy))
        alphas.append((ox, oy, word.patch.alpha))

    img = _degrade(rng, img)
    annotations = [_annotation(w, ox, oy) for w, ox, oy in words]
    care = [w.cap_height for w, _, _ in words if not w.dont_care]
    record = {
        "height": H,
        "width": W,
        "text_scale": regime.name,
        # median nominal cap height (px) of the legible words: what the resolution selector sees
        "char_height": round(float(np.median(care)) if care else base, 2),
        "annotations": annotations,
    }
    return RenderedImage(img, record, alphas)


def _degrade(rng, img):
    """Camera-like noise and mild blur (mild: small text must stay legible)."""
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.7))
    sigma = rng.uniform(0, 6)
    # luminance noise, shared by the channels (a third of the cost of per-channel noise)
    noise = rng.standard_normal(img.shape[:2], dtype=np.float32) * np.float32(sigma)
    img = img + noise[..., None]
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _annotation(word: _Word, ox: int, oy: int) -> dict:
    poly = [round(float(v), 2) for v in (word.patch.polygon + [ox, oy]).ravel()]
    xs, ys = poly[0::2], poly[1::2]
    return {
        "bbox": [min(xs), min(ys), max(xs), max(ys)],
        "bbox_mode": BOX_MODE_XYXY_ABS,
        "segmentation": [poly],
        "category_id": 0,
        "iscrowd": 1 if word.dont_care else 0,
        "text": "###" if word.dont_care else word.text,
    }
