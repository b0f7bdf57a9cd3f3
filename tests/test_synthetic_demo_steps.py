"""tools/synthetic_demo.py's pipeline steps, without running them."""
import json
import os

import pytest
from script_loader import load_script


def _demo_module():
    return load_script("tools/synthetic_demo.py")


def _trained(demo, folder, config, opts, final=True):
    """`folder` as a training step left it: the config.yaml Detectron2 writes (`config` with
    `opts`) and, if `final`, a model_final.pth."""
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(demo._load_cfg(config, opts + ["OUTPUT_DIR", str(folder)]).dump())
    if final:
        (folder / "model_final.pth").write_text("trained weights")


def test_training_step_starts_a_fresh_metrics_file(tmp_path):
    # Detectron2 appends to OUTPUT_DIR/metrics.json: a rerun must not mix in the older curves.
    demo = _demo_module()
    run = demo.Pipeline("test", str(tmp_path), ["SOLVER.MAX_ITER", "2"])
    folder = tmp_path / "dld_gamma0.1"
    folder.mkdir()
    (folder / "metrics.json").write_text('{"iteration": 499}\n')
    (folder / "model_final.pth").write_text("older weights")
    commands = []
    run.step = lambda name, cmd: commands.append((name, cmd))
    assert run.train("dld_gamma0.1", "configs/synth/distill_cpu.yaml", ["MODEL.DLD.PENALTY_WEIGHT", "0.1"]) == str(folder)
    assert not (folder / "metrics.json").exists()
    assert (folder / "model_final.pth").exists()  # only the appended-to file goes
    assert commands == [("dld_gamma0.1", [
        "train_net.py", "--config-file", "configs/synth/distill_cpu.yaml", "OUTPUT_DIR", str(folder),
        "SOLVER.MAX_ITER", "2", "MODEL.DLD.PENALTY_WEIGHT", "0.1"])]


@pytest.mark.detectron2  # a step's config.yaml is read with Detectron2's config
def test_reuse_trained_evaluates_the_finished_checkpoint_and_says_so(tmp_path):
    demo = _demo_module()
    args = demo.parse_args(["--output", str(tmp_path), "--reuse-trained", "MODEL.DEVICE", "cpu"])
    assert args.reuse_trained and args.opts == ["MODEL.DEVICE", "cpu"]
    run = demo.pipeline(args, "test")
    assert run.reuse and not run.resume
    done, fresh = tmp_path / "dld_gamma0.1", tmp_path / "fixed_0.7"
    opts = ["MODEL.DLD.PENALTY_WEIGHT", "0.1"]
    _trained(demo, done, "configs/synth/distill_cpu.yaml", ["MODEL.DEVICE", "cpu"] + opts)
    (done / "metrics.json").write_text('{"iteration": 999}\n')
    commands = []
    run.step = lambda name, cmd: commands.append((name, cmd))
    assert run.train("dld_gamma0.1", "configs/synth/distill_cpu.yaml", opts) == str(done)
    assert run.train("fixed_0.7", "configs/synth/distill_cpu.yaml", []) == str(fresh)
    assert commands == [
        ("dld_gamma0.1", ["train_net.py", "--config-file", str(done / "config.yaml"), "--eval-only",
                          "OUTPUT_DIR", str(done), "TEST.TEXT.COUNT_FLOPS", "True", "MODEL.DEVICE", "cpu",
                          *opts, "MODEL.WEIGHTS", str(done / "model_final.pth")]),
        ("fixed_0.7", ["train_net.py", "--config-file", "configs/synth/distill_cpu.yaml",
                       "OUTPUT_DIR", str(fresh), "MODEL.DEVICE", "cpu"]),
    ]
    assert (done / "metrics.json").exists()  # the training curves of the reused run stay
    assert run.reused == ["dld_gamma0.1"]
    summary = {"test_set": "t", "minutes": {"dld_gamma0.1": 2.0}, "reused": run.reused,
               "rows": [{"what": "teacher", "e2e_none_hmean": 50.0, "det_hmean": 90.0,
                         "mean_gflops": 6.0, "mean_input_short_side": 448}], "curves": {}}
    assert demo.summary_markdown(summary)[-1] == (
        "Not retrained (`--reuse-trained`; their minutes are evaluation only): dld_gamma0.1.")
    # A checkpoint without the run's config.yaml cannot be rebuilt: say so, do not guess.
    (fresh / "model_final.pth").parent.mkdir()
    (fresh / "model_final.pth").write_text("weights from elsewhere")
    with pytest.raises(SystemExit, match="--reuse-trained: .*fixed_0.7 has no config.yaml"):
        run.train("fixed_0.7", "configs/synth/distill_cpu.yaml", [])
    # A step trained with other options is not taken for this run's: the keys are named.
    with pytest.raises(SystemExit, match=r"--reuse-trained: .*dld_gamma0.1 was trained with other "
                                         r"options than this run's: MODEL.DLD.PENALTY_WEIGHT "
                                         r"\(0.1 there, 0.3 here\)\. Run with"):
        run.train("dld_gamma0.1", "configs/synth/distill_cpu.yaml", ["MODEL.DLD.PENALTY_WEIGHT", "0.3"])
    # Evaluation settings (TEST keys) may differ: they are not part of what was trained.
    run.train("dld_gamma0.1", "configs/synth/distill_cpu.yaml", opts + ["TEST.TEXT.IOU_THRESH", "0.6"])
    assert commands[-1][1][:4] == ["train_net.py", "--config-file", str(done / "config.yaml"), "--eval-only"]
    # A run trained by hand names its teacher relative to the repository, the demo absolutely:
    # one file, so the run is reused; another file is another option.
    by_hand, teacher = tmp_path / "dld_gamma0.3", "output/demo/teacher/model_final.pth"
    _trained(demo, by_hand, "configs/synth/distill_cpu.yaml",
             ["MODEL.DEVICE", "cpu", "MODEL.DLD.TEACHER_WEIGHTS", teacher])
    run.train("dld_gamma0.3", "configs/synth/distill_cpu.yaml",
              ["MODEL.DLD.TEACHER_WEIGHTS", os.path.join(demo.REPO, teacher)])
    assert commands[-1][1][:4] == ["train_net.py", "--config-file", str(by_hand / "config.yaml"), "--eval-only"]
    with pytest.raises(SystemExit, match=r"MODEL.DLD.TEACHER_WEIGHTS \('output/demo/teacher/model_final.pth' "
                                         r"there, '/elsewhere/model_final.pth' here\)\. Run with"):
        run.train("dld_gamma0.3", "configs/synth/distill_cpu.yaml",
                  ["MODEL.DLD.TEACHER_WEIGHTS", "/elsewhere/model_final.pth"])


@pytest.mark.detectron2  # a step's config.yaml is read with Detectron2's config
def test_an_evaluation_keeps_the_training_record_for_the_next_reuse(tmp_path):
    # Detectron2 writes the evaluation's config over the folder's config.yaml (with MODEL.WEIGHTS
    # its own checkpoint); the training run's record must stay, or a second --reuse-trained
    # would refuse the step as trained with other options.
    demo = _demo_module()
    run = demo.pipeline(demo.parse_args(["--output", str(tmp_path), "--reuse-trained"]), "test")
    done, opts = tmp_path / "dld_gamma0.1", ["MODEL.DLD.PENALTY_WEIGHT", "0.1"]
    _trained(demo, done, "configs/synth/distill_cpu.yaml", opts)
    record = (done / "config.yaml").read_text()

    def evaluation_writes_config(name, cmd):
        (done / "config.yaml").write_text(demo._load_cfg("configs/synth/distill_cpu.yaml", cmd[4:]).dump())

    run.step = evaluation_writes_config
    assert run.train("dld_gamma0.1", "configs/synth/distill_cpu.yaml", opts) == str(done)
    assert (done / "config.yaml").read_text() == record
    assert run.train("dld_gamma0.1", "configs/synth/distill_cpu.yaml", opts) == str(done)
    assert run.reused == ["dld_gamma0.1"] * 2


@pytest.mark.detectron2  # a step's config.yaml is read with Detectron2's config
def test_resume_goes_on_from_the_last_checkpoint_of_a_stopped_step(tmp_path):
    # A run stopped in the middle of a step (a session's end): finished steps are reused, the
    # stopped one continues from its last checkpoint, and a step never started trains afresh.
    demo = _demo_module()
    args = demo.parse_args(["--output", str(tmp_path), "--full", "--resume"])
    run = demo.pipeline(args, "test")
    assert run.reuse and run.resume  # the finished steps are reused
    done, stopped, fresh = (tmp_path / n for n in ("dld_gamma0.1", "dld_gamma0.3", "fixed_0.7"))
    for folder in (done, stopped):
        _trained(demo, folder, "configs/synth/distill_cpu.yaml", [], final=folder == done)
        (folder / "metrics.json").write_text('{"iteration": 499}\n')
        (folder / "last_checkpoint").write_text("model_0000499.pth")
    commands = []
    run.step = lambda name, cmd: commands.append((name, cmd))
    for name in ("dld_gamma0.1", "dld_gamma0.3", "fixed_0.7"):
        run.train(name, "configs/synth/distill_cpu.yaml", [])
    assert [(name, cmd[:4]) for name, cmd in commands] == [
        ("dld_gamma0.1", ["train_net.py", "--config-file", str(done / "config.yaml"), "--eval-only"]),
        ("dld_gamma0.3", ["train_net.py", "--config-file", "configs/synth/distill_cpu.yaml", "--resume"]),
        ("fixed_0.7", ["train_net.py", "--config-file", "configs/synth/distill_cpu.yaml", "OUTPUT_DIR"]),
    ]
    assert (stopped / "metrics.json").exists()  # the resumed run's curve goes on in it
    assert run.reused == ["dld_gamma0.1"] and run.resumed == ["dld_gamma0.3"]
    summary = {"test_set": "t", "minutes": {"dld_gamma0.3": 2.0}, "reused": run.reused,
               "resumed": run.resumed, "curves": {},
               "rows": [{"what": "teacher", "e2e_none_hmean": 50.0, "det_hmean": 90.0,
                         "mean_gflops": 6.0, "mean_input_short_side": 448}]}
    assert demo.summary_markdown(summary)[-1].startswith("Resumed from the last checkpoint")
    assert demo.summary_markdown(summary)[-1].endswith(": dld_gamma0.3.")
    # Resuming with other options would mix two trainings in one model: refused, keys named.
    with pytest.raises(SystemExit, match=r"--resume: .*dld_gamma0.3 was trained with other options "
                                         r"than this run's: SOLVER.BASE_LR \(0.0003 there, 0.001 here\)"):
        run.train("dld_gamma0.3", "configs/synth/distill_cpu.yaml", ["SOLVER.BASE_LR", "0.001"])
    (stopped / "config.yaml").unlink()
    with pytest.raises(SystemExit, match="--resume: .*dld_gamma0.3 has no config.yaml"):
        run.train("dld_gamma0.3", "configs/synth/distill_cpu.yaml", [])


@pytest.mark.detectron2  # a step's config.yaml is read with Detectron2's config
def test_a_teacher_trained_from_the_warmup_is_reevaluated_with_its_own_weights(tmp_path):
    # Training starts from the warm-up's weights; --reuse-trained must evaluate the teacher's
    # own checkpoint, not the warm-up's (a MODEL.WEIGHTS override after it would win).
    demo = _demo_module()
    args = demo.parse_args(["--output", str(tmp_path), "MODEL.WEIGHTS", "elsewhere.pth"])
    run = demo.pipeline(args, "test")
    commands = []
    run.step = lambda name, cmd: commands.append((name, cmd))
    warm = str(tmp_path / "reader_warmup" / "model_final.pth")
    run.train("teacher", args.config_file, ["TEST.TEXT.COUNT_FLOPS", "True"], init_weights=warm)
    assert commands[-1][1][-2:] == ["MODEL.WEIGHTS", warm]
    done = tmp_path / "teacher"
    _trained(demo, done, args.config_file, ["MODEL.WEIGHTS", "elsewhere.pth", "TEST.TEXT.COUNT_FLOPS",
                                            "True", "MODEL.WEIGHTS", warm])
    run.reuse = True
    run.train("teacher", args.config_file, ["TEST.TEXT.COUNT_FLOPS", "True"], init_weights=warm)
    cmd = commands[-1][1]
    assert "--eval-only" in cmd and warm not in cmd
    assert cmd.count("TEST.TEXT.COUNT_FLOPS") == 1  # the teacher's own option, not a second copy
    assert cmd[-2:] == ["MODEL.WEIGHTS", str(done / "model_final.pth")]


@pytest.mark.detectron2  # a step's config.yaml is read with Detectron2's config
def test_a_reused_reader_warmup_is_not_evaluated(tmp_path):
    # The warm-up trains the reader alone: its detector is untrained, so evaluating it again
    # under --reuse-trained would only cost minutes. It is reused as it is, and said so.
    demo = _demo_module()
    args = demo.parse_args(["--output", str(tmp_path), "--reuse-trained"])
    assert args.config_file == "configs/synth/teacher_warm_cpu.yaml"
    assert args.warmup_config == "configs/synth/reader_warmup_cpu.yaml"
    run = demo.pipeline(args, "test")
    done = tmp_path / "reader_warmup"
    _trained(demo, done, args.warmup_config, [])
    commands = []
    run.step = lambda name, cmd: commands.append((name, cmd))
    assert run.train("reader_warmup", args.warmup_config, [], evaluated=False) == str(done)
    assert commands == [] and run.reused == ["reader_warmup"]
    # Without a checkpoint it is trained as any step.
    (done / "model_final.pth").unlink()
    run.train("reader_warmup", args.warmup_config, [], evaluated=False)
    assert commands == [("reader_warmup", ["train_net.py", "--config-file", args.warmup_config,
                                           "OUTPUT_DIR", str(done)])]


def test_the_teacher_starts_from_the_warmup_unless_there_is_none(tmp_path):
    demo = _demo_module()
    for argv, expected in (([], ["reader_warmup", "teacher"]), (["--warmup-config", ""], ["teacher"])):
        args = demo.parse_args(["--output", str(tmp_path)] + argv)
        run = demo.pipeline(args, "test")
        commands = []
        run.step = lambda name, cmd: commands.append((name, cmd))
        assert demo.train_teacher(run, args) == str(tmp_path / "teacher")
        assert [name for name, _ in commands] == expected
        teacher = commands[-1][1]
        if argv:  # no warm-up: the teacher config's own MODEL.WEIGHTS
            assert "MODEL.WEIGHTS" not in teacher
        else:
            assert teacher[-2:] == ["MODEL.WEIGHTS", str(tmp_path / "reader_warmup" / "model_final.pth")]


def test_the_default_path_distils_gamma_0_1_and_full_adds_the_baselines():
    # `make demo` must fit its time budget: DLD γ = 0.1 only; --full adds γ = 0.3 and the
    # fixed-scale student, whose curve the run then evaluates.
    demo = _demo_module()
    assert not demo.parse_args([]).full and demo.parse_args(["--full"]).full
    assert [name for name, _, _ in demo.distilled(full=False)] == ["dld_gamma0.1"]
    assert [name for name, _, _ in demo.distilled(full=True)] == ["dld_gamma0.1", "dld_gamma0.3", demo.FIXED]
    name, opts, what = demo.distilled(full=True)[2]
    assert opts == ["MODEL.DLD.SCALE_POLICY", "fixed", "MODEL.DLD.FIXED_SCALE", "0.7"]


def test_options_that_would_change_nothing_are_refused(capsys):
    demo = _demo_module()
    assert demo.parse_args(["--full"]).curve_scales == [0.5, 0.6, 0.8]
    assert demo.parse_args(["--full", "--curve-scales", "0.4"]).curve_scales == [0.4]
    # --distilled names the rows instead of the default path's or --full's.
    assert demo.parse_args([]).distilled == ["dld_gamma0.1"]
    assert demo.parse_args(["--full"]).distilled == ["dld_gamma0.1", "dld_gamma0.3", demo.FIXED]
    args = demo.parse_args(["--distilled", demo.FIXED, "--curve-scales", "0.5"])
    assert args.distilled == [demo.FIXED] and args.curve_scales == [0.5]
    for argv, message in ((["--curve-scales", "0.4"], "--curve-scales needs --full"),
                          (["--full", "--teacher-only"], "contradict"),
                          (["--teacher-only", "--rows-from", "s.json"], "contradict"),
                          (["--teacher-only", "--distilled", "fixed_0.7"], "contradict"),
                          (["--full", "--distilled", "fixed_0.7"], "contradict"),
                          (["--distilled", "dld_gamma0.3", "--curve-scales", "0.4"], "needs --full or"),
                          (["--distilled", "dld_gamma0.2"], "invalid choice")):
        with pytest.raises(SystemExit) as e:
            demo.parse_args(argv)
        assert e.value.code == 2 and message in capsys.readouterr().err


def _scene(image_id, size, words):
    anns = [{"bbox": [10, 10 + 40 * i, 110, 40 + 40 * i], "bbox_mode": 0, "text": w, "iscrowd": 0,
             "segmentation": [[10, 10 + 40 * i, 110, 10 + 40 * i, 110, 40 + 40 * i, 10, 40 + 40 * i]]}
            for i, w in enumerate(words)]
    return {"image_id": image_id, "text_scale": size, "annotations": anns}


def _read(scene, texts, scale=None):
    pred = {"image_id": str(scene["image_id"]), "instances": [
        {"polygon": a["segmentation"][0], "text": t, "score": 0.9}
        for a, t in zip(scene["annotations"], texts)]}
    if scale is not None:
        pred["scale"] = scale
    return pred


def test_scores_by_text_size():
    demo = _demo_module()
    scenes = [_scene(1, "small", ["alpha", "beta"]), _scene(2, "small", ["gamma"]),
              _scene(3, "large", ["delta", "omega"])]
    # Small text: 2 of 3 words read (one misread): P = R = 2/3. Large text: all read.
    preds = [_read(scenes[0], ["alpha", "bota"], 0.8), _read(scenes[1], ["gamma"], 0.6),
             _read(scenes[2], ["delta", "omega"], 0.3)]
    got = demo.by_text_size(preds, scenes)
    assert got == {
        "large": {"images": 1, "words": 2, "e2e_hmean": 100.0, "mean_scale": 0.3},
        "small": {"images": 2, "words": 3, "e2e_hmean": 66.7, "mean_scale": 0.7},
    }
    # A teacher (no chosen scale) gets hmeans only; a scene it missed counts its words.
    got = demo.by_text_size([_read(scenes[0], ["alpha", "beta"]), _read(scenes[1], [])], scenes)
    assert got == {"small": {"images": 2, "words": 3, "e2e_hmean": 80.0}}


def test_summary_lists_the_fixed_students_curve_by_text_size():
    demo = _demo_module()

    def result(hmean, gflops, sizes):
        return {"e2e_none_hmean": hmean, "ws_none_hmean": hmean + 1, "det_hmean": 90.0,
                "mean_gflops": gflops, "mean_input_short_side": 300,
                "by_text_size": {k: {"images": 2, "words": 5, "e2e_hmean": h} for k, h in sizes.items()}}

    teacher = {"name": "teacher", "what": "teacher", **result(50.0, 6.0, {"small": 52.0, "large": 30.0})}
    point = {"what": "fixed student, tested at 0.8", **result(45.0, 4.5, {"small": 44.8, "large": 45.8})}
    point["by_text_size"]["small"]["mean_scale"] = 0.8
    summary = {"test_set": "t", "minutes": {"teacher": 1.0}, "rows": [teacher],
               "curves": {"fixed curve": [point, {"what": "no sizes", **result(40.0, 3.0, {})}]}}
    summary["curves"]["fixed curve"][1].pop("by_text_size")
    lines = demo.summary_markdown(summary)
    assert "fixed curve: 4.50 G → 45.0, 3.00 G → 40.0" in lines
    by_size = lines[lines.index("| model | small E2E | small scale | large E2E | large scale |"):]
    assert by_size[2] == "| teacher | 52.0 | - | 30.0 | - |"
    assert by_size[3] == "| fixed student, tested at 0.8 | 44.8 | 0.80 | 45.8 | - |"
    assert not any("no sizes" in line for line in by_size)


def test_the_fixed_students_curve_runs_through_its_own_scale():
    # The plot's dashed line joins the other test scales and the row of the trained scale.
    demo = _demo_module()
    own = {"name": demo.FIXED, "mean_gflops": 4.0, "e2e_none_hmean": 69.4}
    summary = {"rows": [{"name": "teacher", "mean_gflops": 6.9, "e2e_none_hmean": 79.0}, own]}
    points = [{"mean_gflops": g, "e2e_none_hmean": h} for g, h in ((4.8, 74.4), (2.5, 45.3))]
    assert demo.curve_points(summary, points) == [(2.5, 45.3), (4.0, 69.4), (4.8, 74.4)]
    summary["rows"].pop()
    assert demo.curve_points(summary, points) == [(2.5, 45.3), (4.8, 74.4)]


def test_committed_paths_are_relative_to_the_repository(tmp_path):
    # The committed summary must not hold the absolute paths of the machine that made it.
    demo = _demo_module()
    inside = os.path.join(demo.REPO, "output", "demo", "teacher", "model_final.pth")
    assert demo.shown_path(inside) == os.path.join("output", "demo", "teacher", "model_final.pth")
    assert demo.shown_path(demo.REPO + "/output/demo") == os.path.join("output", "demo")
    assert demo.shown_path(str(tmp_path / "w.pth")) == str(tmp_path / "w.pth")  # outside: as given


def _teacher_row(e2e=82.97074268567142, latency=205.4):
    return {"name": "teacher", "what": "teacher at S-480", "det_hmean": 96.5, "e2e_none_hmean": e2e,
            "ws_none_hmean": 86.9, "mean_gflops": 6.84, "mean_input_short_side": 480.0,
            "latency_ms": latency}


def test_rows_from_an_earlier_run_of_the_same_teacher_are_carried_and_marked(tmp_path):
    # A session too short for --full trains the missing rows and takes the others from the
    # committed summary, only when its teacher reads exactly as the one they were distilled from.
    demo = _demo_module()
    student = {"name": "dld_gamma0.1", "what": "DLD, γ = 0.1", "det_hmean": 96.5,
               "e2e_none_hmean": 81.4, "ws_none_hmean": 85.8, "mean_gflops": 3.96,
               "mean_input_short_side": 317.0, "latency_ms": 159.0}
    earlier = tmp_path / "summary.json"
    earlier.write_text(json.dumps({"rows": [_teacher_row(), student],
                                   "curves": {"fixed curve": [{"mean_gflops": 2.0}]}}))
    here = _teacher_row(latency=300.0)  # another machine: slower, the same numbers
    rows, curves = demo.carried_rows(str(earlier), [here], ["dld_gamma0.1", "dld_gamma0.3"])
    assert list(rows) == ["dld_gamma0.1"] and curves == {}  # the fixed student is not carried
    assert rows["dld_gamma0.1"]["carried_from"] == str(earlier)
    assert rows["dld_gamma0.1"]["teacher_latency_ms"] == 205.4
    # Its latency ratio is to its own teacher (159 / 205.4), not to this run's (159 / 300).
    fresh = {**student, "name": "dld_gamma0.3", "what": "DLD, γ = 0.3", "latency_ms": 240.0}
    lines = demo.summary_markdown({"test_set": "t", "minutes": {"teacher": 1.0}, "curves": {},
                                   "rows": [here, rows["dld_gamma0.1"], fresh]})
    assert "| DLD, γ = 0.1 † | 81.4 | 85.8 | 96.5 | 3.96 | 0.58 | 317 | 159 | 0.77 |" in lines
    assert "| DLD, γ = 0.3 | 81.4 | 85.8 | 96.5 | 3.96 | 0.58 | 317 | 240 | 0.80 |" in lines
    assert any(line.startswith(f"† distilled in an earlier run (`{earlier}`") for line in lines)
    # The fixed student brings its curve along.
    fixed = {**student, "name": demo.FIXED}
    earlier.write_text(json.dumps({"rows": [_teacher_row(), fixed],
                                   "curves": {"fixed curve": [{"mean_gflops": 2.0}]}}))
    rows, curves = demo.carried_rows(str(earlier), [here], [demo.FIXED])
    assert list(rows) == [demo.FIXED] and curves == {"fixed curve": [{"mean_gflops": 2.0}]}
    # A row carried a second time keeps the run that distilled it and that run's teacher latency.
    later = tmp_path / "later.json"
    later.write_text(json.dumps({"rows": [{**here, "latency_ms": 300.0}, rows[demo.FIXED]], "curves": curves}))
    again, _ = demo.carried_rows(str(later), [here], [demo.FIXED])
    assert again[demo.FIXED]["carried_from"] == str(earlier)
    assert again[demo.FIXED]["teacher_latency_ms"] == 205.4


def test_rows_from_another_teacher_are_refused(tmp_path):
    demo = _demo_module()
    earlier = tmp_path / "summary.json"
    earlier.write_text(json.dumps({"rows": [_teacher_row(e2e=81.3)], "curves": {}}))
    with pytest.raises(SystemExit, match=r"another teacher: 'teacher' differs in e2e_none_hmean "
                                         r"\(81.3 there, 82.97074268567142 here\)"):
        demo.carried_rows(str(earlier), [_teacher_row()], ["dld_gamma0.1"])
    # A teacher view the earlier run did not have is another teacher too.
    view = {**_teacher_row(), "name": "teacher_dld_view"}
    with pytest.raises(SystemExit, match="it has no 'teacher_dld_view' row"):
        demo.carried_rows(str(earlier), [view], ["dld_gamma0.1"])
    earlier.write_text("not json")
    with pytest.raises(SystemExit, match=f"--rows-from {earlier}: not a summary.json"):
        demo.carried_rows(str(earlier), [_teacher_row()], ["dld_gamma0.1"])
    with pytest.raises(SystemExit, match="not a summary.json"):
        demo.carried_rows(str(tmp_path / "missing.json"), [_teacher_row()], ["dld_gamma0.1"])
