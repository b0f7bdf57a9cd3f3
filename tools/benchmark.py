#!/usr/bin/env python
"""Inference latency and throughput of one or more models on the same test images (batch 1).

    python tools/benchmark.py --model teacher=configs/teacher.yaml --model dld=configs/distill.yaml \\
        --weights teacher=output/teacher/model_final.pth --weights dld=output/distill/model_final.pth \\
        --num-images 50 --threads 1 --output speed.json --md speed.md [KEY VALUE ...]

Every model reads the same images of `--dataset`, each through its own test mapper (its own
test size), prepared in memory beforehand: the timing covers the model's forward only (network
+ post-processing), one image at a time, after `--warmup` forwards per model. The models take
turns image by image, so that load changes on a shared machine hit them alike. On CUDA the
device is synchronised around every forward. Weights default to each config's MODEL.WEIGHTS;
KEY VALUE overrides apply to every model. Latencies depend on the detections, hence on the
weights: every model needs its trained weights (one without any is refused).
"""
import argparse
import platform
import sys
import time

import numpy as np

from dld_d2.environment import require_detectron2


def _name_value(text):
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=_name_value, action="append", required=True, metavar="NAME=CONFIG",
                   help="a model to time (repeat; the first is the reference of the ratios)")
    p.add_argument("--weights", type=_name_value, action="append", default=[], metavar="NAME=PATH",
                   help="weights of a model (default: its config's MODEL.WEIGHTS)")
    p.add_argument("--dataset", help="registered test set (default: the first model's DATASETS.TEST[0])")
    p.add_argument("--num-images", type=int, default=50, help="first N images of the test set")
    p.add_argument("--warmup", type=int, default=3, help="untimed forwards per model first")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--output", help="write the results as json here")
    p.add_argument("--md", help="write the results as markdown here")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides, for every model")
    args = p.parse_args(argv)
    names = [n for n, _ in args.model]
    if len(set(names)) != len(names):
        p.error(f"model names must be unique: {names}")
    unknown = {n for n, _ in args.weights} - set(names)
    if unknown:
        p.error(f"--weights for unknown model(s) {sorted(unknown)}; models: {names}")
    return args


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_forward(model, inp, device):
    """(seconds, output dict) of one batch-1 forward."""
    _sync(device)
    t0 = time.perf_counter()
    (out,) = model([inp])
    _sync(device)
    return time.perf_counter() - t0, out


def markdown(report) -> str:
    env = report["environment"]
    lines = [
        "# Inference speed (batch 1)",
        "",
        f"Measured by `python tools/benchmark.py` on the first {report['num_images']} images of "
        f"`{report['dataset']}` ({report['warmup']} warm-up forwards per model), device "
        f"`{env['device']}`, {env['threads']} torch thread(s). Latency = the model's forward "
        "(network + post-processing), data loading excluded; ratio = mean latency / the first "
        "model's.",
        "",
        "| model | config | network input short side | mean ms/image | median ms/image | images/s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {m['name']} | `{m['config_file']}` | {m['input_short_side_mean']:.1f} "
        f"| {m['latency_ms_mean']:.1f} | {m['latency_ms_median']:.1f} | {m['images_per_s']:.2f} "
        f"| {m['latency_ratio']:.3f} |"
        for m in report["models"]
    ]
    lines += [
        "",
        f"Environment: Python {env['python']}, torch {env['torch']}, {env['cpu']}"
        + (f", {env['gpu']}" if env.get("gpu") else "") + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    require_detectron2("benchmark.py")

    import torch
    from detectron2.utils.logger import setup_logger

    from dld_d2.checkpoint.trained_model import build_trained_model
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.data.dataset_records import DatasetLoadError, dataset_records
    from dld_d2.evaluation.flops import input_short_side
    from dld_d2.evaluation.reports import write_reports

    logger = setup_logger(name="dld_d2")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    logger.info(f"torch threads: {torch.get_num_threads()}")
    weights = dict(args.weights)

    models = []
    for name, config in args.model:
        try:
            cfg, model = build_trained_model(config, args.opts, weights.get(name), name)
        except FileNotFoundError as e:
            sys.exit(f"{e}; --weights {name}=PATH gives this model other weights")
        models.append({"name": name, "config_file": config, "cfg": cfg, "model": model})

    dataset = args.dataset or models[0]["cfg"].DATASETS.TEST[0]
    try:
        dicts = dataset_records(dataset)[: args.num_images]
    except DatasetLoadError as e:
        sys.exit(str(e))
    if not dicts:
        sys.exit(f"{dataset} has no images")
    for m in models:
        mapper = TextSpottingDatasetMapper(m["cfg"], False)
        m["inputs"] = [mapper(d) for d in dicts]
        m["device"] = torch.device(m["cfg"].MODEL.DEVICE)
        m["seconds"], m["short_sides"] = [], []

    with torch.no_grad():
        for m in models:
            for i in range(args.warmup):
                _timed_forward(m["model"], m["inputs"][i % len(dicts)], m["device"])
        for i in range(len(dicts)):
            for m in models:
                seconds, out = _timed_forward(m["model"], m["inputs"][i], m["device"])
                m["seconds"].append(seconds)
                m["short_sides"].append(input_short_side(m["inputs"][i], out))

    results = []
    for m in models:
        ms = np.array(m["seconds"]) * 1e3
        results.append({
            "name": m["name"],
            "config_file": m["config_file"],
            "weights": m["cfg"].MODEL.WEIGHTS,
            "input_short_side_mean": float(np.mean(m["short_sides"])),
            "latency_ms_mean": float(ms.mean()),
            "latency_ms_median": float(np.median(ms)),
            "latency_ms_std": float(ms.std()),
            "images_per_s": float(1e3 / ms.mean()),
            "latency_ms": [round(float(v), 3) for v in ms],
        })
    for r in results:
        r["latency_ratio"] = r["latency_ms_mean"] / results[0]["latency_ms_mean"]

    device = models[0]["device"]
    report = {
        "dataset": dataset,
        "num_images": len(dicts),
        "warmup": args.warmup,
        "opts": args.opts,
        "models": results,
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
    }
    text = markdown(report)
    print(text)
    write_reports(report, text, args.output, args.md, logger)


if __name__ == "__main__":
    main()
