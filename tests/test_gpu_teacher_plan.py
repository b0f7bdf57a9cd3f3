"""benchmarks/synthetic_teacher/gpu_teacher.py: the schedule that fits a time budget."""
import json

import pytest
from script_loader import load_script


def _script():
    return load_script("benchmarks/synthetic_teacher/gpu_teacher.py")


def test_steps_keep_the_cpu_split_and_fit_the_budget():
    plan = _script().plan_steps
    # 0.1 s / 0.2 s a step, 600 s: 540 s after two 30 s start-ups; a step of the 1000:2200 mix
    # costs 0.3125·0.1 + 0.6875·0.2 = 0.16875 s, so 3,200 steps: 1,000 and 2,200.
    assert plan(0.1, 0.2, 600.0) == (1000, 2200)
    warmup, joint = plan(0.097, 0.153, 394.0 - 75.0)
    assert warmup % 50 == 0 and joint % 50 == 0
    assert 30 * 2 + warmup * 0.097 + joint * 0.153 <= 319.0
    assert 1.9 < joint / warmup < 2.6


def test_a_budget_too_small_for_any_schedule_is_an_error():
    with pytest.raises(ValueError, match="fits no schedule"):
        _script().plan_steps(1.0, 1.2, 70.0)
    with pytest.raises(ValueError, match="positive"):
        _script().plan_steps(0.0, 1.2, 700.0)


def test_seconds_per_step_reads_the_last_logged_step_time(tmp_path):
    rows = [{"iteration": 19, "time": 0.5}, {"iteration": 39, "time": 0.25},
            {"iteration": 39, "text_spotting/e2e_none_hmean": 1.0}]
    (tmp_path / "metrics.json").write_text("\n".join(json.dumps(r) for r in rows))
    assert _script().seconds_per_step(str(tmp_path)) == 0.25
    (tmp_path / "metrics.json").write_text(json.dumps(rows[2]))
    with pytest.raises(RuntimeError, match="no step time"):
        _script().seconds_per_step(str(tmp_path))


def test_run_all_runs_side_by_side_kills_at_the_deadline_and_closes_its_logs(tmp_path):
    import sys
    import time

    cmds = [[sys.executable, "-c", "print('done')"],
            [sys.executable, "-c", "import time; print('start', flush=True); time.sleep(60)"]]
    logs = [str(tmp_path / "a" / "fast.log"), str(tmp_path / "b" / "slow.log")]
    start = time.time()
    codes = _script().run_all(cmds, logs, timeout_s=3.0)
    assert codes == [0, None]  # the second ran past the deadline and was killed
    assert time.time() - start < 30
    assert open(logs[0]).read() == "done\n" and open(logs[1]).read() == "start\n"
