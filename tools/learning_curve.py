#!/usr/bin/env python
"""E2E, word-spotting and detection hmean of every checkpoint of a training run, against the
training minutes it had taken (from the run's metrics.json).

    python tools/learning_curve.py --run-dir output/synth_teacher --num-images 50

Evaluates model_*.pth and model_final.pth of --run-dir with the run's own config.yaml (plus KEY
VALUE overrides) on its test set, and writes curve.json, curve.md and curve.png to --output
(default: RUN_DIR/learning_curve). Called again (during training, say) with the same options,
it evaluates only the checkpoints that are new since. Minutes are training time only: evaluation during training
and between runs is not counted. With --after EARLIER_RUN_DIR (the run whose weights this one
started from, e.g. a reader warm-up) they include that run's training minutes.
A checkpoint that does not fit the config ends the call with an error naming it, after the
points before it are written.
"""
import argparse
import glob
import json
import logging
import os
import re
import sys

from dld_d2.environment import require_detectron2

METRICS = ("e2e_none_hmean", "ws_none_hmean", "det_hmean")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="a train_net.py OUTPUT_DIR")
    p.add_argument("--config-file", help="default: RUN_DIR/config.yaml (written by train_net.py)")
    p.add_argument("--dataset", help="registered test set (default: the config's DATASETS.TEST[0])")
    p.add_argument("--num-images", type=int, default=0, help="first N test images (0: all)")
    p.add_argument("--output", help="output folder (default: RUN_DIR/learning_curve)")
    p.add_argument("--after", metavar="EARLIER_RUN_DIR",
                   help="the run whose weights RUN_DIR started from (MODEL.WEIGHTS, e.g. a "
                        "warm-up): its training minutes are added to every point")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return p.parse_args(argv)


def checkpoints(run_dir):
    """[(iteration, path)] of a run's checkpoints in training order; model_final counts as the
    iteration after the last logged one (Detectron2 names it without its iteration)."""
    found = []
    for path in glob.glob(os.path.join(run_dir, "model_*.pth")):
        m = re.fullmatch(r"model_(\d+)\.pth", os.path.basename(path))
        if m:
            found.append((int(m.group(1)) + 1, path))  # model_0000499 holds 500 steps
    final = os.path.join(run_dir, "model_final.pth")
    if os.path.isfile(final):
        last = read_metrics(run_dir)
        steps = (max(r["iteration"] for r in last) + 1) if last else None
        if steps is None or all(steps != it for it, _ in found):
            found.append((steps, final))
    return sorted(found, key=lambda x: (x[0] is None, x[0] or 0))


def read_metrics(run_dir):
    """The training records of RUN_DIR/metrics.json (one json object per line); the lines
    without a step time (evaluation results) are left out."""
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(path):
        return []
    records = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}, line {n}: not json ({e})") from None
            if "time" in r and "iteration" in r:
                records.append(r)
    return records


def training_minutes(records, steps):
    """Minutes of training to reach `steps` steps: each logged window's mean step time times the
    steps since the previous record (Detectron2 logs every 20 steps)."""
    total, prev = 0.0, -1
    for r in sorted(records, key=lambda r: r["iteration"]):
        it = min(r["iteration"], steps - 1)
        if it <= prev:
            break
        total += r["time"] * (it - prev)
        prev = it
    return total / 60.0


def earlier_points(path, args, dataset):
    """{(steps, weights name): point} of an earlier curve.json of the same run, test set, image
    count and overrides, so that a call during training evaluates only the new checkpoints
    (model_final.pth is always evaluated again: a resumed run rewrites it)."""
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        try:
            earlier = json.load(f)
        except json.JSONDecodeError:
            return {}
    # Resolved paths: a relative and an absolute path to the same run are the same run.
    def resolved(path):
        return os.path.realpath(path) if path else None

    same = (resolved(earlier.get("run_dir")) == resolved(args.run_dir)
            and earlier.get("opts") == list(args.opts)
            and earlier.get("num_images") == (args.num_images or None)
            and earlier.get("dataset") == dataset
            and resolved(earlier.get("after")) == resolved(args.after))
    if not same:
        return {}
    return {(p["steps"], p["weights"]): p for p in earlier.get("points", [])
            if p["weights"] != "model_final.pth"}


def markdown(curve, run_dir, dataset, after=None, after_minutes=0.0):
    lines = [f"# Learning curve of `{run_dir}` on `{dataset}`", ""]
    if after:
        lines += [f"Training minutes include the {after_minutes:.1f} minutes of `{after}`, the "
                  "run these weights started from.", ""]
    lines += ["| steps | training minutes | E2E H | WS H | det H |", "|---|---|---|---|---|"]
    for p in curve:
        mins = "-" if p["minutes"] is None else f"{p['minutes']:.1f}"
        lines.append(f"| {p['steps']} | {mins} | " + " | ".join(
            f"{p[k]:.1f}" if k in p else "-" for k in METRICS) + " |")
    return "\n".join(lines) + "\n"


def plot(curve, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [p for p in curve if p["minutes"] is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in zip(METRICS, ("E2E", "word spotting", "detection")):
        ax.plot([p["minutes"] for p in pts], [p.get(key, float("nan")) for p in pts], "o-", label=label)
    ax.set_xlabel("training minutes")
    ax.set_ylabel("hmean (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate(cfg, model, dataset, records):
    from detectron2.data import build_detection_test_loader
    from detectron2.evaluation import inference_on_dataset

    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

    loader = build_detection_test_loader(records, mapper=TextSpottingDatasetMapper(cfg, False))
    results = inference_on_dataset(model, loader, TextSpottingEvaluator.from_config(cfg, dataset))
    return results.get("text_spotting", {})


def write_curve(out, curve, args, config, dataset, after_minutes=0.0):
    """curve.md, curve.json and curve.png in `out`; returns the markdown."""
    os.makedirs(out, exist_ok=True)
    md = markdown(curve, args.run_dir, dataset, args.after, after_minutes)
    with open(os.path.join(out, "curve.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "curve.json"), "w") as f:
        # run_dir as given (a repository-relative path stays relative in committed curves);
        # earlier_points compares resolved paths.
        json.dump({"run_dir": args.run_dir, "config": config, "dataset": dataset,
                   "num_images": args.num_images or None, "opts": list(args.opts),
                   "after": args.after, "after_minutes": after_minutes if args.after else None,
                   "points": curve}, f, indent=1)
    plot(curve, os.path.join(out, "curve.png"), f"{os.path.basename(os.path.normpath(args.run_dir))} on {dataset}")
    return md


def main(argv=None) -> int:
    args = parse_args(argv)
    require_detectron2("learning_curve.py")
    from detectron2.utils.logger import setup_logger

    import dld_d2  # noqa: F401  (registers the datasets and the model)
    from dld_d2.checkpoint.trained_model import build_trained_model, trained_config
    from dld_d2.data.dataset_records import dataset_records

    logger = setup_logger(name="dld_d2")
    config = args.config_file or os.path.join(args.run_dir, "config.yaml")
    if not os.path.isfile(config):
        print(f"error: no config {config} (pass --config-file)", file=sys.stderr)
        return 2
    found = checkpoints(args.run_dir)
    if not found:
        print(f"error: no model_*.pth in {args.run_dir}", file=sys.stderr)
        return 2
    dataset = args.dataset or trained_config(config, args.opts).DATASETS.TEST[0]
    try:
        test_records = dataset_records(dataset, args.num_images)
    except ValueError as e:  # not registered, or its loader failed
        print(f"error: {e}", file=sys.stderr)
        return 2
    metrics = read_metrics(args.run_dir)
    after_minutes = 0.0
    if args.after:
        earlier = read_metrics(args.after)
        if not earlier:
            print(f"error: --after {args.after}: no training records in its metrics.json",
                  file=sys.stderr)
            return 2
        after_minutes = training_minutes(earlier, max(r["iteration"] for r in earlier) + 1)
    out = args.output or os.path.join(args.run_dir, "learning_curve")
    done = earlier_points(os.path.join(out, "curve.json"), args, dataset)
    curve, failure = [], None
    for steps, path in found:
        if (steps, os.path.basename(path)) in done:  # evaluated by an earlier call during training
            curve.append(done[(steps, os.path.basename(path))])
            continue
        try:
            cfg, model = build_trained_model(config, args.opts, weights=path)
        except (FileNotFoundError, ValueError) as e:  # a checkpoint that does not fit the config
            failure = f"checkpoint {path} cannot be evaluated with {config}: {e}"
            break
        res = evaluate(cfg, model, dataset, test_records)
        point = {"steps": steps, "weights": os.path.basename(path),
                 "minutes": (training_minutes(metrics, steps) + after_minutes
                             if metrics and steps else None)}
        point.update({k: float(res[k]) for k in METRICS if k in res})
        curve.append(point)
        logger.info("learning curve: %s", point)
    # The points before a failing checkpoint are kept (a later call reuses them).
    md = write_curve(out, curve, args, config, dataset, after_minutes) if curve else ""
    if failure:
        kept = f"the {len(curve)} point(s) before it are in {out}" if curve else "no point written"
        print(f"error: {failure}; {kept}", file=sys.stderr)
        return 2
    print(md)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
