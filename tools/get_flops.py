#!/usr/bin/env python
"""GFLOPs per image of a model's real inference on a test set (docs/evaluation.md,
"Efficiency: GFLOPs and latency").

    python tools/get_flops.py --config-file configs/synth/teacher_cpu.yaml --num-images 100 \\
        --output flops.json --md flops.md MODEL.WEIGHTS output/synth_teacher/model_final.pth

Each image is traced on its own (batch 1) at the config's test size with the real detections
(`dld_d2.evaluation.flops`); the unit is fvcore GFLOPs (= GMACs, / 1e9). Prints mean ± std
GFLOPs, the mean network-input short side, the mean GFLOPs of the main submodules and, for models
whose outputs carry the chosen "scale" (DLD), a table by scale. Detections depend on the weights: give
the trained ones (MODEL.WEIGHTS), as the count of an untrained model is not the model's cost.
"""
import argparse
import sys
from collections import defaultdict

import numpy as np

from dld_d2.environment import require_detectron2

MD_MODULE_SHARE = 0.02


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, help="model config (yaml)")
    p.add_argument("--dataset", help="registered test set (default: the config's DATASETS.TEST[0])")
    p.add_argument("--num-images", type=int, default=100, help="first N images of the test set")
    p.add_argument("--output", help="write the results as json here")
    p.add_argument("--md", help="write the results as markdown here")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides (MODEL.WEIGHTS ...)")
    return p.parse_args(argv)


def _top_modules(by_module):
    """Submodules down to depth 3 (e.g. "backbone", "roi_heads.rec_branch.sequence")."""
    return [n for n in by_module if n and n.count(".") <= 2]


def measure(model, loader, num_images, logger=None):
    """Count the inference of the first `num_images` images that `loader` yields (in batches).

    Returns the per-image records (file_name, gflops, input_short_side, detections and, when
    the outputs carry it, scale), the GFLOPs per submodule summed over the images, and the
    uncounted ops with their number of calls.
    """
    from dld_d2.evaluation.flops import count_inference, input_short_side

    records = []
    by_module = defaultdict(float)
    uncounted = defaultdict(int)
    for batch in loader:
        batch = batch[: num_images - len(records)]
        for inp, c in zip(batch, count_inference(model, batch)):
            out = c.output
            rec = {
                "file_name": inp.get("file_name"),
                "gflops": c.gflops,
                "input_short_side": input_short_side(inp, out),
                "detections": len(out["instances"]) if "instances" in out else 0,
            }
            if "scale" in out:
                rec["scale"] = float(out["scale"])
            records.append(rec)
            for k, v in c.by_module.items():
                by_module[k] += v
            for k, v in c.uncounted_ops.items():
                uncounted[k] += v
            if logger is not None:
                logger.info(f"{len(records)}: {rec}")
        if len(records) >= num_images:
            break
    return records, dict(by_module), dict(uncounted)


def summarize(records, by_module):
    """Summary statistics of per-image records (see `main`) and summed per-module GFLOPs."""
    g = np.array([r["gflops"] for r in records])
    n = len(records)
    summary = {
        "num_images": n,
        "gflops_mean": float(g.mean()),
        "gflops_std": float(g.std()),
        "gflops_min": float(g.min()),
        "gflops_max": float(g.max()),
        # The DLD paper's "G": the same fvcore count divided by 2**30 instead of 1e9.
        "paper_g_mean": float(g.sum() * 1e9 / 2**30 / n),
        "input_short_side_mean": float(np.mean([r["input_short_side"] for r in records])),
        "detections_mean": float(np.mean([r["detections"] for r in records])),
        "gflops_by_module_mean": {k: by_module[k] / n for k in _top_modules(by_module)},
    }
    if any("scale" in r for r in records):
        groups = defaultdict(list)
        for r in records:
            groups[r["scale"]].append(r)
        summary["by_scale"] = [
            {
                "scale": s,
                "count": len(rs),
                "gflops_mean": float(np.mean([r["gflops"] for r in rs])),
                "input_short_side_mean": float(np.mean([r["input_short_side"] for r in rs])),
            }
            for s, rs in sorted(groups.items())
        ]
        summary["scale_mean"] = float(np.mean([r["scale"] for r in records]))
    return summary


def markdown(report) -> str:
    s = report["summary"]
    lines = [
        f"# Inference GFLOPs: `{report['config_file']}`",
        "",
        f"Measured by `python tools/get_flops.py`: fvcore `FlopCountAnalysis` of the real inference "
        f"path (actual detections), one image at a time, on the first {s['num_images']} images of "
        f"`{report['dataset']}`. Unit: fvcore GFLOPs (= GMACs, / 1e9); the paper's \"G\" divides "
        f"by 2^30. Weights: `{report['weights'] or '(none: random initialisation)'}`.",
        "",
        "| images | GFLOPs (mean ± std) | min | max | paper G (/2^30) | input short side | "
        "detections |",
        "|---|---|---|---|---|---|---|",
        f"| {s['num_images']} | {s['gflops_mean']:.2f} ± {s['gflops_std']:.2f} "
        f"| {s['gflops_min']:.2f} | {s['gflops_max']:.2f} | {s['paper_g_mean']:.2f} "
        f"| {s['input_short_side_mean']:.1f} | {s['detections_mean']:.1f} |",
        "",
        f"Submodules with at least {MD_MODULE_SHARE:.0%} of the total:",
        "",
        "| module | GFLOPs (mean) |",
        "|---|---|",
    ]
    # The json has them all; here only those that matter.
    lines += [
        f"| `{k}` | {v:.3f} |"
        for k, v in s["gflops_by_module_mean"].items()
        if v >= MD_MODULE_SHARE * s["gflops_mean"]
    ]
    if "by_scale" in s:
        lines += [
            "",
            f"Chosen scale: mean {s['scale_mean']:.3f}.",
            "",
            "| scale | images | GFLOPs (mean) | input short side |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {b['scale']:g} | {b['count']} | {b['gflops_mean']:.2f} "
            f"| {b['input_short_side_mean']:.1f} |"
            for b in s["by_scale"]
        ]
    if report["uncounted_ops"]:
        lines += ["", "Ops without a flop count (calls over all images): " + ", ".join(
            f"`{k}` ({v})" for k, v in report["uncounted_ops"].items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    require_detectron2("get_flops.py")

    import torch
    from detectron2.data import build_detection_test_loader
    from detectron2.utils.logger import setup_logger

    from dld_d2.checkpoint.trained_model import build_trained_model
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.evaluation.reports import write_reports

    logger = setup_logger(name="dld_d2")
    try:
        cfg, model = build_trained_model(args.config_file, args.opts)
    except FileNotFoundError as e:
        sys.exit(str(e))
    dataset = args.dataset or cfg.DATASETS.TEST[0]
    loader = build_detection_test_loader(cfg, dataset, mapper=TextSpottingDatasetMapper(cfg, False))

    records, by_module, uncounted = measure(model, loader, args.num_images, logger)
    if not records:
        sys.exit(f"{dataset} has no images")

    report = {
        "config_file": args.config_file,
        "weights": cfg.MODEL.WEIGHTS,
        "dataset": dataset,
        "opts": args.opts,
        "unit": "fvcore GFLOPs (= GMACs; one multiply-add = one flop; / 1e9)",
        "summary": summarize(records, by_module),
        "uncounted_ops": dict(sorted(uncounted.items())),
        "images": records,
        "environment": {"torch": torch.__version__, "device": cfg.MODEL.DEVICE},
    }
    text = markdown(report)
    print(text)
    write_reports(report, text, args.output, args.md, logger)


if __name__ == "__main__":
    main()
