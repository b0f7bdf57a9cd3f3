#!/usr/bin/env python
"""Time of an evaluation forward with GFLOPs (TEST.TEXT.COUNT_FLOPS), counted as the model runs
against counted by an fvcore trace of each image; writes benchmarks/flop_counting_speed.{json,md}.

    python tools/benchmark_flop_counting.py --config-file configs/synth/teacher_warm_cpu.yaml \\
        --config-file configs/synth/distill_cpu.yaml --num-images 10 --random-weights

Each config's model (its MODEL.WEIGHTS, or seed-0 random weights with `--random-weights` or where
MODEL.WEIGHTS is "": then MODEL.ROI_HEADS.SCORE_THRESH_TEST 0.3 keeps some detections, so that
the recognition branch runs)
reads the first images of its test set, batch 1, through `FlopCountingModel` both ways, the two
taking turns image by image; the counts must be equal (else it stops), the times are per image.
"""
import argparse
import json
import os
import platform
import shlex
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", action="append", required=True, help="a model's config (repeat)")
    p.add_argument("--num-images", type=int, default=10, help="first N images of each test set")
    p.add_argument("--random-weights", action="store_true",
                   help="seed-0 random weights instead of each config's MODEL.WEIGHTS (the counting "
                        "does the same work for any weights)")
    p.add_argument("--output", default=os.path.join(REPO, "benchmarks", "flop_counting_speed.json"))
    p.add_argument("--md", default=os.path.join(REPO, "benchmarks", "flop_counting_speed.md"))
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every model")
    return p.parse_args(argv)


def measure(config_file, num_images, opts, random_weights=False):
    from detectron2.data import build_detection_test_loader
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.trained_model import build_trained_model, trained_config
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.evaluation.flops import FlopCountingModel

    cfg = trained_config(config_file, opts)
    if random_weights or not cfg.MODEL.WEIGHTS:
        # Counting costs the same work for any weights: random ones (said so in the results),
        # with a threshold that keeps some of their detections for the recognition branch.
        cfg.defrost()
        cfg.merge_from_list(["MODEL.WEIGHTS", "", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.3"])
        cfg.freeze()
        torch.manual_seed(0)
        model = build_model(cfg).eval()
    else:
        try:
            cfg, model = build_trained_model(config_file, opts)
        except FileNotFoundError as e:
            sys.exit(f"{e}; --random-weights times the counting with seed-0 random weights instead")
    eager, traced = FlopCountingModel(model).eval(), FlopCountingModel(model).eval()
    traced.eager_counts_match = False  # the earlier path: run, then trace the image
    loader = build_detection_test_loader(cfg, cfg.DATASETS.TEST[0], mapper=TextSpottingDatasetMapper(cfg, False))
    times = {"eager": [], "traced": []}
    gflops, detections = [], []
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i == num_images:
                break
            counts = {}
            for name, wrapped in (("eager", eager), ("traced", traced)):
                t0 = time.perf_counter()
                (out,) = wrapped(batch)
                times[name].append(time.perf_counter() - t0)
                counts[name] = out["gflops"]
            if counts["eager"] != counts["traced"]:
                raise SystemExit(f"{config_file}, image {i}: counted {counts['eager']} GFLOPs as it "
                                 f"ran, {counts['traced']} by the trace")
            gflops.append(counts["eager"])
            detections.append(len(out["instances"]))
    n = len(gflops)
    return {
        "config_file": os.path.relpath(os.path.abspath(config_file), REPO),
        "weights": cfg.MODEL.WEIGHTS or "random (seed 0), SCORE_THRESH_TEST 0.3",
        "dataset": cfg.DATASETS.TEST[0], "num_images": n,
        "mean_gflops": sum(gflops) / n, "mean_detections": sum(detections) / n,
        "eager_s_per_image": sum(times["eager"]) / n, "traced_s_per_image": sum(times["traced"]) / n,
        "eager_matches_trace": eager.eager_counts_match,
    }


def markdown(result):
    lines = [
        "# GFLOPs counting in evaluation: as the model runs vs an fvcore trace per image", "",
        f"Machine: {result['machine']}, {result['threads']} threads, 1-min load average "
        f"{result['load_average']:.2f} at the end. Produced by `{result['command']}`.", "",
        "| config | weights | images | detections / image | GFLOPs / image | traced (s / image) "
        "| counted as it runs (s / image) | × |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["models"]:
        lines.append(
            f"| `{r['config_file']}` | {r['weights']} | {r['num_images']} | {r['mean_detections']:.1f} "
            f"| {r['mean_gflops']:.3f} | {r['traced_s_per_image']:.2f} | {r['eager_s_per_image']:.2f} "
            f"| {r['eager_s_per_image'] / r['traced_s_per_image']:.2f} |")
    lines += ["", "Both columns are the forward of `FlopCountingModel` (the model's run and its count); "
              "their counts were equal on every image."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    from dld_d2.environment import require_detectron2

    require_detectron2("tools/benchmark_flop_counting.py")
    models = [measure(c, args.num_images, args.opts, args.random_weights) for c in args.config_file]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()} kernels)",
        "threads": torch.get_num_threads(), "load_average": os.getloadavg()[0],
        "command": shlex.join(["python", "tools/benchmark_flop_counting.py",
                               *(sys.argv[1:] if argv is None else argv)]),
        "models": models,
    }
    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)
    with open(args.md, "w") as f:
        f.write(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
