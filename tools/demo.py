#!/usr/bin/env python
"""Spot text in images and draw the results.

    python tools/demo.py --config-file configs/synth/teacher_cpu.yaml --input 'imgs/*.jpg' \
        --output out/ --save-json MODEL.WEIGHTS output/synth_teacher/model_final.pth

Inputs may be image files, folders (every image inside) or glob patterns. For each image the
tool writes `<name>.jpg` with the text polygons and transcriptions drawn (Detectron2's
Visualizer), and with --save-json a `<name>.json` holding polygons, texts and scores in
original-image coordinates.
"""
import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="model config (yaml)")
    p.add_argument("--input", nargs="+", required=True, help="images, folders or glob patterns")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--save-json", action="store_true", help="also write the predictions as json")
    p.add_argument("--confidence-threshold", type=float, default=None,
                   help="detection score threshold (default: the config's)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return p.parse_args(argv)


def expand_inputs(patterns):
    """Image paths from files, folders and globs, sorted and de-duplicated; errors name what is missing."""
    paths = []
    for pat in patterns:
        if os.path.isdir(pat):
            found = [os.path.join(pat, f) for f in sorted(os.listdir(pat))]
        else:
            found = sorted(glob.glob(os.path.expanduser(pat)))
            if not found and not glob.has_magic(pat):
                raise SystemExit(f"Input not found: {pat}")
        paths += [f for f in found if f.lower().endswith(IMAGE_EXTS)]
    paths = list(dict.fromkeys(paths))
    if not paths:
        raise SystemExit(f"No images found in {patterns}")
    return paths


def main(argv=None):
    args = parse_args(argv)
    from detectron2.data.detection_utils import read_image
    from detectron2.engine import DefaultPredictor
    from detectron2.utils.logger import setup_logger

    from dld_d2.config import get_cfg
    from dld_d2.utils.visualizer import draw_text_instances

    logger = setup_logger(name="dld_d2")
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    if args.confidence_threshold is not None:
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = args.confidence_threshold
    cfg.freeze()
    predictor = DefaultPredictor(cfg)
    os.makedirs(args.output, exist_ok=True)
    for path in expand_inputs(args.input):
        image = read_image(path, format=cfg.INPUT.FORMAT)
        inst = predictor(image)["instances"].to("cpu")
        rgb = image if cfg.INPUT.FORMAT == "RGB" else image[:, :, ::-1]
        vis = draw_text_instances(rgb, inst.pred_polygons, inst.pred_texts)
        stem = os.path.splitext(os.path.basename(path))[0]
        out_img = os.path.join(args.output, stem + ".jpg")
        vis.save(out_img)
        if args.save_json:
            record = {
                "file_name": path,
                "height": image.shape[0],
                "width": image.shape[1],
                "instances": [
                    {"polygon": [round(float(v), 1) for v in poly.reshape(-1)], "text": text,
                     "score": round(float(s), 4), "rec_score": round(float(r), 4)}
                    for poly, text, s, r in zip(
                        inst.pred_polygons, inst.pred_texts, inst.scores, inst.rec_scores
                    )
                ],
            }
            with open(os.path.join(args.output, stem + ".json"), "w") as f:
                json.dump(record, f, indent=1)
        logger.info("%s: %d text instances -> %s", path, len(inst), out_img)


if __name__ == "__main__":
    main()
