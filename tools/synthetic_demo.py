#!/usr/bin/env python
"""The main job on the built-in synthetic scenes: teacher → DLD → baselines → results, on CPU.

    python tools/synthetic_demo.py                                  # teacher → DLD γ = 0.1 (README)
    python tools/synthetic_demo.py --full                           # and γ = 0.3, the fixed baseline
    python tools/synthetic_demo.py --teacher-weights model_final.pth    # reuse a teacher
    python tools/synthetic_demo.py --warmup-config "" --config-file configs/synth/teacher_cpu.yaml
                                                                    # the one-stage teacher
    python tools/synthetic_demo.py --teacher-only                   # teacher, its evaluation, demo
    python tools/synthetic_demo.py --reuse-trained                  # evaluate trained models again
    python tools/synthetic_demo.py --full --resume                  # go on where a run stopped
    python tools/synthetic_demo.py --full --rows-from benchmarks/synthetic_dld/summary.json
                                    # rows of an earlier run of the same teacher instead of training

Steps (each one a command a user could type; their logs go to OUTPUT/logs/):
  1. draw a few training scenes with their annotations         (tools/visualize_data.py)
  2. train the teacher in two stages, a reader warm-up on word sheets, then the whole spotter
     from its weights, and evaluate it with GFLOPs              (train_net.py)
     (and at DLD's teacher view when that differs: the reference row of the ratios)
  3. spot text in a few test images                             (tools/demo.py)
  4. distil it: DLD with γ = 0.1; with --full also γ = 0.3 and the fixed-low-scale baseline
                                                                (train_net.py)
  5. with --full: evaluate the fixed-scale student at other test scales (train_net.py --eval-only)
  6. CPU latency of the teacher and the DLD students             (tools/benchmark.py)
  7. write OUTPUT/summary.md, summary.json and hmean_vs_gflops.png, and print the table.
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The distilled models: name, overrides of the distillation config, what the row means, and
#: whether the default path trains it (the others come with --full).
DISTILLED = (
    ("dld_gamma0.1", ["MODEL.DLD.PENALTY_WEIGHT", "0.1"], "DLD, γ = 0.1", True),
    ("dld_gamma0.3", ["MODEL.DLD.PENALTY_WEIGHT", "0.3"], "DLD, γ = 0.3", False),
    # The fixed-scale baseline near DLD's cost (DLD's mean scale is 0.6-0.8), and its curve below.
    ("fixed_0.7", ["MODEL.DLD.SCALE_POLICY", "fixed", "MODEL.DLD.FIXED_SCALE", "0.7"],
     "fixed scale 0.7, no selector", False),
)
FIXED = "fixed_0.7"


def distilled(full):
    """(name, overrides, what) of the distilled models a run trains."""
    return [(name, opts, what) for name, opts, what, default in DISTILLED if default or full]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", default="configs/synth/teacher_warm_cpu.yaml", help="teacher config")
    p.add_argument("--warmup-config", default="configs/synth/reader_warmup_cpu.yaml",
                   help="the reader warm-up trained before the teacher, which starts from its "
                        "weights (\"\": none, the teacher config's own MODEL.WEIGHTS)")
    p.add_argument("--output", default="output/demo", help="output folder")
    p.add_argument("--distill-config", default="configs/synth/distill_cpu.yaml",
                   help="distillation config (the rows differ by γ and scale policy only)")
    p.add_argument("--teacher-weights", default="", help="use these weights instead of training")
    p.add_argument("--teacher-only", action="store_true", help="stop after the teacher's demo")
    p.add_argument("--full", action="store_true",
                   help="also DLD γ = 0.3 and the fixed-scale baseline with its curve at "
                        "--curve-scales (about an hour more on 2 cores: README)")
    p.add_argument("--distilled", nargs="+", choices=[name for name, *_ in DISTILLED], default=None,
                   help="the distilled rows to produce instead of the default path's (γ = 0.1) "
                        "or --full's (all three); with --rows-from, those it lacks are trained")
    p.add_argument("--reuse-trained", action="store_true",
                   help="evaluate a training step's model_final.pth where OUTPUT holds one instead "
                        "of training again (after a change to evaluation only; the table marks it)")
    p.add_argument("--resume", action="store_true",
                   help="go on with a run that stopped: as --reuse-trained for the finished steps, "
                        "and a training step that has checkpoints but no model_final.pth continues "
                        "from its last one (train_net.py --resume; the table marks it). Both "
                        "refuse a step folder trained with other options than this run's")
    p.add_argument("--num-demo", type=int, default=4, help="test images to run the demo on")
    p.add_argument("--num-latency", type=int, default=20, help="test images timed for latency")
    p.add_argument("--curve-scales", type=float, nargs="*", default=None,
                   help="other test scales of the fixed-scale student (its curve in the plot; "
                        "with --full or --distilled fixed_0.7; default 0.5 0.6 0.8)")
    p.add_argument("--rows-from", default="",
                   help="an earlier run's summary.json: its distilled rows are taken as they are "
                        "instead of training them again, provided this run's teacher reads exactly "
                        "as the teacher of that run (the table marks them)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every step")
    args = p.parse_args(argv)
    # Options that would change nothing are refused rather than ignored.
    for option, given in (("--full", args.full), ("--distilled", args.distilled),
                          ("--rows-from", args.rows_from)):
        if given and args.teacher_only:
            p.error(f"{option} and --teacher-only contradict each other: {option} is about "
                    "distilled models")
    if args.full and args.distilled:
        p.error("--full and --distilled contradict each other: --full is --distilled with every row")
    if args.distilled is None:
        args.distilled = [name for name, _, _ in distilled(args.full)]
    if args.curve_scales is not None and FIXED not in args.distilled:
        p.error(f"--curve-scales needs --full or --distilled {FIXED} (the curve is that student's)")
    if args.curve_scales is None:
        args.curve_scales = [0.5, 0.6, 0.8]
    return args


def _run(cmd, log_path):
    """Run one step; its whole output goes to `log_path`; fail loudly with its tail."""
    print("$", " ".join(cmd), flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.run([sys.executable] + cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-4000:]
        raise SystemExit(f"step failed ({log_path}):\n{tail}")


def _results(folder, test_set):
    with open(os.path.join(folder, "inference", test_set, "text_results.json")) as f:
        return json.load(f)["text_spotting"]


def _predictions(folder, test_set):
    with open(os.path.join(folder, "inference", test_set, "text_predictions.json")) as f:
        return json.load(f)


def by_text_size(predictions, dataset_dicts, iou_threshold=0.5):
    """Per synthetic text-size regime ("small", "medium", "large"): images, words, end-to-end
    hmean (percent, no lexicon) and, for a DLD model, the mean chosen scale."""
    from dld_d2.evaluation.protocol import ProtocolConfig, evaluate
    from dld_d2.evaluation.submission import (
        gt_from_dataset_dicts,
        prediction_items,
        prepare_predictions,
    )

    regime = {str(d["image_id"]): d.get("text_scale") for d in dataset_dicts}
    gt = gt_from_dataset_dicts(dataset_dicts)
    dets, _ = prepare_predictions(prediction_items(predictions), invalid="hull", sort_by_score=True)
    groups = {}
    for p in predictions:
        if regime.get(p["image_id"]):
            groups.setdefault(regime[p["image_id"]], []).append(p)
    out = {}
    for size, preds in sorted(groups.items()):
        keys = [p["image_id"] for p in preds]
        res = evaluate({k: gt[k] for k in keys}, {k: dets[k] for k in keys},
                       ProtocolConfig.davar(iou_threshold=iou_threshold))
        out[size] = {"images": len(keys), "words": res.num_gt_care,
                     "e2e_hmean": round(100 * res.spotting["hmean"], 1)}
        scales = [p["scale"] for p in preds if "scale" in p]
        if scales:
            out[size]["mean_scale"] = round(sum(scales) / len(scales), 3)
    return out


def _flat(node, prefix=""):
    """{"A.B.C": value} of a config, sequences as tuples (a dumped config.yaml reads nested
    tuples back as lists)."""
    def plain(v):
        return tuple(plain(x) for x in v) if isinstance(v, (list, tuple)) else v

    flat = {}
    for k, v in node.items():
        if isinstance(v, dict):
            flat.update(_flat(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = plain(v)
    return flat


def _same(a, b):
    """Equal config values; two paths to one file (relative to the repository, where every step
    runs, or absolute) are equal, so a run trained by hand with relative paths can be reused."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str) and a and b:
        return os.path.realpath(os.path.join(REPO, a)) == os.path.realpath(os.path.join(REPO, b))
    return False


def trained_with_other_options(folder, config, opts):
    """The training keys on which the run in `folder` (its config.yaml, written by Detectron2)
    differs from `config` with `opts`, as "KEY (there, here)"; TEST keys and OUTPUT_DIR aside."""
    ran, now = _flat(_load_cfg(os.path.join(folder, "config.yaml"), [])), _flat(_load_cfg(config, opts))
    return [f"{k} ({ran.get(k)!r} there, {now.get(k)!r} here)" for k in sorted(ran.keys() | now.keys())
            if not _same(ran.get(k), now.get(k)) and not k.startswith("TEST.") and k != "OUTPUT_DIR"]


def pipeline(args, test_set):
    """The Pipeline of parsed command-line `args`."""
    return Pipeline(test_set, args.output, args.opts, reuse=args.reuse_trained, resume=args.resume)


class Pipeline:
    """The steps of one run into `output`. `reuse`: a training step whose folder holds a
    model_final.pth is evaluated instead of trained (--reuse-trained, and --resume's finished
    steps); `resume`: one with checkpoints but no model_final.pth goes on from its last one."""

    def __init__(self, test_set, output, opts, reuse=False, resume=False):
        self.test_set = test_set
        self.opts = list(opts)
        self.reuse, self.resume = reuse or resume, resume
        self.out = os.path.abspath(output)
        self.logs = os.path.join(self.out, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.minutes = {}
        self.reused = []
        self.resumed = []

    def step(self, name, cmd):
        t0 = time.time()
        _run(cmd, os.path.join(self.logs, f"{name}.log"))
        self.minutes[name] = round((time.time() - t0) / 60, 1)

    def train(self, name, config, opts, evaluated=True, init_weights=None):
        """Train `config` into OUTPUT/name, from `init_weights` if given (`evaluated`: the run
        ends with its evaluation)."""
        folder = os.path.join(self.out, name)
        final = os.path.join(folder, "model_final.pth")
        start = ["MODEL.WEIGHTS", init_weights] if init_weights else []
        reuse = self.reuse and os.path.isfile(final)
        # An interrupted run continues from its last checkpoint, appending to its metrics.json.
        resume = not reuse and self.resume and os.path.isfile(os.path.join(folder, "last_checkpoint"))
        if reuse or resume:
            # The run's own config.yaml (written by Detectron2) rebuilds the trained model.
            option = "--reuse-trained" if reuse else "--resume"
            if not os.path.isfile(os.path.join(folder, "config.yaml")):
                raise SystemExit(f"{option}: {folder} has no config.yaml (Detectron2 writes one per "
                                 "run); remove the folder to train this step again")
            # A step trained with other options than this run's would mix two runs in one row.
            differ = trained_with_other_options(folder, config, self.opts + opts + start)
            if differ:
                raise SystemExit(f"{option}: {folder} was trained with other options than this "
                                 "run's: " + "; ".join(differ) + ". Run with the options it was "
                                 "trained with, or remove the folder to train this step again")
        if reuse:
            if evaluated:
                self.evaluate(name, os.path.join(folder, "config.yaml"), final, opts)
            self.reused.append(name)
            return folder
        if resume:
            self.resumed.append(name)
        else:
            # Detectron2 appends to metrics.json: a rerun in the same folder would mix two runs' curves.
            stale = os.path.join(folder, "metrics.json")
            if os.path.exists(stale):
                os.remove(stale)
        self.step(name, ["train_net.py", "--config-file", config] + (["--resume"] if resume else [])
                  + ["OUTPUT_DIR", folder] + self.opts + opts + start)
        return folder

    def evaluate(self, name, config, weights, opts):
        folder = os.path.join(self.out, name)
        # GFLOPs are counted unless a step's options already say whether (the teacher's do).
        flops = [] if "TEST.TEXT.COUNT_FLOPS" in (self.opts + opts)[::2] else ["TEST.TEXT.COUNT_FLOPS", "True"]
        # Detectron2 writes the evaluation's config over the training run's config.yaml, which
        # records what was trained (a later --reuse-trained checks it): put it back after.
        trained = os.path.join(folder, "config.yaml")
        record = open(trained).read() if os.path.isfile(trained) else None
        try:
            # The weights last: no override can make it evaluate other weights than `weights`.
            self.step(name, ["train_net.py", "--config-file", config, "--eval-only", "OUTPUT_DIR", folder]
                      + flops + self.opts + opts + ["MODEL.WEIGHTS", weights])
        finally:
            if record is not None:
                with open(trained, "w") as f:
                    f.write(record)
        return folder


#: What must be equal, to the last digit, for two teachers to count as one: the test numbers.
TEACHER_IDENTITY = ("det_hmean", "e2e_none_hmean", "ws_none_hmean", "mean_gflops")


def carried_rows(path, teacher_rows, names):
    """The rows named in `names` of the earlier summary `path`, marked as carried from it, and
    its curves where the fixed-scale student is among them (they are that student's).

    Rows of students distilled in another run are only comparable with this run's if both runs
    distilled the same teacher: each of `teacher_rows` (this run's teacher rows) must have a row
    of the same name in `path` with equal `TEACHER_IDENTITY` numbers, else SystemExit. A carried
    row keeps its latency with the latency of its own teacher (`teacher_latency_ms`): the ratio
    of two timings is meaningful on one machine only.
    """
    try:
        with open(path) as f:
            earlier = json.load(f)
        by_name = {r["name"]: r for r in earlier["rows"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"--rows-from {path}: not a summary.json of this tool ({e})")
    for t in teacher_rows:
        old = by_name.get(t["name"])
        differ = [k for k in TEACHER_IDENTITY if old is None or old.get(k) != t.get(k)]
        if differ:
            raise SystemExit(
                f"--rows-from {path}: its rows were distilled from another teacher: "
                + (f"it has no {t['name']!r} row" if old is None else
                   f"{t['name']!r} differs in " + ", ".join(f"{k} ({old.get(k)} there, {t.get(k)} here)"
                                                           for k in differ))
                + "; train those rows here instead (leave out --rows-from)")
    rows = {}
    teacher = earlier["rows"][0]
    for name in names:
        if name in by_name:
            # A row the earlier run carried itself keeps where it was distilled and timed.
            rows[name] = {"carried_from": shown_path(path),
                          "teacher_latency_ms": teacher.get("latency_ms"), **by_name[name]}
    return rows, (earlier.get("curves", {}) if FIXED in rows else {})


def _load_cfg(config_file, opts):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(REPO, config_file))
    cfg.merge_from_list(opts)
    return cfg


def _test_view(cfg):
    """(short side, long-side cap) of a config's test images."""
    return cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST


def train_teacher(run, args):
    """The reader warm-up (unless --warmup-config is ""), then the teacher from its weights;
    the teacher's run folder. Training ends with its evaluation, with GFLOPs."""
    start = None
    if args.warmup_config:
        warm = run.train("reader_warmup", args.warmup_config, [], evaluated=False)
        start = os.path.join(warm, "model_final.pth")
    return run.train("teacher", args.config_file, ["TEST.TEXT.COUNT_FLOPS", "True"], init_weights=start)


def main(argv=None):
    args = parse_args(argv)
    cfg = _load_cfg(args.config_file, args.opts)
    test_set = cfg.DATASETS.TEST[0]
    test_short = cfg.INPUT.MIN_SIZE_TEST
    run = pipeline(args, test_set)
    out = run.out

    run.step("samples", ["tools/visualize_data.py", "--source", "annotation", "--config-file",
                         args.config_file, "--num", "4", "--output-dir", os.path.join(out, "samples")]
             + args.opts)

    if args.teacher_weights:
        teacher = os.path.abspath(args.teacher_weights)
        teacher_results = run.evaluate("teacher_eval", args.config_file, teacher, [])
    else:
        teacher_results = train_teacher(run, args)
        teacher = os.path.join(teacher_results, "model_final.pth")

    from dld_d2.data.dataset_records import dataset_records

    dicts = dataset_records(test_set)
    images = [d["file_name"] for d in dicts[: args.num_demo]]
    run.step("demo", ["tools/demo.py", "--config-file", args.config_file, "--input", *images,
                      "--output", os.path.join(out, "demo"), "--save-json", "MODEL.WEIGHTS", teacher]
             + args.opts)

    def measured(what, folder):
        """A step's results, and by text size where the test set has sizes."""
        r = {"what": what, **_results(folder, test_set)}
        size = by_text_size(_predictions(folder, test_set), dicts, cfg.TEST.TEXT.IOU_THRESH)
        if size:
            r["by_text_size"] = size
        return r

    def row(name, what, folder, weights):
        # The run's own full config (config.yaml, written by Detectron2) rebuilds it exactly.
        return {"name": name, "config": os.path.join(folder, "config.yaml"), "weights": weights,
                **measured(what, folder)}

    rows = [row("teacher", f"teacher at S-{test_short}", teacher_results, teacher)]
    curves = {"fixed-scale student at other test scales": []}
    if not args.teacher_only:
        view = _test_view(_load_cfg(args.distill_config, args.opts))
        if view != _test_view(cfg):
            # The teacher where DLD's frozen teacher reads (its teacher view) is the reference
            # row of the ratios, as in the paper (teacher at S-896, students at 0.3-0.8 of it).
            folder = run.evaluate("teacher_at_dld_view", args.config_file, teacher,
                                  ["INPUT.MIN_SIZE_TEST", str(view[0]), "INPUT.MAX_SIZE_TEST", str(view[1])])
            rows.insert(0, row("teacher_dld_view", f"teacher at S-{view[0]} (DLD's teacher view)",
                               folder, teacher))
        carried, carried_curves = (carried_rows(args.rows_from, rows, args.distilled)
                                   if args.rows_from else ({}, {}))
        curves.update(carried_curves)
        for name, opts, what in distilled(full=True):
            if name not in args.distilled:
                continue
            if name in carried:
                rows.append(carried[name])
                continue
            folder = run.train(name, args.distill_config, ["MODEL.DLD.TEACHER_WEIGHTS", teacher] + opts)
            rows.append(row(name, what, folder, os.path.join(folder, "model_final.pth")))
        fixed = next((r for r in rows if r["name"] == FIXED and r["name"] not in carried), None)
        for s in args.curve_scales if fixed else ():
            folder = run.evaluate(f"fixed_at_{s:g}", fixed["config"], fixed["weights"],
                                  ["MODEL.DLD.FIXED_SCALE", str(s)])
            # By text size too: where the fixed student's reading stops improving with scale.
            curves["fixed-scale student at other test scales"].append(
                measured(f"{fixed['what'].split(',')[0]} student, tested at {s:g}", folder))

        cmd = ["tools/benchmark.py", "--dataset", test_set, "--num-images", str(args.num_latency),
               "--output", os.path.join(out, "latency.json"), "--md", os.path.join(out, "latency.md")]
        timed = [r for r in rows if r["name"] not in carried]
        for r in timed:
            cmd += ["--model", f"{r['name']}={r['config']}", "--weights", f"{r['name']}={r['weights']}"]
        run.step("latency", cmd)
        with open(os.path.join(out, "latency.json")) as f:
            latency = {m["name"]: m for m in json.load(f)["models"]}
        for r in timed:
            r["latency_ms"] = latency[r["name"]]["latency_ms_mean"]

    # Paths as a reader of the committed results can follow them: relative to the repository.
    rows = [r if "carried_from" in r else
            {**r, "config": shown_path(r["config"]), "weights": shown_path(r["weights"])} for r in rows]
    summary = {"test_set": test_set, "teacher_trained": not args.teacher_weights,
               "minutes": run.minutes, "reused": run.reused, "resumed": run.resumed, "rows": rows, "curves": curves}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    lines = summary_markdown(summary)
    if not args.teacher_only:
        plot(summary, os.path.join(out, "hmean_vs_gflops.png"))
        lines += ["", "![E2E hmean against GFLOPs](hmean_vs_gflops.png)"]
    lines += ["", f"Training scenes: `{shown_path(out)}/samples/`; demo outputs: "
              f"`{shown_path(out)}/demo/`."]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def shown_path(path):
    """`path` relative to the repository when it lies inside it, else as it is."""
    rel = os.path.relpath(os.path.abspath(path), REPO)
    return path if rel == ".." or rel.startswith(".." + os.sep) else rel


def summary_markdown(summary):
    rows = summary["rows"]
    teacher = rows[0]
    # Rows of an earlier run (--rows-from) are marked, here and in the by-size table.
    carried = sorted({r["carried_from"] for r in rows if "carried_from" in r})
    rows = [{**r, "what": r["what"] + " †"} if "carried_from" in r else r for r in rows]
    lines = [
        f"# DLD on the built-in synthetic scenes (test split `{summary['test_set']}`, percent)", "",
        "| model | E2E H | WS H | det H | GFLOPs | × teacher | mean short side | CPU ms/img | × teacher |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r.get("mean_gflops")
        ms = r.get("latency_ms")
        lines.append(
            f"| {r['what']} | {r['e2e_none_hmean']:.1f} | {r.get('ws_none_hmean', float('nan')):.1f} "
            f"| {r['det_hmean']:.1f} | {g:.2f} | {g / teacher['mean_gflops']:.2f} "
            f"| {r['mean_input_short_side']:.0f} "
            + (f"| {ms:.0f} | {ms / r.get('teacher_latency_ms', teacher['latency_ms']):.2f} |"
               if ms else "| - | - |")
        )
    if carried:
        lines += ["", "† distilled in an earlier run (" + ", ".join(f"`{c}`" for c in carried)
                  + ", `--rows-from`) from a teacher that reads exactly as this one (test numbers "
                  "equal to the last digit); its CPU latency was measured there, beside that "
                  "run's teacher, and its ratio is to that teacher."]
    for name, points in summary["curves"].items():
        if points:
            pts = ", ".join(f"{p['mean_gflops']:.2f} G → {p['e2e_none_hmean']:.1f}" for p in points)
            lines += ["", f"{name}: {pts}"]
    sizes = [k for k in ("small", "medium", "large") if k in rows[0].get("by_text_size", {})]
    if sizes:
        counts = rows[0]["by_text_size"]
        lines += ["", "By text size (" + ", ".join(
            f"{k}: {counts[k]['images']} images, {counts[k]['words']} words" for k in sizes) + "):", "",
            "| model | " + " | ".join(f"{k} E2E | {k} scale" for k in sizes) + " |",
            "|---|" + "---|---|" * len(sizes)]
        points = [p for ps in summary["curves"].values() for p in ps if "by_text_size" in p]
        for r in rows + points:
            by_size = r.get("by_text_size", {})
            cells = [(by_size.get(k, {}).get("e2e_hmean"), by_size.get(k, {}).get("mean_scale")) for k in sizes]
            lines.append(f"| {r['what']} | " + " | ".join(
                f"{'-' if h is None else f'{h:.1f}'} | {'-' if sc is None else f'{sc:.2f}'}" for h, sc in cells) + " |")
    total = sum(summary["minutes"].values())
    lines += ["", "Minutes per step: " + ", ".join(f"{k} {v}" for k, v in summary["minutes"].items())
              + f" (total {total:.1f})."]
    if summary.get("reused"):
        lines += ["", "Not retrained (`--reuse-trained`; their minutes are evaluation only): "
                  + ", ".join(summary["reused"]) + "."]
    if summary.get("resumed"):
        lines += ["", "Resumed from the last checkpoint of a stopped run (`--resume`; their minutes "
                  "are those after the restart, and a resumed seeded run need not equal an "
                  "uninterrupted one: the data order starts again): " + ", ".join(summary["resumed"]) + "."]
    return lines


def curve_points(summary, points):
    """(GFLOPs, E2E hmean) of the fixed-scale student's curve, by GFLOPs: its other test scales
    and the scale it was trained and tested at (its row), so that the line runs through it."""
    own = [r for r in summary["rows"] if r["name"] == FIXED]
    return sorted((p["mean_gflops"], p["e2e_none_hmean"]) for p in list(points) + own)


def plot(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, points in summary["curves"].items():
        if points:
            ax.plot(*zip(*curve_points(summary, points)), "--o", alpha=0.6, label=name, markersize=4)
    for r in summary["rows"]:
        ax.plot(r["mean_gflops"], r["e2e_none_hmean"], "*" if r["name"].startswith("dld") else "s",
                markersize=11, label=r["what"])
    ax.set_xlabel("mean GFLOPs per image (fvcore)")
    ax.set_ylabel("end-to-end hmean, no lexicon (%)")
    ax.set_title("Synthetic test split")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
