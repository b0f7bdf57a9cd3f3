#!/usr/bin/env python
"""How well a trained text spotter reads, apart from how well it finds (docs/evaluation.md,
"Reading analysis").

    python tools/analyze_reading.py --config-file configs/synth/teacher_cpu.yaml \\
        --output-dir output/reading MODEL.WEIGHTS output/synth_teacher/model_final.pth

For every care word of the test set it reports the word accuracy of the recognition branch on
the GT box and mask, on the GT box alone, and on the model's own detections (matched to the GT
as the evaluation protocol matches them), by text size, with the commonest misreadings. Writes
reading.md, reading.json and reading.png to --output-dir and prints the markdown.
"""
import argparse
import json
import logging
import os
import sys

from dld_d2.environment import require_detectron2


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="a TextSpotter config (yaml)")
    p.add_argument("--dataset", help="registered dataset (default: the config's DATASETS.TEST[0])")
    p.add_argument("--num-images", type=int, default=0, help="first N images (0: all)")
    p.add_argument("--output-dir", default="output/reading", help="where reading.{md,json,png} go")
    p.add_argument("--size-edges", type=float, nargs=2, metavar=("SMALL", "LARGE"),
                   default=None, help="word heights (pixels) that bound the size buckets of "
                   "datasets without a size label (default: 32 64)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides (MODEL.WEIGHTS ...)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    require_detectron2("analyze_reading.py")
    from detectron2.utils.logger import setup_logger

    import dld_d2  # noqa: F401  (registers the datasets and the model)
    from dld_d2.checkpoint.trained_model import build_trained_model
    from dld_d2.data.dataset_records import dataset_records
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.evaluation.reading_analysis import DEFAULT_SIZE_EDGES
    from dld_d2.evaluation.reading_probe import ReadingProbe, size_labeller

    logger = setup_logger(name="dld_d2")
    try:
        cfg, model = build_trained_model(args.config_file, args.opts)
    except (FileNotFoundError, ValueError) as e:  # missing, empty or unfitting weights
        print(f"error: {e}", file=sys.stderr)
        return 2
    name = args.dataset or cfg.DATASETS.TEST[0]
    try:
        records = dataset_records(name, args.num_images)
        # The evaluator's mapper and score threshold: the probe sees what the evaluation sees.
        probe = ReadingProbe(
            model, TextSpottingDatasetMapper(cfg, is_train=False),
            score_threshold=cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST,
            size_of=size_labeller(args.size_edges or DEFAULT_SIZE_EDGES),
        )
    except ValueError as e:  # an unloadable dataset, a model that is no TextSpotter, bad edges
        print(f"error: {e}", file=sys.stderr)
        return 2
    analysis = probe.run(records)
    title = f"Reading analysis: `{cfg.MODEL.WEIGHTS}` on `{name}` at S-{cfg.INPUT.MIN_SIZE_TEST}"
    report = analysis.report(title)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "reading.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.output_dir, "reading.json"), "w") as f:
        json.dump({"config_file": args.config_file, "weights": cfg.MODEL.WEIGHTS, "dataset": name,
                   "min_size_test": cfg.INPUT.MIN_SIZE_TEST, **analysis.as_dict()}, f, indent=1)
    analysis.plot(os.path.join(args.output_dir, "reading.png"), title=f"Reading on {name}")
    print(report)
    logger.info("Wrote reading.md, reading.json and reading.png to %s", args.output_dir)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
