"""Built-in synthetic text scenes: generated on first use, cached, returned as Detectron2 dicts.

Each image draws a *size regime* ("small" / "medium" / "large" cap height, see DEFAULT_REGIMES),
so text size varies strongly between images: that is what the resolution selector learns from.
Records carry it as ``text_scale`` and ``char_height`` (median cap height of the legible words,
px). Three words in four come from a closed vocabulary of pronounceable pseudo-words (the
scenes' language, `pseudo_word_vocabulary`), the rest are random strings (numbers, codes).
Words are horizontal, rotated (±20°, some near-vertical) or curved along gentle circular arcs;
straight words have 4-point quads, curved ones 10-20-point polygons (top edge left to right, then
bottom edge right to left, as in Total-Text). About 10 % of the instances are illegible (tiny,
blurred or occluded) and labelled ``###`` with ``iscrowd=1``.

Cache layout (``root`` defaults to ``$DLD_D2_CACHE/synthetic`` or ``~/.cache/dld_d2/synthetic``)::

    root/v<GENERATOR_VERSION>-<hash of the content spec and fonts>/<split>-<num_images>/
        index.json      spec, generator version, fonts, records (file names relative)
        images/<split>_<index>.jpg

A split folder appears atomically (built in a temporary folder, then renamed) under a file lock,
so concurrent callers (DDP ranks, spawned workers) build it once and all read the same data.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import cv2

from .cache_folder import build_folder_once
from .synthetic_render import GENERATOR_VERSION, font_paths, render_image

__all__ = [
    "DEFAULT_REGIMES", "GENERATOR_VERSION", "Regime", "SyntheticSpec", "default_root",
    "generate_split", "load_synthetic", "render_image", "split_dir",
]

logger = logging.getLogger(__name__)

DEFAULT_NUM_TRAIN = 1000
DEFAULT_NUM_TEST = 100


@dataclass(frozen=True)
class Regime:
    """A text-size regime: cap-height band (px) and number of words per image."""

    name: str
    prob: float
    char_height: tuple  # (min, max) cap height in px
    words: tuple  # (min, max) words per image


DEFAULT_REGIMES = (
    # The recognizer reads 8×32 crops of stride-4 features, so a word needs ~30 px capitals to
    # be legible: "small" text is the smallest the teacher reads at full resolution, illegible
    # below ~0.8× (what the selector must learn). Scenes are dense (~15 words an image) because
    # a CPU step costs the backbone pass far more than one more word to read.
    # (Smaller text: benchmarks/synthetic_dld/history.md.)
    Regime("small", 0.4, (28.0, 36.0), (24, 40)),
    Regime("medium", 0.4, (40.0, 56.0), (10, 18)),
    Regime("large", 0.2, (64.0, 110.0), (3, 6)),
)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. Every field but num_train/num_test changes the pixels (and cache key)."""

    num_train: int = DEFAULT_NUM_TRAIN
    num_test: int = DEFAULT_NUM_TEST
    seed: int = 0
    image_sizes: tuple = ((640, 480), (480, 640), (640, 640), (640, 360))  # (width, height)
    regimes: tuple = DEFAULT_REGIMES
    word_length: tuple = (2, 12)
    # Most words come from a closed vocabulary of pseudo-words (a language to learn, as in real
    # scenes); the rest are random strings: numbers, codes, symbols.
    vocabulary_size: int = 1000
    p_vocabulary: float = 0.75
    p_curved: float = 0.1  # of the words (those with >= 4 characters)
    p_rotated: float = 0.1  # arbitrary angle in [-max_angle, max_angle]
    p_vertical: float = 0.03  # 60-90 degrees either way
    max_angle: float = 20.0
    p_dont_care: float = 0.04  # of the words tried: tiny ones always fit, ~10 % of the instances
    p_plate: float = 0.25  # words printed on a plain plate (sign-like)
    image_format: str = "jpg"  # "jpg" or "png"
    jpeg_quality: int = 92

    def num_images(self, split: str) -> int:
        if split == "train":
            return self.num_train
        if split == "test":
            return self.num_test
        raise ValueError(f"Unknown synthetic split {split!r}: expected 'train' or 'test'")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def content_key(self) -> str:
        """Hash of everything that affects the pixels: fields (but counts), version, fonts."""
        content = self.to_dict()
        content.pop("num_train")
        content.pop("num_test")
        content["generator_version"] = GENERATOR_VERSION
        content["fonts"] = [os.path.basename(p) for p in font_paths()]
        blob = json.dumps(content, sort_keys=True).encode("utf-8")
        return hashlib.sha1(blob).hexdigest()[:12]


def default_root() -> str:
    base = os.environ.get("DLD_D2_CACHE") or os.path.join("~", ".cache", "dld_d2")
    return os.path.join(os.path.expanduser(base), "synthetic")


def split_dir(root: str, split: str, spec: SyntheticSpec) -> str:
    """The folder holding `split` of `spec` under `root`."""
    return os.path.join(
        root, f"v{GENERATOR_VERSION}-{spec.content_key()}", f"{split}-{spec.num_images(split)}"
    )


def load_synthetic(split: str, root: str | None = None, spec: SyntheticSpec | None = None,
                   num_workers: int = 0) -> list:
    """Detectron2 dicts of a synthetic split, generating it into the cache on first use."""
    return generate_split(root or default_root(), split, spec or SyntheticSpec(), num_workers)


def generate_split(root: str, split: str, spec: SyntheticSpec, num_workers: int = 0) -> list:
    """Generate `split` under `root` unless already there; return its Detectron2 dicts.

    Safe to call from several processes at once: one builds (under a lock, into a temporary
    folder renamed into place), the others wait and read the result. `num_workers > 1` renders
    in that many processes; the output is identical to a serial run.
    """
    final = split_dir(root, split, spec)
    build_folder_once(final, lambda tmp: _build(tmp, split, spec, num_workers))
    return _read_index(final)


def _build(folder: str, split: str, spec: SyntheticSpec, num_workers: int) -> None:
    """Render `split` into the empty folder `folder` (images, then index.json)."""
    os.makedirs(os.path.join(folder, "images"))
    n = spec.num_images(split)
    start = time.perf_counter()
    logger.info("Generating %d synthetic %s images into %s", n, split, folder)
    jobs = [(spec, split, i, folder) for i in range(n)]
    if num_workers > 1 and n > 1:
        import multiprocessing as mp

        # fork starts workers at once (spawn re-imports torch/detectron2 via dld_d2, seconds
        # per worker); rendering only needs numpy/cv2/PIL, which are safe in forked children.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(num_workers, mp_context=mp.get_context(method)) as ex:
            records = list(ex.map(_render_to_file, jobs, chunksize=max(1, n // (4 * num_workers))))
    else:
        records = [_render_to_file(job) for job in jobs]
    index = {
        "generator_version": GENERATOR_VERSION,
        "spec": spec.to_dict(),
        "content_key": spec.content_key(),
        "fonts": [os.path.basename(p) for p in font_paths()],
        "split": split,
        "num_images": n,
        "records": records,
    }
    with open(os.path.join(folder, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f)
    logger.info("Generated %d images in %.1f s", n, time.perf_counter() - start)


def _render_to_file(job) -> dict:
    spec, split, index, folder = job
    rendered = render_image(spec, split, index)
    image_id = f"{split}_{index:06d}"
    rel = os.path.join("images", f"{image_id}.{spec.image_format}")
    bgr = cv2.cvtColor(rendered.image, cv2.COLOR_RGB2BGR)
    if spec.image_format == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(spec.jpeg_quality)]
    elif spec.image_format == "png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    else:
        raise ValueError(f"image_format must be 'jpg' or 'png', got {spec.image_format!r}")
    if not cv2.imwrite(os.path.join(folder, rel), bgr, params):
        raise OSError(f"Could not write {os.path.join(folder, rel)}")
    return {"file_name": rel, "image_id": image_id, **rendered.record}


def _read_index(folder: str) -> list:
    with open(os.path.join(folder, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    records = index["records"]
    for r in records:
        r["file_name"] = os.path.join(folder, r["file_name"])
    return records
