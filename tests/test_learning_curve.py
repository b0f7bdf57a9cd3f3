"""tools/learning_curve.py: checkpoints of a run, their training minutes, their scores."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "learning_curve.py"


def _tool():
    spec = importlib.util.spec_from_file_location("learning_curve", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


@pytest.mark.detectron2
def test_learning_curve_of_a_tiny_run(tiny_trained_teacher, tmp_path):
    run_dir, env = tiny_trained_teacher
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--run-dir", str(run_dir), "--output", str(tmp_path),
         "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
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
    again = subprocess.run(
        [sys.executable, str(TOOL), "--run-dir", str(run_dir), "--output", str(tmp_path),
         "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    reused = json.loads((tmp_path / "curve.json").read_text())["points"]
    assert [p["det_hmean"] for p in reused] == [123.0, points[1]["det_hmean"]]
