"""Registration of the standard text-spotting datasets and of the built-in synthetic scenes.

Importing `dld_d2` runs `register_all()`. Registration only records names, paths and metadata;
nothing is read until `DatasetCatalog.get(name)` is called, so it is cheap, reads no config or
command line, and works the same in a fresh process and in spawned workers. Real datasets live
under `$DETECTRON2_DATASETS` (default `./datasets`); `datasets/README.md` gives the exact tree.
"""
import logging
import os

from detectron2.data import DatasetCatalog, MetadataCatalog

logger = logging.getLogger(__name__)

# name: (image folder, annotation file/folder/zip, format or None to detect, lexicon set or None)
# Test splits read the end-to-end GT zips of the official evaluation, so that the evaluator's
# ground truth is the one the official scripts use.
_PREDEFINED_SPLITS = {
    "icdar2013_train": ("icdar2013/train_images", "icdar2013/train_gts", "ic13", None),
    "icdar2013_test": ("icdar2013/test_images", "icdar2013/gt-icdar2013.zip", "ic13", "icdar2013"),
    "icdar2015_train": ("icdar2015/train_images", "icdar2015/train_gts", "ic15", None),
    "icdar2015_test": ("icdar2015/test_images", "icdar2015/gt-icdar2015.zip", "ic15", "icdar2015"),
    "icdar2017_mlt_train": ("mlt2017/train_images", "mlt2017/train_gts", "mlt17", None),
    "icdar2017_mlt_val": ("mlt2017/val_images", "mlt2017/val_gts", "mlt17", None),
    "totaltext_train": ("totaltext/train_images", "totaltext/train_gts", "totaltext", None),
    "totaltext_test": (
        "totaltext/test_images", "totaltext/total-text-gt.zip", "totaltext_poly", "totaltext",
    ),
    # COCO-Text v2: both sets are COCO train2014 images, told apart by the json's "set".
    "cocotext_train": ("coco/train2014", "coco/cocotext.v2.json", "cocotext_train", None),
    "cocotext_val": ("coco/train2014", "coco/cocotext.v2.json", "cocotext_val", None),
}

# SynthText: the images, and the file tools/convert_synthtext.py makes of their gt.mat.
_SYNTHTEXT = ("SynthText", "SynthText/synthtext_train.npz")

# Lexicon files per test set, relative to $DETECTRON2_DATASETS/lexicons/ (docs/evaluation.md, "Lexicons").
_LEXICONS = {
    "icdar2013": {
        "generic": "icdar2013/GenericVocabulary.txt",
        "weak": "icdar2013/ch2_test_vocabulary.txt",
        "strong": "icdar2013/strong_lexicon.zip",
    },
    "icdar2015": {
        "generic": "icdar2015/GenericVocabulary.txt",
        "weak": "icdar2015/ch4_test_vocabulary.txt",
        "strong": "icdar2015/strong_lexicon.zip",
    },
    "totaltext": {"full": "totaltext/full_lexicons.txt"},
}


def _datasets_root():
    return os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))


def load_text_dataset(image_root, annotations, fmt=None, exact_gt=False):
    """Read a text dataset into Detectron2 dicts, requiring every image to be present.

    Skips (malformed lines, degenerate polygons, missing images) are counted and logged by the
    format layer; an unreadable annotation source raises with its path. With `exact_gt` the
    annotations are kept exactly as written (no text-length limit, no clipping to the image), as
    the official evaluation reads them; otherwise texts over 32 characters become don't-care.
    """
    from .formats import load_annotations

    if not os.path.exists(annotations):
        raise FileNotFoundError(
            f"Annotations not found: {annotations} (see datasets/README.md for the expected layout)"
        )
    if not os.path.isdir(image_root):
        raise FileNotFoundError(
            f"Image folder not found: {image_root} (see datasets/README.md for the expected layout)"
        )
    dicts, report = load_annotations(
        annotations, fmt=fmt, image_root=image_root,
        max_text_len=None if exact_gt else 32, clip=not exact_gt,
    )
    logger.info("Loaded %s: %s", annotations, report.summary())
    return dicts


def register_text_dataset(
    name, image_root, annotations, fmt=None, lexicons=None, exact_gt=False, **metadata
):
    """Register a text-spotting dataset under `name` (for users' own data, and the built-ins).

    Args:
        image_root: folder of the images.
        annotations: a GT file, a folder or zip of per-image GT files, or a DAVAR JSON datalist.
        fmt: annotation format (see `dld_d2.data.formats`); None detects it from the content.
        lexicons: {lexicon type: path} used by the evaluator ("generic", "weak", "strong", "full").
        exact_gt: keep the annotations exactly as written (test splits, whose dicts are the
            evaluation ground truth); otherwise texts over 32 characters become don't-care.
        metadata: extra metadata, stored as given.
    """
    DatasetCatalog.register(
        name, lambda: load_text_dataset(image_root, annotations, fmt=fmt, exact_gt=exact_gt)
    )
    MetadataCatalog.get(name).set(
        thing_classes=["text"],
        evaluator_type="text_spotting",
        image_root=image_root,
        annotations=annotations,
        lexicons=dict(lexicons or {}),
        **metadata,
    )


def load_synthtext(image_root, converted):
    """SynthText's dicts from `converted`; when it is missing but `image_root/gt.mat` is there,
    FileNotFoundError giving the command that converts it."""
    from .formats.synthtext import missing_conversion_message

    gt_mat = os.path.join(image_root, "gt.mat")
    if not os.path.exists(converted) and os.path.exists(gt_mat):
        raise FileNotFoundError(missing_conversion_message(gt_mat, converted))
    return load_text_dataset(image_root, converted, fmt="synthtext")


def register_synthtext(name, image_root, converted):
    """Register SynthText (images under `image_root`, its converted gt.mat `converted`)."""
    DatasetCatalog.register(name, lambda: load_synthtext(image_root, converted))
    MetadataCatalog.get(name).set(
        thing_classes=["text"], evaluator_type="text_spotting", image_root=image_root,
        annotations=converted, lexicons={},
    )


def register_synthetic(name, split, root=None, **spec):
    """Register a split of the built-in synthetic scenes (generated on first use, then cached).

    `spec` overrides fields of `dld_d2.data.synthetic.SyntheticSpec` (e.g. num_train=8).
    """

    def _load():
        from .synthetic import SyntheticSpec, load_synthetic

        return load_synthetic(split, root=root, spec=SyntheticSpec(**spec))

    DatasetCatalog.register(name, _load)
    MetadataCatalog.get(name).set(
        thing_classes=["text"], evaluator_type="text_spotting", lexicons={}, synthetic_split=split
    )


def register_word_sheets(name, source, root=None, **spec):
    """Register `name`: the word sheets (`dld_d2.data.word_sheets`) of the registered dataset
    `source`, built on first use and cached under `root` (default: the dld_d2 cache).

    `spec` overrides fields of `dld_d2.data.word_sheets.SheetSpec` (e.g. max_height=48).
    """

    def _load():
        from .word_sheets import SheetSpec, default_root, load_word_sheets

        return load_word_sheets(source, DatasetCatalog.get(source), root or default_root(),
                                SheetSpec(**spec))

    DatasetCatalog.register(name, _load)
    MetadataCatalog.get(name).set(
        thing_classes=["text"], evaluator_type="text_spotting", lexicons={}, word_sheets_of=source
    )


def register_all(root=None):
    root = root or _datasets_root()
    for name, (images, annotations, fmt, lexicon_set) in _PREDEFINED_SPLITS.items():
        lexicons = {
            kind: os.path.join(root, "lexicons", rel)
            for kind, rel in _LEXICONS.get(lexicon_set, {}).items()
        }
        register_text_dataset(
            name,
            os.path.join(root, images),
            os.path.join(root, annotations),
            fmt=fmt,
            lexicons=lexicons,
            exact_gt=name.endswith("_test"),
        )
    register_synthtext("synthtext_train", *(os.path.join(root, p) for p in _SYNTHTEXT))
    for split in ("train", "test"):
        register_synthetic(f"dld_synthetic_{split}", split)
        # A few images, for quick-schedule configs and tests.
        register_synthetic(f"dld_synthetic_tiny_{split}", split, num_train=8, num_test=4)
    # A held-out split for choosing test-time settings without looking at the test split: the
    # test generator with another seed (100 other scenes, the same vocabulary).
    register_synthetic("dld_synthetic_val", "test", seed=1)
    # Three times the training scenes (the first 1,000 are dld_synthetic_train's): more
    # distinct words for the reader.
    register_synthetic("dld_synthetic_3k_train", "train", num_train=3000)
    # The training scenes' words packed into sheets, for the recognition warm-up.
    register_word_sheets("dld_synthetic_words_train", "dld_synthetic_train")
    register_word_sheets("dld_synthetic_3k_words_train", "dld_synthetic_3k_train")
    register_word_sheets("dld_synthetic_tiny_words_train", "dld_synthetic_tiny_train")


if __name__.endswith(".builtin"):
    # Registration by import, as Detectron2's own builtin datasets do.
    register_all()
