"""train_net.py and tools/demo.py end to end on the tiny synthetic splits (CPU, a few iterations)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.detectron2

REPO = Path(__file__).resolve().parents[1]
QUICK = "configs/quick_schedules/teacher_instant_test.yaml"
DLD_QUICK = "configs/quick_schedules/dld_instant_test.yaml"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return dict(os.environ, DLD_D2_CACHE=str(cache), OMP_NUM_THREADS="1")


def _run(args, env, timeout=600):
    proc = subprocess.run(
        [sys.executable] + args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def trained(env, tmp_path_factory):
    """Train the quick schedule (4 iterations, evaluation at the end)."""
    out = tmp_path_factory.mktemp("teacher")
    log = _run(["train_net.py", "--config-file", QUICK, "OUTPUT_DIR", str(out)], env)
    return out, log


def _full_scale_short_sides(config, env, monkeypatch):
    """Short side of each image of `config`'s test split after its test resize."""
    from detectron2.data import DatasetCatalog
    from detectron2.data import transforms as T

    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / config))
    monkeypatch.setenv("DLD_D2_CACHE", env["DLD_D2_CACHE"])  # the split the runs generated
    short, longest = cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST
    return [min(T.ResizeShortestEdge.get_output_shape(d["height"], d["width"], short, longest))
            for d in DatasetCatalog.get(cfg.DATASETS.TEST[0])]


def test_train_then_evaluate(trained, env, monkeypatch):
    out, log = trained
    assert (out / "model_final.pth").is_file()
    metrics = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    assert {"loss_att", "loss_mask", "loss_cls", "loss_rpn_cls"} <= set(metrics[0])
    assert [m for m in metrics if "loss_att" in m][-1]["iteration"] == 3
    # Evaluation ran inside the training loop (TEST.EVAL_PERIOD) with the text evaluator.
    res = json.loads((out / "inference" / "dld_synthetic_tiny_test" / "text_results.json").read_text())
    assert {"det_hmean", "e2e_none_hmean", "ws_none_hmean"} <= set(res["text_spotting"])
    # Short side 256 unless the long side would pass 352 (the 640x360 scenes).
    sides = _full_scale_short_sides(QUICK, env, monkeypatch)
    assert res["text_spotting"]["mean_input_short_side"] == pytest.approx(sum(sides) / len(sides))
    assert (out / "inference" / "dld_synthetic_tiny_test" / "submission.zip").is_file()


def test_resume_continues_from_the_last_checkpoint(trained, env):
    out, _ = trained
    log = _run(["train_net.py", "--config-file", QUICK, "--resume", "OUTPUT_DIR", str(out),
                "SOLVER.MAX_ITER", "6", "TEST.EVAL_PERIOD", "0"], env)
    assert "Starting training from iteration 4" in log
    metrics = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    assert [m for m in metrics if "loss_att" in m][-1]["iteration"] == 5


def test_eval_only(trained, env, tmp_path):
    out, _ = trained
    log = _run(["train_net.py", "--config-file", QUICK, "--eval-only",
                "MODEL.WEIGHTS", str(out / "model_final.pth"), "OUTPUT_DIR", str(tmp_path)], env)
    assert "copypaste: Task: text_spotting" in log
    assert (tmp_path / "inference" / "dld_synthetic_tiny_test" / "text_results.json").is_file()


def test_two_cpu_processes(env, tmp_path):
    log = _run(["train_net.py", "--config-file", QUICK, "--num-gpus", "2",
                "SOLVER.MAX_ITER", "2", "TEST.EVAL_PERIOD", "0", "OUTPUT_DIR", str(tmp_path)], env)
    assert (tmp_path / "model_final.pth").is_file()
    assert "World size: 2" in log


def test_demo_on_a_synthetic_image(trained, env, tmp_path):
    out, _ = trained
    cache = Path(env["DLD_D2_CACHE"])
    image = sorted(cache.rglob("*.jpg"))[0]
    _run(["tools/demo.py", "--config-file", QUICK, "--input", str(image), "--output", str(tmp_path),
          "--save-json", "--confidence-threshold", "0.0", "MODEL.WEIGHTS", str(out / "model_final.pth")], env)
    assert (tmp_path / f"{image.name}.vis.jpg").is_file()
    record = json.loads((tmp_path / f"{image.name}.json").read_text())
    assert record["file_name"] == str(image)
    for inst in record["instances"]:
        assert len(inst["polygon"]) >= 6 and isinstance(inst["text"], str)


def test_synthetic_demo_with_given_teacher_weights(trained, env, tmp_path):
    out, _ = trained
    log = _run(["tools/synthetic_demo.py", "--config-file", QUICK, "--output", str(tmp_path),
                "--teacher-weights", str(out / "model_final.pth"), "--num-demo", "2",
                "--teacher-only"], env)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["teacher_trained"] is False and summary["test_set"] == "dld_synthetic_tiny_test"
    assert [r["name"] for r in summary["rows"]] == ["teacher"]
    assert {"det_hmean", "e2e_none_hmean", "mean_gflops"} <= set(summary["rows"][0])
    assert "| teacher at S-" in log  # the summary table is printed
    assert len(list((tmp_path / "demo").glob("*.json"))) == 2
    assert not (tmp_path / "teacher" / "model_final.pth").exists()  # nothing was trained


def test_synthetic_demo_takes_rows_of_an_earlier_run_of_the_same_teacher(trained, env, tmp_path):
    """--rows-from: a second run of the same teacher trains only the rows the first lacks."""
    out, _ = trained
    common = ["tools/synthetic_demo.py", "--config-file", QUICK, "--distill-config", DLD_QUICK,
              "--teacher-weights", str(out / "model_final.pth"), "--num-demo", "1", "--num-latency", "1"]
    first, second = tmp_path / "first", tmp_path / "second"
    _run(common + ["--output", str(first)], env)
    earlier = json.loads((first / "summary.json").read_text())
    assert [r["name"] for r in earlier["rows"]] == ["teacher_dld_view", "teacher", "dld_gamma0.1"]
    log = _run(common + ["--output", str(second), "--distilled", "dld_gamma0.1", "fixed_0.7",
                         "--curve-scales", "0.5", "--rows-from", str(first / "summary.json")], env)
    summary = json.loads((second / "summary.json").read_text())
    rows = {r["name"]: r for r in summary["rows"]}
    assert list(rows) == ["teacher_dld_view", "teacher", "dld_gamma0.1", "fixed_0.7"]
    carried = rows["dld_gamma0.1"]
    assert carried == {**earlier["rows"][2], "carried_from": str(first / "summary.json"),
                       "teacher_latency_ms": earlier["rows"][0]["latency_ms"]}
    assert not (second / "dld_gamma0.1").exists()  # not trained again
    assert (second / "fixed_0.7" / "model_final.pth").is_file()
    assert "carried_from" not in rows["fixed_0.7"] and rows["fixed_0.7"]["latency_ms"] > 0
    assert len(summary["curves"]["fixed-scale student at other test scales"]) == 1
    assert "| DLD, γ = 0.1 † |" in log and "† distilled in an earlier run" in log
    # --full from the second run: only γ = 0.3 is trained; the fixed student comes with its curve,
    # and the γ = 0.1 row still names the run that distilled and timed it.
    third = tmp_path / "third"
    _run(common + ["--output", str(third), "--full", "--rows-from", str(second / "summary.json")], env)
    full = json.loads((third / "summary.json").read_text())
    rows3 = {r["name"]: r for r in full["rows"]}
    assert list(rows3) == ["teacher_dld_view", "teacher", "dld_gamma0.1", "dld_gamma0.3", "fixed_0.7"]
    assert rows3["dld_gamma0.1"] == carried
    assert rows3["fixed_0.7"] == {**rows["fixed_0.7"], "carried_from": str(second / "summary.json"),
                                  "teacher_latency_ms": rows["teacher_dld_view"]["latency_ms"]}
    assert full["curves"] == summary["curves"]
    assert sorted(p.name for p in third.iterdir() if p.is_dir()) == [
        "demo", "dld_gamma0.3", "logs", "samples", "teacher_at_dld_view", "teacher_eval"]
    assert "carried_from" not in rows3["dld_gamma0.3"] and rows3["dld_gamma0.3"]["latency_ms"] > 0
    # A teacher that reads otherwise (one number changed) is refused before anything is trained.
    earlier["rows"][0]["e2e_none_hmean"] += 1
    (first / "summary.json").write_text(json.dumps(earlier))
    proc = subprocess.run([sys.executable] + common + ["--output", str(tmp_path / "fourth"), "--rows-from",
                          str(first / "summary.json")], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "distilled from another teacher" in proc.stderr
    assert not (tmp_path / "fourth" / "dld_gamma0.1").exists()


def test_synthetic_demo_resumes_a_step_stopped_after_a_checkpoint(trained, env, tmp_path):
    """--resume: a run stopped in the middle of a training step (a session's end) goes on from
    that step's last checkpoint; the table says so."""
    out, _ = trained
    common = ["tools/synthetic_demo.py", "--config-file", QUICK, "--distill-config", DLD_QUICK,
              "--teacher-weights", str(out / "model_final.pth"), "--num-demo", "1", "--num-latency", "1",
              "--output", str(tmp_path)]
    _run(common + ["SOLVER.CHECKPOINT_PERIOD", "1"], env)
    step = tmp_path / "dld_gamma0.1"
    assert (step / "model_0000001.pth").is_file()
    # Stopped after its second checkpoint: no final weights, the last checkpoint that one.
    (step / "model_final.pth").unlink()
    (step / "last_checkpoint").write_text("model_0000001.pth")
    metrics = (step / "metrics.json").read_text()
    log = _run(common + ["--resume", "SOLVER.CHECKPOINT_PERIOD", "1"], env)
    assert "Starting training from iteration 2" in (tmp_path / "logs" / "dld_gamma0.1.log").read_text()
    assert (step / "model_final.pth").is_file()
    resumed = (step / "metrics.json").read_text()
    assert resumed.startswith(metrics) and len(resumed) > len(metrics)  # the curve goes on in it
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["resumed"] == ["dld_gamma0.1"] and summary["reused"] == []
    assert [r["name"] for r in summary["rows"]] == ["teacher_dld_view", "teacher", "dld_gamma0.1"]
    assert "Resumed from the last checkpoint" in log
    assert "dld_gamma0.1." in (tmp_path / "summary.md").read_text().split("Resumed from")[1]
    # Evaluation only, twice (README: after a change to evaluation): each keeps the step's
    # training record, so the second run reuses it too, with the same reading.
    for _ in range(2):
        _run(common + ["--reuse-trained", "SOLVER.CHECKPOINT_PERIOD", "1"], env)
        again = json.loads((tmp_path / "summary.json").read_text())
        assert again["reused"] == ["dld_gamma0.1"]
        assert again["rows"][2]["e2e_none_hmean"] == summary["rows"][2]["e2e_none_hmean"]


def test_reader_warmup_on_word_sheets_then_joint_training(env, tmp_path):
    """The two-stage synthetic teacher's chain (reader_warmup_cpu.yaml → teacher_warm_cpu.yaml)
    on the tiny split: the warm-up trains the reader alone, joint training starts from it."""
    warm, joint = tmp_path / "warm", tmp_path / "joint"
    _run(["train_net.py", "--config-file", QUICK, "MODEL.TEXT_HEAD.TRAIN_RECOGNITION_ONLY", "True",
          "DATASETS.TRAIN", '("dld_synthetic_tiny_words_train",)', "SOLVER.MAX_ITER", "2",
          "TEST.EVAL_PERIOD", "0", "DATASETS.TEST", "()", "OUTPUT_DIR", str(warm)], env)
    metrics = [json.loads(line) for line in (warm / "metrics.json").read_text().splitlines()]
    assert {k for k in metrics[-1] if k.startswith("loss_")} == {"loss_att", "loss_ctc"}
    log = _run(["train_net.py", "--config-file", QUICK, "MODEL.WEIGHTS", str(warm / "model_final.pth"),
                "SOLVER.MAX_ITER", "2", "TEST.EVAL_PERIOD", "0", "DATASETS.TEST", "()",
                "OUTPUT_DIR", str(joint)], env)
    assert f"Loading from {warm / 'model_final.pth'}" in log
    assert "not found in checkpoint" not in log and "not used by the model" not in log.lower()
    metrics = [json.loads(line) for line in (joint / "metrics.json").read_text().splitlines()]
    assert {"loss_att", "loss_cls", "loss_mask", "loss_rpn_cls"} <= set(metrics[-1])



def test_distill_from_the_teacher_quick_schedule_then_eval_only(trained, env, tmp_path, monkeypatch):
    teacher, _ = trained
    out = tmp_path / "dld"
    log = _run(["train_net.py", "--config-file", DLD_QUICK, "OUTPUT_DIR", str(out),
                "MODEL.DLD.TEACHER_WEIGHTS", str(teacher / "model_final.pth")], env)
    assert "Loading a DLD checkpoint" not in log  # built from the plain teacher checkpoint
    metrics = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    train = [m for m in metrics if "loss_kd_seq" in m]
    assert {"loss_rs", "loss_penalty", "loss_kd_roi", "loss_kd_context", "dld/tau"} <= set(train[0])
    assert train[-1]["iteration"] == 3
    # Temperature: 5 · 0.965^(iteration // 2) with ITERS_PER_EPOCH 2.
    assert train[-1]["dld/tau"] == pytest.approx(5 * 0.965)

    # --eval-only from the DLD checkpoint, without the teacher's weights: the efficiency figures.
    log = _run(["train_net.py", "--config-file", DLD_QUICK, "--eval-only", "OUTPUT_DIR",
                str(tmp_path / "eval"), "MODEL.WEIGHTS", str(out / "model_final.pth")], env)
    assert "Loading a DLD checkpoint holding: teacher, student, selector" in log
    res = json.loads((tmp_path / "eval" / "inference" / "dld_synthetic_tiny_test"
                      / "text_results.json").read_text())["text_spotting"]
    assert res["mean_gflops"] > 0
    sides = _full_scale_short_sides(DLD_QUICK, env, monkeypatch)  # the selector's scales: 0.3-0.8
    assert 0.3 * min(sides) - 1 <= res["mean_input_short_side"] <= 0.8 * max(sides)
    shares = [v for k, v in res.items() if k.startswith("scale_")]
    assert sum(shares) == pytest.approx(100.0)


def test_distill_with_the_synthetic_configs_selector_settings(trained, env, tmp_path):
    """configs/synth/distill_cpu.yaml's selector loss, LR factor and replay, through train_net.py."""
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / "configs/synth/distill_cpu.yaml"))
    dld = cfg.MODEL.DLD
    assert dld.SELECTOR_LOSS == "best" and dld.SELECTOR_LR_FACTOR > 1
    assert 0 < dld.SELECTOR_REPLAY < dld.SELECTOR_REPLAY_BANK
    teacher, _ = trained
    out = tmp_path / "dld_best"
    log = _run(["train_net.py", "--config-file", DLD_QUICK, "OUTPUT_DIR", str(out),
                "MODEL.DLD.TEACHER_WEIGHTS", str(teacher / "model_final.pth"),
                "MODEL.DLD.SELECTOR_LOSS", cfg.MODEL.DLD.SELECTOR_LOSS,
                "MODEL.DLD.SELECTOR_LR_FACTOR", str(dld.SELECTOR_LR_FACTOR),
                "MODEL.DLD.SELECTOR_REPLAY", str(dld.SELECTOR_REPLAY),
                "MODEL.DLD.SELECTOR_REPLAY_BANK", str(dld.SELECTOR_REPLAY_BANK)], env)
    metrics = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    train = [m for m in metrics if "loss_kd_seq" in m]
    assert f"SELECTOR_REPLAY_BANK: {dld.SELECTOR_REPLAY_BANK}" in (out / "config.yaml").read_text()
    # The penalty shapes the selector's targets (logged) instead of being a loss.
    assert "loss_penalty" not in train[0] and {"loss_rs", "dld/best_scale", "dld/penalty"} <= set(train[0])
    assert 0.3 <= train[-1]["dld/best_scale"] <= 0.8
    assert (out / "model_final.pth").is_file() and "mean_gflops" in log


def test_distill_with_losses_at_the_view(trained, env, tmp_path):
    """MODEL.DLD.VIEW_LOSS_WEIGHT from the command line: every student and distillation loss gets
    a `_view` twin in the logged metrics; a negative weight stops with the key named."""
    teacher, _ = trained
    out = tmp_path / "dld_view"
    _run(["train_net.py", "--config-file", DLD_QUICK, "OUTPUT_DIR", str(out),
          "MODEL.DLD.TEACHER_WEIGHTS", str(teacher / "model_final.pth"),
          "MODEL.DLD.VIEW_LOSS_WEIGHT", "0.5"], env)
    assert "VIEW_LOSS_WEIGHT: 0.5" in (out / "config.yaml").read_text()
    metrics = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    train = [m for m in metrics if "loss_kd_seq" in m]
    assert train[-1]["iteration"] == 3
    chosen = {k for k in train[0] if k.startswith("loss_") and not k.endswith("_view")} - {"loss_rs", "loss_penalty"}
    assert {"loss_kd_seq", "loss_kd_roi", "loss_kd_context", "loss_att", "loss_cls"} <= chosen
    for k in chosen:
        assert f"{k}_view" in train[0] and train[-1][f"{k}_view"] >= 0
    assert (out / "model_final.pth").is_file()

    proc = subprocess.run(
        [sys.executable, "train_net.py", "--config-file", DLD_QUICK, "OUTPUT_DIR", str(tmp_path / "bad"),
         "MODEL.DLD.TEACHER_WEIGHTS", str(teacher / "model_final.pth"),
         "MODEL.DLD.VIEW_LOSS_WEIGHT", "-1.0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode != 0
    assert "MODEL.DLD.VIEW_LOSS_WEIGHT=-1.0" in proc.stderr


def test_a_seeded_distillation_repeats_exactly(trained, env, tmp_path):
    """SEED fixes data order, augmentation and the Gumbel draws: two runs log the same losses."""
    teacher, _ = trained
    logged = []
    for run in ("a", "b"):
        out = tmp_path / run
        _run(["train_net.py", "--config-file", DLD_QUICK, "OUTPUT_DIR", str(out), "SEED", "3",
              "MODEL.DLD.TEACHER_WEIGHTS", str(teacher / "model_final.pth")], env)
        metrics = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
        train = [m for m in metrics if "loss_rs" in m]
        assert train
        logged.append([(m["iteration"], m["total_loss"], m["loss_rs"], m["dld/mean_scale"])
                       for m in train])
    assert logged[0] == logged[1]


PRETRAIN_QUICK = "configs/quick_schedules/pretrain_instant_test.yaml"


def test_pretrain_then_teacher_then_distill_then_eval_only(env, tmp_path):
    """The paper's three steps in order (configs/pretrain.yaml → teacher.yaml → distill.yaml, at
    quick-schedule size), each one started from the weights of the step before."""
    pre, teacher, dld = tmp_path / "pretrain", tmp_path / "teacher", tmp_path / "dld"
    log = _run(["train_net.py", "--config-file", PRETRAIN_QUICK, "OUTPUT_DIR", str(pre)], env)
    assert ("Sampling ('dld_synthetic_tiny_train', 'dld_synthetic_tiny_words_train') "
            "with ratios (0.5, 0.5)") in log
    log = _run(["train_net.py", "--config-file", QUICK, "OUTPUT_DIR", str(teacher),
                "MODEL.WEIGHTS", str(pre / "model_final.pth")], env)
    assert f"Loading from {pre / 'model_final.pth'}" in log
    assert "not found in the checkpoint" not in log and "Initializing model from scratch" not in log
    _run(["train_net.py", "--config-file", DLD_QUICK, "OUTPUT_DIR", str(dld),
          "MODEL.DLD.TEACHER_WEIGHTS", str(teacher / "model_final.pth")], env)
    log = _run(["train_net.py", "--config-file", DLD_QUICK, "--eval-only", "OUTPUT_DIR",
                str(tmp_path / "eval"), "MODEL.WEIGHTS", str(dld / "model_final.pth")], env)
    assert "Loading a DLD checkpoint holding: teacher, student, selector" in log
    res = json.loads((tmp_path / "eval" / "inference" / "dld_synthetic_tiny_test"
                      / "text_results.json").read_text())["text_spotting"]
    assert res["mean_gflops"] > 0 and 0 <= res["e2e_none_hmean"] <= 100
