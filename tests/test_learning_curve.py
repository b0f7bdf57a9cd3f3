"""tools/learning_curve.py: checkpoints of a run, their training minutes, their scores."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from script_loader import load_script

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "learning_curve.py"


def _tool():
    return load_script("tools/learning_curve.py")


def _write_metrics(folder, lines):
    (folder / "metrics.json").write_text("\n".join(json.dumps(r) for r in lines) + "\n")


def test_training_minutes_and_checkpoints(tmp_path):
    tool = _tool()
    # Logged every 20 steps: 0.5 s a step for steps 0-19, 1.0 s for 20-39 (an evaluation line
    # without a step time is not training).
    _write_metrics(tmp_path, [{"iteration": 19, "time": 0.5}, {"iteration": 39, "time": 1.0},
                              {"iteration": 39, "det_hmean": 50.0}])
    records = tool.read_metrics(tmp_path)
    assert len(records) == 2
    assert tool.training_minutes(records, 40) == pytest.approx((20 * 0.5 + 20 * 1.0) / 60)
    assert tool.training_minutes(records, 20) == pytest.approx(20 * 0.5 / 60)
    assert tool.training_minutes(records, 30) == pytest.approx((20 * 0.5 + 10 * 1.0) / 60)
    for name in ("model_0000019.pth", "model_final.pth", "last_checkpoint", "model_x.pth"):
        (tmp_path / name).write_bytes(b"")
    assert [(s, Path(p).name) for s, p in tool.checkpoints(tmp_path)] == [
        (20, "model_0000019.pth"), (40, "model_final.pth")]
    # model_final at a step that a numbered checkpoint already holds is that checkpoint.
    (tmp_path / "model_0000039.pth").write_bytes(b"")
    assert [s for s, _ in tool.checkpoints(tmp_path)] == [20, 40]


def test_bad_metrics_line_names_the_line(tmp_path):
    (tmp_path / "metrics.json").write_text('{"iteration": 19, "time": 0.5}\n{"iteration": 3\n')
    with pytest.raises(ValueError, match=r"metrics.json, line 2: not json"):
        _tool().read_metrics(tmp_path)


def test_earlier_points_match_the_resolved_run_dir(tmp_path, monkeypatch):
    tool = _tool()
    (tmp_path / "run").mkdir()
    points = [{"steps": 2, "weights": "model_0000001.pth"},
              {"steps": 4, "weights": "model_final.pth"}]
    curve = tmp_path / "curve.json"
    curve.write_text(json.dumps({"run_dir": str(tmp_path / "run"), "dataset": "d",
                                 "num_images": None, "opts": [], "points": points}))
    monkeypatch.chdir(tmp_path)
    # The same folder, relative with a trailing slash: its points are reused (not model_final).
    for run_dir in ("run", "./run/", str(tmp_path / "run")):
        args = tool.parse_args(["--run-dir", run_dir])
        assert tool.earlier_points(curve, args, "d") == {(2, "model_0000001.pth"): points[0]}
    # Another run folder, test set or image count: nothing is reused.
    assert tool.earlier_points(curve, tool.parse_args(["--run-dir", "other"]), "d") == {}
    assert tool.earlier_points(curve, tool.parse_args(["--run-dir", "run"]), "other") == {}
    args = tool.parse_args(["--run-dir", "run", "--num-images", "3"])
    assert tool.earlier_points(curve, args, "d") == {}
    # --after is compared resolved too; a curve of another earlier run (or none) is not reused.
    (tmp_path / "warm").mkdir()
    data = json.loads(curve.read_text())
    curve.write_text(json.dumps(dict(data, after=str(tmp_path / "warm"))))
    for after in ("warm", "./warm/"):
        args = tool.parse_args(["--run-dir", "run", "--after", after])
        assert tool.earlier_points(curve, args, "d") == {(2, "model_0000001.pth"): points[0]}
    assert tool.earlier_points(curve, tool.parse_args(["--run-dir", "run"]), "d") == {}
    args = tool.parse_args(["--run-dir", "run", "--after", "other"])
    assert tool.earlier_points(curve, args, "d") == {}


def _run_tool(args, env):
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def _copy_run(src, dst, *names):
    """A run folder `dst` holding only the named files of run folder `src`."""
    dst.mkdir()
    for name in names:
        shutil.copy(src / name, dst / name)
    return dst


@pytest.mark.detectron2
def test_learning_curve_of_a_tiny_run(tiny_trained_teacher, tmp_path):
    run_dir, env = tiny_trained_teacher
    args = ["--run-dir", str(run_dir), "--output", str(tmp_path),
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"]
    proc = _run_tool(args, env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    curve = json.loads((tmp_path / "curve.json").read_text())
    points = curve["points"]
    # Checkpoints after 2 and 4 steps (model_final holds the same 4 steps as model_0000003).
    assert [p["steps"] for p in points] == [2, 4]
    assert 0 < points[0]["minutes"] < points[1]["minutes"]
    assert curve["dataset"] == "dld_synthetic_tiny_test"
    for p in points:
        assert 0 <= p["det_hmean"] <= 100 and 0 <= p["e2e_none_hmean"] <= p["det_hmean"]
    assert (tmp_path / "curve.md").read_text() in proc.stdout
    assert (tmp_path / "curve.png").stat().st_size > 5000

    # Called again (as during training), it reuses the points it has: a marked earlier point
    # stays, model_final (rewritten by a resumed run) would be evaluated again.
    points[0]["det_hmean"] = 123.0
    (tmp_path / "curve.json").write_text(json.dumps(curve))
    again = _run_tool(args, env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    reused = json.loads((tmp_path / "curve.json").read_text())["points"]
    assert [p["det_hmean"] for p in reused] == [123.0, points[1]["det_hmean"]]


@pytest.mark.detectron2
def test_learning_curve_config_file_and_dataset(tiny_trained_teacher, tmp_path):
    run_dir, env = tiny_trained_teacher
    run = _copy_run(run_dir, tmp_path / "run", "metrics.json", "model_0000001.pth")
    out = tmp_path / "curve"
    # No config.yaml in the run folder: --config-file is needed.
    proc = _run_tool(["--run-dir", str(run), "--output", str(out)], env)
    assert proc.returncode == 2 and "no config" in proc.stderr and "--config-file" in proc.stderr
    # The given config is read: its test set is the one looked for.
    config = tmp_path / "other.yaml"
    config.write_text(f"_BASE_: {REPO / 'configs/quick_schedules/teacher_instant_test.yaml'}\n"
                      "DATASETS:\n  TEST: (\"no_such_set\",)\n")
    proc = _run_tool(["--run-dir", str(run), "--config-file", str(config), "--output", str(out)],
                     env)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "dataset 'no_such_set' is not registered" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    # --dataset replaces the config's test set.
    proc = _run_tool(["--run-dir", str(run), "--config-file", str(config), "--output", str(out),
                      "--dataset", "dld_synthetic_tiny_test", "--num-images", "1",
                      "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"], env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    curve = json.loads((out / "curve.json").read_text())
    assert (curve["config"], curve["dataset"], curve["num_images"]) == (
        str(config), "dld_synthetic_tiny_test", 1)
    assert curve["run_dir"] == str(run.resolve())
    assert [(p["steps"], p["weights"]) for p in curve["points"]] == [(2, "model_0000001.pth")]
    assert 0 <= curve["points"][0]["det_hmean"] <= 100


@pytest.mark.detectron2
def test_learning_curve_keeps_the_points_before_an_unfit_checkpoint(tiny_trained_teacher, tmp_path):
    import torch

    run_dir, env = tiny_trained_teacher
    run = _copy_run(run_dir, tmp_path / "run", "config.yaml", "metrics.json", "model_0000001.pth")
    # A later checkpoint of another model: none of its weights fit.
    torch.save({"model": {"other.weight": torch.zeros(1)}}, run / "model_0000009.pth")
    out = tmp_path / "curve"
    proc = _run_tool(["--run-dir", str(run), "--output", str(out), "--num-images", "1"], env)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: checkpoint {run / 'model_0000009.pth'} cannot be evaluated")
    assert f"the 1 point(s) before it are in {out}" in error and "Traceback" not in proc.stderr
    curve = json.loads((out / "curve.json").read_text())
    assert [(p["steps"], p["weights"]) for p in curve["points"]] == [(2, "model_0000001.pth")]
    assert "| 2 |" in (out / "curve.md").read_text() and (out / "curve.png").is_file()


@pytest.mark.detectron2
def test_learning_curve_names_a_dataset_that_cannot_be_loaded(tiny_trained_teacher, tmp_path):
    run_dir, env = tiny_trained_teacher
    # icdar2013_test is registered, but its annotation file is not in this (empty) data folder.
    (tmp_path / "data").mkdir()
    env = dict(env, DETECTRON2_DATASETS=str(tmp_path / "data"))
    out = tmp_path / "curve"
    proc = _run_tool(["--run-dir", str(run_dir), "--output", str(out),
                      "--dataset", "icdar2013_test"], env)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert ("dataset 'icdar2013_test' could not be loaded: FileNotFoundError: "
            "Annotations not found") in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.detectron2
def test_learning_curve_after_an_earlier_run_adds_its_minutes(tiny_trained_teacher, tmp_path):
    run_dir, env = tiny_trained_teacher
    run = _copy_run(run_dir, tmp_path / "run", "config.yaml", "metrics.json", "model_0000001.pth")
    warmup = tmp_path / "warmup"
    warmup.mkdir()
    # 100 steps at 0.6 s: one minute of warm-up.
    _write_metrics(warmup, [{"iteration": 49, "time": 0.6}, {"iteration": 99, "time": 0.6}])
    base, after = tmp_path / "base", tmp_path / "after"
    common = ["--run-dir", str(run), "--num-images", "1"]
    opts = ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"]  # KEY VALUE overrides come last
    for out, extra in ((base, []), (after, ["--after", str(warmup)])):
        proc = _run_tool(common + ["--output", str(out)] + extra + opts, env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plain = json.loads((base / "curve.json").read_text())
    shifted = json.loads((after / "curve.json").read_text())
    assert shifted["after"] == str(warmup) and shifted["after_minutes"] == pytest.approx(1.0)
    assert shifted["points"][0]["minutes"] == pytest.approx(plain["points"][0]["minutes"] + 1.0)
    assert f"include the 1.0 minutes of `{warmup}`" in (after / "curve.md").read_text()
    # An earlier run without training records is refused, naming it.
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _run_tool(common + ["--output", str(tmp_path / "x"), "--after", str(empty)] + opts, env)
    assert proc.returncode == 2 and f"--after {empty}: no training records" in proc.stderr
