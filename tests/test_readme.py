"""Every command in README.md's bash blocks is run here (at small size where it would train).

A README command without an entry in COMMANDS fails the test, so the README cannot show a
command that no test runs.
"""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUICK = "configs/quick_schedules/teacher_instant_test.yaml"
DLD_QUICK = "configs/quick_schedules/dld_instant_test.yaml"
WARMUP_QUICK = "configs/quick_schedules/reader_warmup_instant_test.yaml"
# Small-size overrides for commands that train: tiny synthetic splits, 2 iterations, small inputs.
SMALL = [
    "DATASETS.TRAIN", '("dld_synthetic_tiny_train",)', "DATASETS.TEST", '("dld_synthetic_tiny_test",)',
    "INPUT.MIN_SIZE_TRAIN", "(256,)", "INPUT.MAX_SIZE_TRAIN", "320", "INPUT.MIN_SIZE_TEST", "256",
    "INPUT.MAX_SIZE_TEST", "320", "SOLVER.IMS_PER_BATCH", "2", "SOLVER.MAX_ITER", "2",
    "SOLVER.WARMUP_ITERS", "0", "DATALOADER.NUM_WORKERS", "0", "MODEL.DEVICE", "cpu",
]


# The evaluation data folder as README.md's commands spell it (beside the repository).
README_EVAL_DATA = "../shared/eval"

# Where the README's weights come from → the folder of the config that trains them here.
WEIGHT_DIRS = {
    "output/demo/teacher/": "teacher_warm_cpu",
    "output/synth_reader_warmup/": "reader_warmup_cpu",
    "output/demo/dld_gamma0.1/": "distill_cpu",
    "output/teacher/": "teacher",
    "output/distill/": "distill",
    "output/davar/": "davar",  # converted reference checkpoints
}


def readme_commands():
    text = (REPO / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                cmds.append(line)
    return cmds


def _small(cmd, tmp):
    """The README command as it is run here."""
    if cmd == "make test":
        return None  # this very test suite (run by .ci/run)
    if "git+https://" in cmd:
        return None  # detectron2 from GitHub: no network here; CI has it built from source
    if cmd == "make demo":
        # --full: the baselines' steps too (the default path is a subset of them).
        return (f'make demo DEMO_OPTS="--full --config-file {QUICK} --distill-config {DLD_QUICK} '
                f'--warmup-config {WARMUP_QUICK} '
                f'--output {tmp}/demo --num-latency 2 --curve-scales 0.4"')
    args = shlex.split(cmd)
    # One output folder per training config, named after it; the README's weight paths point
    # into the folder of the config that trained them.
    # (also inside NAME=PATH arguments, as tools/benchmark.py takes them).
    for i, a in enumerate(args):
        for readme_dir, config_dir in WEIGHT_DIRS.items():
            head, sep, tail = a.rpartition("=") if "=" in a else ("", "", a)
            if tail.startswith(readme_dir):
                args[i] = head + sep + str(tmp / config_dir / tail[len(readme_dir):])
                break
    config = Path(args[args.index("--config-file") + 1]).stem if "--config-file" in args else ""
    if args[:2] == ["python", "train_net.py"]:
        if "--num-gpus" in args:  # CPU processes here
            args[args.index("--num-gpus") + 1] = "2" if "synth" in cmd else "1"
        args += SMALL + ["OUTPUT_DIR", str(tmp / config)]
        if config == "reader_warmup_cpu":  # the reader warm-up reads word sheets, not scenes
            args += ["DATASETS.TRAIN", '("dld_synthetic_tiny_words_train",)']
        if config == "pretrain":  # one tiny set for both training sets; no ImageNet file here
            args += ["DATALOADER.DATASET_RATIOS", "()", "MODEL.WEIGHTS", ""]
        if config == "teacher" and "--eval-only" not in args:  # its MODEL.WEIGHTS: step 1's output
            args += ["MODEL.WEIGHTS", str(tmp / "pretrain" / "model_final.pth")]
    elif args[:2] == ["python", "tools/convert_synthtext.py"]:
        # A gt.mat in SynthText's real format, four images (tests/test_synthtext_cocotext.py).
        from test_synthtext_cocotext import write_synthtext

        args[2] = str(write_synthtext(tmp / "SynthText"))
        args[3] = str(tmp / "SynthText" / "synthtext_train.npz")
    elif args[:2] == ["python", "tools/convert_davar_checkpoint.py"]:
        # A checkpoint with the reference's key names and shapes, as the released files have
        # (tests/test_convert_davar_checkpoint.py), in mmcv's {"state_dict", "meta"} layout.
        import torch
        from test_convert_davar_checkpoint import davar_spotter_shapes, random_state_dict

        from test_convert_davar_checkpoint import davar_dld_shapes

        source = tmp / "downloads" / Path(args[2]).name
        source.parent.mkdir(parents=True, exist_ok=True)
        shapes = davar_dld_shapes() if source.name.startswith("dld") else davar_spotter_shapes()
        torch.save({"state_dict": random_state_dict(shapes), "meta": {}}, source)
        args[2] = str(source)
    elif args[:2] in (["python", "tools/get_flops.py"], ["python", "tools/benchmark.py"]):
        args += SMALL[2:4] + SMALL[8:12] + ["MODEL.DEVICE", "cpu"]
    elif args[:2] == ["python", "tools/learning_curve.py"]:
        args[args.index("--output") + 1] = str(tmp / "curve")
    elif args[:2] == ["python", "tools/analyze_reading.py"]:
        args[args.index("--output-dir") + 1] = str(tmp / "reading")
        args += SMALL[2:4] + SMALL[8:12] + ["MODEL.DEVICE", "cpu"]
    elif args[:2] == ["python", "tools/visualize_data.py"]:
        args += ["DATASETS.TRAIN", '("dld_synthetic_tiny_train",)']
        args[args.index("--output-dir") + 1] = str(tmp / "vis")
    elif args[:2] == ["python", "tools/demo.py"]:
        args[args.index("--input") + 1] = str(tmp / "vis")
        args[args.index("--output") + 1] = str(tmp / "spotted")
    args[0] = sys.executable if args[0] == "python" else args[0]
    return shlex.join(args)


@pytest.mark.detectron2
# Every command in sequence: ~8 minutes on an idle 2-core machine, more than pytest.ini's
# per-test 900 s when the cores are shared; each command keeps its own 900 s limit below.
@pytest.mark.timeout(2700)
def test_every_readme_command_runs(tmp_path, eval_data_location):
    cmds = readme_commands()
    assert "make demo" in cmds and "make test" in cmds
    env = dict(os.environ, DLD_D2_CACHE=str(tmp_path / "cache"), PYTHON=sys.executable)
    ran = 0
    # Order matters: training writes the weights that distillation, --eval-only and the tools
    # read, and visualize_data writes the images the demo reads.
    def order(c):  # trainings, then distillations (they read a teacher), then what reads weights
        if any(k in c for k in ("--eval-only", "tools/demo.py", "get_flops", "benchmark.py",
                                "analyze_reading", "learning_curve")):
            return 2
        return 1 if "TEACHER_WEIGHTS" in c else 0

    for cmd in sorted(cmds, key=order):
        small = _small(cmd, tmp_path)
        if small is None:
            continue
        if README_EVAL_DATA in small:
            # The README's evaluation data folder, wherever DLD_D2_EVAL_DATA puts it.
            if not eval_data_location.is_dir():
                pytest.skip(f"evaluation data folder not found at {eval_data_location} "
                            "(set DLD_D2_EVAL_DATA; README.md, 'Tests')")
            small = small.replace(README_EVAL_DATA, str(eval_data_location))
        proc = subprocess.run(small, shell=True, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{small}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        ran += 1
    assert ran == len(cmds) - 2
    assert (tmp_path / "demo" / "summary.md").is_file()
    # DLD's teacher view (S-288 in the quick DLD config) differs from the teacher's (S-256): the
    # teacher is evaluated there too, and that row is the reference of the ratios.
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    # The teacher is trained in two stages: the joint stage starts from the reader warm-up.
    assert list(summary["minutes"])[1:3] == ["reader_warmup", "teacher"]
    teacher_log = (tmp_path / "demo" / "logs" / "teacher.log").read_text()
    assert f"Loading from {tmp_path / 'demo' / 'reader_warmup' / 'model_final.pth'}" in teacher_log
    assert [r["name"] for r in summary["rows"]] == [
        "teacher_dld_view", "teacher", "dld_gamma0.1", "dld_gamma0.3", "fixed_0.7"]
    assert summary["rows"][0]["what"].startswith("teacher at S-288")
    assert summary["rows"][0]["mean_input_short_side"] > summary["rows"][1]["mean_input_short_side"]
    assert list((tmp_path / "spotted").glob("*.json"))
    assert (tmp_path / "reading" / "reading.md").is_file()
    assert (tmp_path / "SynthText" / "synthtext_train.npz").is_file()
    teacher_log = (tmp_path / "teacher" / "log.txt").read_text()
    assert f"Loading from {tmp_path / 'pretrain' / 'model_final.pth'}" in teacher_log
    assert (tmp_path / "curve" / "curve.md").is_file()


def reference_model_commands():
    """datasets/README.md's commands that convert and evaluate the reference's released models
    (continued lines joined)."""
    text = (REPO / "datasets" / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split(" #")[0].split())
            if line.startswith("python") and ("downloads/" in line or "output/davar/" in line):
                cmds.append(line)
    return cmds


@pytest.mark.detectron2
def test_reference_model_commands_run(tmp_path):
    # On files with the released checkpoints' key names and shapes (no download here), the
    # exact-reference settings included; evaluation on the tiny synthetic split.
    cmds = reference_model_commands()
    assert sum("convert_davar_checkpoint" in c for c in cmds) == 3
    assert any("MODEL.TEXT_HEAD.MASK_GRID reference" in c and "SELECTOR_NORM running" in c for c in cmds)
    env = dict(os.environ, DLD_D2_CACHE=str(tmp_path / "cache"))
    for cmd in sorted(cmds, key=lambda c: "--eval-only" in c):  # conversions first
        small = _small(cmd, tmp_path)
        proc = subprocess.run(small, shell=True, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{small}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    kept = torch_load(tmp_path / "davar" / "dld_gamma0.1_ref.pth")
    assert "selector.bn1.running_mean" in kept and "selector.bn1.running_mean" not in torch_load(
        tmp_path / "davar" / "dld_gamma0.1.pth")


def torch_load(path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["model"]
