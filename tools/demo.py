#!/usr/bin/env python
"""Spot text in images and draw the results.

    python tools/demo.py --config-file configs/synth/teacher_cpu.yaml --input 'imgs/*.jpg' \
        --output out/ --save-json MODEL.WEIGHTS output/synth_teacher/model_final.pth

Inputs may be image files, folders (every image inside) or glob patterns. For each image the
tool writes `<file name>.vis.jpg` with the text polygons and transcriptions drawn (Detectron2's
Visualizer), and with --save-json a `<file name>.json` holding polygons, texts and scores in
original-image coordinates: `x.jpg` gives `x.jpg.vis.jpg` and `x.jpg.json`, `x.png` gives
`x.png.vis.jpg` and `x.png.json`, so inputs sharing a stem keep distinct outputs.

Inputs from several folders keep their folders: each output goes to the subfolder of --output
given by its input's folder relative to the folder common to all inputs (`a/x.jpg` and
`b/x.jpg` give `OUT/a/x.jpg.vis.jpg` and `OUT/b/x.jpg.vis.jpg`); inputs from one folder give
outputs directly in --output. An output path never equals an input: if one would (an input
file named like an output, such as `x.jpg.vis.jpg`, in the folder the output goes to), the tool
stops before writing anything. Folders and glob
patterns leave out the tool's own outputs (`*.vis.jpg`), so a run may write into its input
folder and be repeated; a `*.vis.jpg` named explicitly is an input like any other.

An input that cannot be read (truncated, corrupt, not an image) is logged with its file name
and skipped; the others are processed. At the end the tool logs how many inputs failed, and
exits with status 1 only if none succeeded (0 otherwise, also when some failed).
"""
import argparse
import glob
import json
import os


IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIS_SUFFIX = ".vis.jpg"  # drawn output: <input file name>.vis.jpg
JSON_SUFFIX = ".json"  # --save-json output: <input file name>.json


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
    paths, seen = [], set()
    for pat in patterns:
        if os.path.isdir(pat):
            found = [os.path.join(pat, f) for f in sorted(os.listdir(pat))]
        else:
            found = sorted(glob.glob(os.path.expanduser(pat)))
            if not found and not glob.has_magic(pat):
                raise SystemExit(f"Input not found: {pat}")
        if os.path.isdir(pat) or glob.has_magic(pat):
            # earlier outputs of this tool are not inputs again
            found = [f for f in found if not f.lower().endswith(VIS_SUFFIX)]
        for f in found:
            # "imgs/x.jpg" and "./imgs/x.jpg" are one input
            if f.lower().endswith(IMAGE_EXTS) and os.path.abspath(f) not in seen:
                seen.add(os.path.abspath(f))
                paths.append(f)
    if not paths:
        raise SystemExit(f"No images found in {patterns}")
    return paths


def output_stems(paths, output):
    """Per input, its output path without VIS_SUFFIX / JSON_SUFFIX (see the module docstring).

    Raises SystemExit, before anything is written, if an output would be an input file.
    """
    dirs = [os.path.dirname(os.path.abspath(p)) for p in paths]
    common = os.path.commonpath(dirs)
    stems = [
        os.path.normpath(os.path.join(output, os.path.relpath(d, common), os.path.basename(p)))
        for p, d in zip(paths, dirs)
    ]
    inputs = {os.path.realpath(p) for p in paths}
    for stem in stems:
        for out in (stem + VIS_SUFFIX, stem + JSON_SUFFIX):
            if os.path.realpath(out) in inputs:
                raise SystemExit(
                    f"Output {out} would overwrite an input image: choose an --output folder "
                    "that holds no inputs"
                )
    return stems


def main(argv=None):
    args = parse_args(argv)
    from detectron2.engine import DefaultPredictor
    from detectron2.utils.logger import setup_logger

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer
    from dld_d2.config import get_cfg
    from dld_d2.data.image_io import UnreadableImageError, read_image
    from dld_d2.visualization import draw_text_instances

    logger = setup_logger(name="dld_d2")
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    if args.confidence_threshold is not None:
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = args.confidence_threshold
    cfg.freeze()
    paths = expand_inputs(args.input)
    stems = output_stems(paths, args.output)  # checked before the model is built
    # Detectron2's predictor would load MODEL.WEIGHTS with its own (unrestricted) checkpointer:
    # build it without weights, then load them through dld_d2's safe, fit-checking one.
    blank = cfg.clone()
    blank.defrost()
    blank.MODEL.WEIGHTS = ""
    predictor = DefaultPredictor(blank)
    TextSpotterCheckpointer(predictor.model, require="complete").load(cfg.MODEL.WEIGHTS)
    failed = []
    for path, stem in zip(paths, stems):
        try:
            image = read_image(path, format=cfg.INPUT.FORMAT)
        except UnreadableImageError as e:
            # One bad input must not stop the others: report it, go on.
            logger.error("Skipping input: %s", e)
            failed.append(path)
            continue
        inst = predictor(image)["instances"].to("cpu")
        rgb = image if cfg.INPUT.FORMAT == "RGB" else image[:, :, ::-1]
        vis = draw_text_instances(rgb, inst.pred_polygons, inst.pred_texts)
        os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
        out_img = stem + VIS_SUFFIX
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
            with open(stem + JSON_SUFFIX, "w") as f:
                json.dump(record, f, indent=1)
        logger.info("%s: %d text instances -> %s", path, len(inst), out_img)
    if failed:
        logger.error("%d of %d input(s) could not be read: %s", len(failed), len(paths),
                     ", ".join(failed))
    if len(failed) == len(paths):
        raise SystemExit(f"No input could be read ({len(paths)} tried); nothing was written")
    logger.info("Done: %d image(s) written to %s", len(paths) - len(failed), args.output)


if __name__ == "__main__":
    main()
