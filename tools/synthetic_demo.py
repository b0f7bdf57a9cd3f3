#!/usr/bin/env python
"""The main job on the built-in synthetic scenes: train the teacher on CPU, evaluate it, demo it.

    python tools/synthetic_demo.py                       # configs/synth/teacher_cpu.yaml
    python tools/synthetic_demo.py --teacher-weights model_final.pth   # skip training

Steps (each one a command a user could type; their logs go to OUTPUT/logs/):
  1. draw a few training scenes with their annotations  (tools/visualize_data.py)
  2. train the teacher, evaluating it at the end         (train_net.py)
  3. spot text in a few test images                      (tools/demo.py)
  4. write OUTPUT/summary.md and summary.json (hmeans, training time) and print them.
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", default="configs/synth/teacher_cpu.yaml")
    p.add_argument("--output", default="output/demo", help="output folder")
    p.add_argument("--teacher-weights", default="", help="use these weights instead of training")
    p.add_argument("--num-demo", type=int, default=4, help="test images to run the demo on")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return p.parse_args(argv)


def _run(cmd, log_path):
    """Run one step, teeing nothing: its whole output goes to `log_path`; fail loudly."""
    print("$", " ".join(cmd), flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.run([sys.executable] + cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-4000:]
        raise SystemExit(f"step failed ({log_path}):\n{tail}")


def main(argv=None):
    args = parse_args(argv)
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(REPO, args.config_file))
    cfg.merge_from_list(args.opts)
    test_set = cfg.DATASETS.TEST[0]
    out = os.path.abspath(args.output)
    teacher_dir = os.path.join(out, "teacher")
    os.makedirs(os.path.join(out, "logs"), exist_ok=True)

    _run(["tools/visualize_data.py", "--source", "annotation", "--config-file", args.config_file,
          "--num", "4", "--output-dir", os.path.join(out, "samples")] + args.opts,
         os.path.join(out, "logs", "samples.log"))

    t0 = time.time()
    if args.teacher_weights:
        weights = os.path.abspath(args.teacher_weights)
        _run(["train_net.py", "--config-file", args.config_file, "--eval-only",
              "MODEL.WEIGHTS", weights, "OUTPUT_DIR", teacher_dir] + args.opts,
             os.path.join(out, "logs", "evaluate.log"))
    else:
        weights = os.path.join(teacher_dir, "model_final.pth")
        _run(["train_net.py", "--config-file", args.config_file, "OUTPUT_DIR", teacher_dir] + args.opts,
             os.path.join(out, "logs", "train.log"))
    minutes = (time.time() - t0) / 60

    with open(os.path.join(teacher_dir, "inference", test_set, "text_results.json")) as f:
        results = json.load(f)["text_spotting"]

    from detectron2.data import DatasetCatalog

    images = [d["file_name"] for d in DatasetCatalog.get(test_set)[: args.num_demo]]
    _run(["tools/demo.py", "--config-file", args.config_file, "--input", *images,
          "--output", os.path.join(out, "demo"), "--save-json", "MODEL.WEIGHTS", weights] + args.opts,
         os.path.join(out, "logs", "demo.log"))

    summary = {
        "config": args.config_file, "test_set": test_set, "weights": weights,
        "minutes": round(minutes, 1), "trained": not args.teacher_weights,
        "results": {k: round(v, 2) for k, v in results.items()},
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    r = summary["results"]
    lines = [
        f"# Synthetic teacher ({args.config_file})", "",
        f"{'Training and evaluation' if summary['trained'] else 'Evaluation'} took "
        f"{summary['minutes']} min on this machine. Test set: `{test_set}` (percent).", "",
        "| det P | det R | det H | E2E P | E2E R | E2E H | WS H |", "|---|---|---|---|---|---|---|",
        f"| {r['det_precision']} | {r['det_recall']} | {r['det_hmean']} | {r['e2e_none_precision']} "
        f"| {r['e2e_none_recall']} | {r['e2e_none_hmean']} | {r.get('ws_none_hmean', '-')} |", "",
        f"Training scenes: `{out}/samples/`; demo outputs: `{out}/demo/`.",
    ]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
