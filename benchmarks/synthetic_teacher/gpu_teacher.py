#!/usr/bin/env python3
"""Train the two-stage synthetic teacher on a GPU, as long as a time budget allows.

    python benchmarks/synthetic_teacher/gpu_teacher.py --out output/gpu_teacher --budget-s 420 \
        --variant b2:2 --variant b8:8

The CPU configs (configs/synth/reader_warmup_cpu.yaml, then teacher_warm_cpu.yaml) run on
MODEL.DEVICE cuda; each variant NAME:IMS_PER_BATCH sets the batch and keeps the learning rate.
The variants train side by side on the one GPU. First a 40-step calibration of each stage
measures seconds per step; then each variant gets the most steps, split between the stages as
the CPU schedule splits them (1,000 : 2,200), whose time fits the budget. A stage still running
at the deadline is stopped and its last checkpoint evaluated. Writes OUT/summary.json (steps,
seconds per step, minutes, and the test-split scores of each variant) and OUT/NAME/teacher.pth
(the joint stage's model weights alone). Results: benchmarks/synthetic_teacher/README.md.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WARMUP_CONFIG = "configs/synth/reader_warmup_cpu.yaml"
JOINT_CONFIG = "configs/synth/teacher_warm_cpu.yaml"
CPU_SPLIT = (1000, 2200)  # the CPU schedule's steps of warm-up and joint training
STARTUP_S = 30.0  # a train_net.py process's start-up and data loading before its first step
EVAL_RESERVE_S = 75.0  # the joint stage's evaluation on the test split, and the weights' export


def plan_steps(warmup_s_per_step: float, joint_s_per_step: float, budget_s: float,
               split=CPU_SPLIT, startup_s: float = STARTUP_S, multiple: int = 50):
    """(warm-up steps, joint steps) in the ratio `split`, each a multiple of `multiple`, whose
    training time plus two start-ups fits `budget_s`; ValueError when not even one multiple fits."""
    if warmup_s_per_step <= 0 or joint_s_per_step <= 0:
        raise ValueError("seconds per step must be positive")
    share = split[0] / float(sum(split))
    per_step = share * warmup_s_per_step + (1.0 - share) * joint_s_per_step
    total = (budget_s - 2 * startup_s) / per_step
    warmup = int(total * share) // multiple * multiple
    joint = int(total * (1.0 - share)) // multiple * multiple
    if warmup < multiple or joint < multiple:
        raise ValueError("a budget of %.0f s fits no schedule at %.3f / %.3f s a step"
                         % (budget_s, warmup_s_per_step, joint_s_per_step))
    return warmup, joint


def seconds_per_step(output_dir: str) -> float:
    """The last logged median seconds per step of a finished run (Detectron2's metrics.json)."""
    with open(os.path.join(output_dir, "metrics.json"), encoding="utf-8") as f:
        times = [r["time"] for r in map(json.loads, f) if "time" in r]
    if not times:
        raise RuntimeError("%s/metrics.json logged no step time" % output_dir)
    return float(times[-1])


def train_cmd(args, config, out_dir, ims, steps, extra):
    return [sys.executable, "train_net.py", "--config-file", config, "MODEL.DEVICE", args.device,
            "SOLVER.IMS_PER_BATCH", str(ims), "SOLVER.MAX_ITER", str(steps),
            "DATALOADER.NUM_WORKERS", str(args.workers), "OUTPUT_DIR", out_dir] + list(args.opts) + list(extra)


def run_all(cmds, logs, timeout_s):
    """Run the commands side by side; a command still running after timeout_s is killed.
    Returns each one's return code (None: killed at the deadline)."""
    procs, files = [], []
    for cmd, log in zip(cmds, logs):
        os.makedirs(os.path.dirname(log), exist_ok=True)
        files.append(open(log, "w"))
        procs.append(subprocess.Popen(cmd, cwd=REPO, stdout=files[-1], stderr=subprocess.STDOUT))
    deadline = time.time() + timeout_s
    codes = []
    try:
        for p in procs:
            try:
                codes.append(p.wait(timeout=max(1.0, deadline - time.time())))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                codes.append(None)
    finally:
        for f in files:
            f.close()
    return codes


def last_checkpoint(out_dir):
    with open(os.path.join(out_dir, "last_checkpoint"), encoding="utf-8") as f:
        return os.path.join(out_dir, f.read().strip())


def export_weights(checkpoint, path):
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    torch.save({"model": state["model"]}, path)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="output/gpu_teacher", help="output folder")
    p.add_argument("--budget-s", type=float, default=420.0,
                   help="seconds for calibration, both stages and the evaluation")
    p.add_argument("--variant", action="append", default=None,
                   help="NAME:IMS_PER_BATCH (repeatable; default b2:2)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--workers", type=int, default=5, help="data-loading processes per run")
    p.add_argument("--calibration-steps", type=int, default=40)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every run")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    out = os.path.abspath(args.out)
    variants = []
    for v in args.variant or ["b2:2"]:
        name, _, ims = v.partition(":")
        if not name or not ims.isdigit():
            raise SystemExit("--variant %r: expected NAME:IMS_PER_BATCH, e.g. b8:8" % v)
        variants.append((name, int(ims)))
    summary = {"budget_s": args.budget_s, "device": args.device, "variants": {}}
    try:
        import torch

        summary["torch"] = torch.__version__
        summary["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass

    # 1. Calibration: each stage of each variant, side by side (more contention than later).
    cmds, logs, dirs = [], [], []
    for name, ims in variants:
        for stage, config in (("warmup", WARMUP_CONFIG), ("joint", JOINT_CONFIG)):
            d = os.path.join(out, name, "calibrate_" + stage)
            dirs.append(d)
            logs.append(d + ".log")
            cmds.append(train_cmd(args, config, d, ims, args.calibration_steps,
                                  ["MODEL.WEIGHTS", "", "DATASETS.TEST", "()"]))
    codes = run_all(cmds, logs, args.budget_s / 3)
    for code, log in zip(codes, logs):
        if code != 0:
            with open(log, encoding="utf-8", errors="replace") as f:
                sys.stdout.write(f.read()[-4000:])
            raise SystemExit("calibration failed (%s): %s" % (code, log))
    rates = [seconds_per_step(d) for d in dirs]

    # 2. Both stages of each variant, in the time left.
    left = args.budget_s - (time.time() - start) - EVAL_RESERVE_S
    plans = {}
    for i, (name, ims) in enumerate(variants):
        tw, tj = rates[2 * i], rates[2 * i + 1]
        plans[name] = plan_steps(tw, tj, left)
        summary["variants"][name] = {"ims_per_batch": ims, "calibration_s_per_step":
                                     {"warmup": tw, "joint": tj}, "steps": plans[name]}
        print("%s: %.3f / %.3f s a step -> %d + %d steps" % (name, tw, tj, *plans[name]), flush=True)
    stage_start = time.time()
    codes = run_all(
        [train_cmd(args, WARMUP_CONFIG, os.path.join(out, n, "warmup"), ims, plans[n][0],
                   ["SOLVER.CHECKPOINT_PERIOD", str(max(50, plans[n][0] // 2))])
         for n, ims in variants],
        [os.path.join(out, n, "warmup.log") for n, _ in variants],
        args.budget_s - (time.time() - start) - EVAL_RESERVE_S)
    for (name, _), code in zip(variants, codes):
        summary["variants"][name]["warmup_minutes"] = (time.time() - stage_start) / 60
        summary["variants"][name]["warmup_rc"] = code
    joint_start = time.time()
    cmds, logs = [], []
    for name, ims in variants:
        w = os.path.join(out, name, "warmup")
        weights = last_checkpoint(w) if os.path.exists(os.path.join(w, "last_checkpoint")) else ""
        n2 = plans[name][1]
        cmds.append(train_cmd(args, JOINT_CONFIG, os.path.join(out, name, "joint"), ims, n2,
                              ["MODEL.WEIGHTS", weights, "SOLVER.CHECKPOINT_PERIOD", str(max(50, n2 // 4))]))
        logs.append(os.path.join(out, name, "joint.log"))
    codes = run_all(cmds, logs, args.budget_s - (time.time() - start) - 15.0)
    for (name, _), code in zip(variants, codes):
        v = summary["variants"][name]
        v["joint_minutes_with_eval"] = (time.time() - joint_start) / 60
        v["joint_rc"] = code
        d = os.path.join(out, name, "joint")
        try:
            v["s_per_step"] = {"warmup": seconds_per_step(os.path.join(out, name, "warmup")),
                               "joint": seconds_per_step(d)}
            ckpt = last_checkpoint(d)
            v["checkpoint"] = os.path.relpath(ckpt, out)
            export_weights(ckpt, os.path.join(out, name, "teacher.pth"))
            for res in sorted(glob.glob(os.path.join(d, "inference", "*", "text_results.json"))):
                with open(res, encoding="utf-8") as f:
                    v.setdefault("test", {})[os.path.basename(os.path.dirname(res))] = \
                        json.load(f)["text_spotting"]
        except (OSError, RuntimeError, KeyError) as e:
            v["error"] = "%s: %s" % (type(e).__name__, e)
    summary["wall_minutes"] = (time.time() - start) / 60
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
