#!/usr/bin/env python
"""Draw a registered text dataset's ground truth, raw or after `TextSpottingDatasetMapper`.

Like Detectron2's `tools/visualize_data.py`, with polygons and transcriptions:

    python tools/visualize_data.py --source annotation --dataset dld_synthetic_test \\
        --output-dir out/
    python tools/visualize_data.py --source dataloader --config-file configs/X.yaml --num 8 \\
        --output-dir out/ INPUT.TEXT.ROTATE.MAX_ANGLE 30

`annotation` draws the dataset dicts on the original images (care words green with their text,
don't-care regions red with "###" or their text); `dataloader` draws the training instances the
mapper produces (augmentations applied; a word without a recognition target is labelled "∅").
The dataset is `--dataset` if given, else `DATASETS.TRAIN` of the config.
"""
import argparse
import itertools
import os

import numpy as np

from dld_d2.environment import require_detectron2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Visualize text-spotting ground truth")
    parser.add_argument(
        "--source", choices=["annotation", "dataloader"], required=True,
        help="the raw annotations, or the training mapper's output (augmentations applied)",
    )
    parser.add_argument("--config-file", metavar="FILE", help="config file (optional)")
    parser.add_argument("--dataset", help="registered dataset name (default: DATASETS.TRAIN)")
    parser.add_argument("--num", type=int, default=8, help="number of images to draw")
    parser.add_argument("--seed", type=int, default=0, help="seed of the augmentations")
    parser.add_argument("--scale", type=float, default=1.0, help="drawing scale")
    parser.add_argument("--output-dir", required=True, help="where the images are written")
    parser.add_argument(
        "opts", nargs=argparse.REMAINDER, default=[], help="config overrides: KEY VALUE ..."
    )
    return parser.parse_args(argv)


def setup_cfg(args):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    if args.config_file:
        cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    return cfg


def _dataset_dicts(cfg, args):
    from dld_d2.data.dataset_records import DatasetLoadError, dataset_records

    names = [args.dataset] if args.dataset else list(cfg.DATASETS.TRAIN)
    if not names:
        raise SystemExit("No dataset: pass --dataset NAME or a config with DATASETS.TRAIN")
    try:
        dicts = itertools.chain.from_iterable(dataset_records(n) for n in names)
        return names[0], list(itertools.islice(dicts, max(args.num, 0)))
    except DatasetLoadError as e:
        raise SystemExit(str(e))


def draw_annotations(dic, metadata, scale=1.0):
    """A `VisImage` of a dataset dict's polygons and texts on its original image.

    Raises `UnreadableImageError` (naming the file) if the image cannot be decoded.
    """
    from dld_d2.data.image_io import read_image
    from dld_d2.visualization import draw_text_instances

    img = read_image(dic["file_name"], "RGB")
    annos = dic.get("annotations", [])
    labels = [a.get("text", "") if not a.get("iscrowd", 0) else f"### {a.get('text', '')}".strip()
              for a in annos]
    return draw_text_instances(
        img, [_segmentation(a) for a in annos], labels,
        dont_care=[bool(a.get("iscrowd", 0)) for a in annos], metadata=metadata, scale=scale,
    )


def draw_mapped(record, metadata, vocabulary, image_format, scale=1.0):
    """A `VisImage` of a training-mapper output: augmented image, instance polygons and texts."""
    from detectron2.data import detection_utils as utils

    from dld_d2.visualization import draw_text_instances

    img = utils.convert_image_to_rgb(record["image"].permute(1, 2, 0).numpy(), image_format)
    inst = record["instances"]
    labels = [vocabulary.decode(row) if row.any() else "∅" for row in inst.gt_texts]
    polygons = inst.gt_masks.polygons if len(inst) else []
    return draw_text_instances(img, polygons, labels, metadata=metadata, scale=scale)


def _segmentation(anno):
    seg = anno.get("segmentation")
    if seg:
        return [seg] if np.isscalar(seg[0]) else seg
    x0, y0, x1, y1 = anno["bbox"]  # XYXY_ABS per the dataset contract
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def main(argv=None):
    args = parse_args(argv)
    require_detectron2("visualize_data.py")

    from detectron2.data import MetadataCatalog
    from detectron2.utils.logger import setup_logger

    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.data.image_io import UnreadableImageError

    logger = setup_logger(name="dld_d2")
    cfg = setup_cfg(args)
    name, dicts = _dataset_dicts(cfg, args)
    metadata = MetadataCatalog.get(name)
    os.makedirs(args.output_dir, exist_ok=True)
    mapper = TextSpottingDatasetMapper(cfg, is_train=True) if args.source == "dataloader" else None
    np.random.seed(args.seed)

    written = []
    for dic in dicts:
        stem = os.path.splitext(os.path.basename(dic["file_name"]))[0]
        if mapper is None:
            try:
                vis = draw_annotations(dic, metadata, args.scale)
            except UnreadableImageError as e:
                logger.warning("Skipped: %s", e)
                continue
        else:
            record = mapper(dic)
            if record is None:  # unreadable image, counted in mapper.stats
                logger.warning("Skipped: unreadable image %s", dic["file_name"])
                continue
            vis = draw_mapped(record, metadata, mapper.vocabulary, cfg.INPUT.FORMAT, args.scale)
        path = os.path.join(args.output_dir, f"{stem}_{args.source}.jpg")
        vis.save(path)
        written.append(path)
    logger.info("Wrote %d image(s) to %s", len(written), args.output_dir)
    if mapper is not None and mapper.stats:
        logger.info("Mapper counts: %s", dict(mapper.stats))
    return written


if __name__ == "__main__":
    main()
