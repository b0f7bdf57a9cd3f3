"""DLDSpotter: training step, frozen teacher, selector gradients, checkpoints, inference."""
import math

import pytest
import torch

from test_text_spotter import _input

pytestmark = pytest.mark.detectron2

QUICK = "configs/quick_schedules/dld_instant_test.yaml"
LOSSES = {
    "loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask", "loss_att", "loss_ctc",
    "loss_rs", "loss_penalty", "loss_kd_seq", "loss_kd_roi", "loss_kd_context",
}


def _cfg(*opts):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(QUICK)
    cfg.merge_from_list(list(opts))
    return cfg


@pytest.fixture(scope="module")
def teacher_checkpoint(tmp_path_factory):
    """A plain TextSpotter checkpoint (random weights, as saved by Detectron2's checkpointer)."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    cfg = _cfg("MODEL.META_ARCHITECTURE", "TextSpotter")
    torch.manual_seed(1)
    model = build_model(cfg)
    folder = tmp_path_factory.mktemp("teacher")
    DetectionCheckpointer(model, save_dir=str(folder)).save("teacher")
    return folder / "teacher.pth", model.state_dict()


def _build_and_load(cfg):
    """The model of `cfg` with its weights, as train_net.py starts a training."""
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    torch.manual_seed(0)
    model = build_model(cfg)
    TextSpotterCheckpointer(model, teacher_weights=cfg.MODEL.DLD.TEACHER_WEIGHTS).resume_or_load(
        cfg.MODEL.WEIGHTS, resume=False
    )
    return model


def _dld(teacher_checkpoint, *opts):
    return _build_and_load(_cfg("MODEL.DLD.TEACHER_WEIGHTS", str(teacher_checkpoint[0]), *opts))


def _batch():
    return [
        _input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 300, 140]]),
        _input(["Text"], [[40, 60, 200, 120]]),
    ]


def test_teacher_checkpoint_initialises_teacher_and_student(teacher_checkpoint):
    model = _dld(teacher_checkpoint)
    saved = teacher_checkpoint[1]
    for part in (model.teacher, model.student):
        own = part.state_dict()
        assert all(torch.equal(own[k], saved[k]) for k in saved)
    assert not model.teacher.training
    assert all(not p.requires_grad for p in model.teacher.parameters())


def test_training_step_leaves_the_teacher_unchanged(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    model = _dld(teacher_checkpoint)
    model.train()
    assert not model.teacher.training
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in model.student.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    with EventStorage():
        losses = model(_batch())
        assert set(losses) == LOSSES
        assert all(torch.isfinite(v) for v in losses.values())
        sum(losses.values()).backward()
        opt.step()
    after = model.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # parameters and BN buffers
    moved = [k for k, v in model.student.named_parameters() if not torch.equal(v, student_before[k])]
    assert len(moved) > 0.9 * len(student_before)


def test_student_starts_as_the_teacher_so_feature_kd_starts_at_zero(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    # At scale 1.0 with the student in eval mode the student sees what the teacher sees.
    model = _dld(teacher_checkpoint, "MODEL.DLD.SCALE_POLICY", "fixed", "MODEL.DLD.FIXED_SCALE", "1.0")
    model.train()
    model.student.eval()
    with EventStorage():
        losses = model(_batch())
    assert float(losses["loss_kd_roi"]) < 1e-10
    assert float(losses["loss_kd_context"]) < 1e-10


def test_selector_gradients_come_only_from_its_decisions(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    model = _dld(teacher_checkpoint)
    model.train()
    with EventStorage():
        losses = model(_batch())
    sel = list(model.selector.parameters())
    student = [p for p in model.student.parameters()]

    def grads(name, params):
        g = torch.autograd.grad(losses[name], params, retain_graph=True, allow_unused=True)
        return [x for x in g if x is not None and x.abs().sum() > 0]

    # The selector learns from loss_rs and the penalty, through its one-hot decisions only.
    assert grads("loss_rs", sel) and grads("loss_penalty", sel)
    # The candidate passes run without gradient: loss_rs never reaches the student.
    assert not grads("loss_rs", student)
    # The student's losses at the chosen scale never reach the selector.
    for name in ("loss_att", "loss_kd_seq", "loss_kd_roi", "loss_mask"):
        assert not grads(name, sel)


def test_a_batch_without_text(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    model = _dld(teacher_checkpoint)
    model.train()
    with EventStorage():
        losses = model([_input([], []), _input([], [])])
        assert set(losses) == LOSSES
        for name in ("loss_att", "loss_rs", "loss_kd_seq", "loss_kd_roi", "loss_kd_context"):
            assert float(losses[name]) == 0.0
        assert float(losses["loss_penalty"]) > 0  # the choice still costs
        sum(losses.values()).backward()


def test_best_scale_selector_loss_trains_the_selector_only(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    model = _dld(teacher_checkpoint, "MODEL.DLD.SELECTOR_LOSS", "best")
    model.train()
    with EventStorage() as storage:
        losses = model(_batch())
        best_scale = storage.latest()["dld/best_scale"][0]
        penalty = storage.latest()["dld/penalty"][0]
        # The penalty shapes the targets instead of being a loss of its own.
        assert set(losses) == LOSSES - {"loss_penalty"}
        sel, student = list(model.selector.parameters()), list(model.student.parameters())
        g = torch.autograd.grad(losses["loss_rs"], sel + student, allow_unused=True)
        assert any(x is not None and x.abs().sum() > 0 for x in g[: len(sel)])
        assert all(x is None or x.abs().sum() == 0 for x in g[len(sel):])
        # A random selector over 6 scales: cross-entropy ≈ log 6 to any target.
        assert float(losses["loss_rs"]) == pytest.approx(math.log(6), abs=0.5)
        assert 0.3 <= best_scale <= 0.8 and 0.1 * 0.3**1.5 - 1e-6 <= penalty <= 0.1 * 0.8**1.5 + 1e-6
        # Without text every image's best decision is the cheapest scale.
        empty = model([_input([], []), _input([], [])])
        assert storage.latest()["dld/best_scale"][0] == pytest.approx(0.3)
        sum(empty.values()).backward()


def test_selector_replay_trains_on_earlier_images_with_their_targets(teacher_checkpoint):
    """With SELECTOR_REPLAY 3 and batches of 2: step 1 scores its 2 images; step 2 its own 2 plus
    the 2 of step 1 (inputs and targets as stored then); the store keeps the latest 3."""
    from detectron2.utils.events import EventStorage

    opts = ("MODEL.DLD.SELECTOR_LOSS", "best")
    plain = _dld(teacher_checkpoint, *opts)
    model = _dld(teacher_checkpoint, *opts, "MODEL.DLD.SELECTOR_REPLAY", "3")
    plain.train(), model.train()
    first = _batch()
    second = [_input(["Replay"], [[30, 30, 250, 90]]), _input([], [])]
    with EventStorage() as storage:
        no_replay = plain(first)["loss_rs"]
        step1 = model(first)["loss_rs"]
        assert float(step1) == pytest.approx(float(no_replay), rel=1e-6)
        stored1 = list(model.selector_objective.replay.entries)
        assert len(stored1) == 2
        assert [x.shape[0] for x, _ in stored1] == [1, 1]
        assert all(x.dtype == torch.float16 for x, _ in stored1)
        mean_target = sum(model.scales[t] for _, t in stored1) / 2
        assert mean_target == pytest.approx(storage.latest()["dld/best_scale"][0])
        step2 = model(second)["loss_rs"]
    stored2 = list(model.selector_objective.replay.entries)
    assert len(stored2) == 3 and stored2[0][0] is stored1[1][0]
    # The image without words targets the cheapest scale.
    assert stored2[2][1] == 0
    with torch.no_grad():
        inputs = [x for x, _ in stored2[1:]] + [x for x, _ in stored1]
        logits = torch.cat([model.selector(x.float()) for x in inputs])
        targets = torch.tensor([t for _, t in stored2[1:]] + [t for _, t in stored1])
        expected = torch.nn.functional.cross_entropy(logits, targets)
    # The current images count at full precision, their stored copies are half precision.
    assert float(step2) == pytest.approx(float(expected), rel=1e-3)
    g = torch.autograd.grad(step2, list(model.selector.parameters()))
    assert all(torch.isfinite(x).all() for x in g) and any(x.abs().sum() > 0 for x in g)


def test_selector_replay_bank_draws_earlier_images_at_random(teacher_checkpoint):
    """SELECTOR_REPLAY 1 from a bank of 3, batches of 2: the bank keeps the latest 3 images, and
    each step adds one of them, drawn at random, to its own 2."""
    from detectron2.utils.events import EventStorage

    opts = ("MODEL.DLD.SELECTOR_LOSS", "best", "MODEL.DLD.SELECTOR_REPLAY", "1")
    model = _dld(teacher_checkpoint, *opts, "MODEL.DLD.SELECTOR_REPLAY_BANK", "3")
    model.train()
    replay = model.selector_objective.replay
    batches = [_batch(), [_input(["Replay"], [[30, 30, 250, 90]]), _input([], [])], _batch()]
    drawn = []
    with EventStorage():
        for step, batch in enumerate(batches):
            bank = list(replay.entries)
            loss = model(batch)["loss_rs"]
            assert len(replay) == min(2 * (step + 1), 3)
            if not bank:
                continue
            current = list(replay.entries)[-2:]
            with torch.no_grad():
                own = torch.cat([model.selector(x.float()) for x, _ in current])
                own_targets = torch.tensor([t for _, t in current])
                ce = torch.nn.functional.cross_entropy
                candidates = [
                    float(ce(torch.cat([own, model.selector(x.float())]),
                             torch.cat([own_targets, own_targets.new_tensor([t])])))
                    for x, t in bank
                ]
            matches = [i for i, c in enumerate(candidates) if c == pytest.approx(float(loss), rel=1e-3)]
            assert matches, (float(loss), candidates)
            drawn.append(matches)
    assert len(drawn) == 2


def test_replay_bank_draws_from_every_position():
    """Not always the latest: over 40 steps of one image each, the 2 drawn of a bank of 5 come
    from every position in it."""
    from dld_d2.modeling.dld.replay_bank import ReplayBank

    bank = ReplayBank(per_step=2, capacity=5)
    view = torch.randn(1, 3, 8, 8)
    positions = set()
    for step in range(40):
        kept = [t for _, t in bank.entries]
        drawn = bank.draw()
        bank.add([view], [step])
        assert len(drawn) == min(len(kept), 2)
        positions.update(kept.index(t) for _, t in drawn)
    assert positions == set(range(5))
    assert len(bank) == 5 and all(x.dtype == torch.float16 for x, _ in bank.entries)


def test_selector_replay_needs_the_best_scale_loss(teacher_checkpoint):
    with pytest.raises(ValueError, match="SELECTOR_REPLAY"):
        _dld(teacher_checkpoint, "MODEL.DLD.SELECTOR_REPLAY", "4")
    with pytest.raises(ValueError, match="SELECTOR_REPLAY=-1: a count"):
        _dld(teacher_checkpoint, "MODEL.DLD.SELECTOR_LOSS", "best", "MODEL.DLD.SELECTOR_REPLAY", "-1")
    best = ("MODEL.DLD.SELECTOR_LOSS", "best")
    with pytest.raises(ValueError, match="SELECTOR_REPLAY_BANK=2: 0 .* or at least SELECTOR_REPLAY=4"):
        _dld(teacher_checkpoint, *best, "MODEL.DLD.SELECTOR_REPLAY", "4", "MODEL.DLD.SELECTOR_REPLAY_BANK", "2")
    with pytest.raises(ValueError, match="SELECTOR_REPLAY, which is 0"):
        _dld(teacher_checkpoint, *best, "MODEL.DLD.SELECTOR_REPLAY_BANK", "8")


def test_penalty_matches_the_chosen_scales(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    model = _dld(teacher_checkpoint, "MODEL.DLD.PENALTY_WEIGHT", "0.3")
    model.train()
    with EventStorage() as storage:
        losses = model(_batch())
        mean_scale = storage.latest()["dld/mean_scale"][0]
        tau = storage.latest()["dld/tau"][0]
    assert tau == pytest.approx(5.0)
    # Two images: penalty = 0.3 · mean(s^1.5); the chosen scales lie in 0.3..0.8.
    assert 0.3 * 0.3 ** 1.5 - 1e-6 <= float(losses["loss_penalty"]) <= 0.3 * 0.8 ** 1.5 + 1e-6
    assert 0.3 <= mean_scale <= 0.8


def test_inference_outputs_scale_and_original_coordinates(teacher_checkpoint):
    model = _dld(teacher_checkpoint)
    model.eval()
    model.student.roi_heads.box_predictor.test_score_thresh = 0.0
    inputs = [{k: v for k, v in x.items() if k != "instances"} for x in _batch()]
    with torch.no_grad():
        out = model(inputs)
        again = model(inputs)
    for o, a in zip(out, again):
        assert o["scale"] in model.scales and o["scale"] == a["scale"]  # argmax: deterministic
        h, w = o["input_size"]
        assert min(h, w) == int(o["scale"] * 256)
        inst = o["instances"]
        assert inst.image_size == (512, 640)
        if len(inst):
            assert float(inst.pred_boxes.tensor[:, 2].max()) <= 640
            assert all(p[:, 0].max() <= 640 for p in inst.pred_polygons)


def test_the_teacher_view_as_a_candidate_scale(teacher_checkpoint):
    # configs/synth/distill_cpu.yaml adds 1.0 to the paper's 0.3-0.8: the student may read the
    # teacher view itself, in training (scored with the others) and at test.
    from detectron2.utils.events import EventStorage

    from dld_d2.config import get_cfg

    synth = get_cfg()
    synth.merge_from_file("configs/synth/distill_cpu.yaml")
    scales = tuple(synth.MODEL.DLD.SCALES)
    assert scales[-1] == 1.0
    model = _dld(teacher_checkpoint, "MODEL.DLD.SCALES", str(scales), "MODEL.DLD.SELECTOR_LOSS", "best")
    model.train()
    with EventStorage() as storage:
        losses = model(_batch())
        best = storage.latest()["dld/best_scale"][0]
    assert min(scales) <= best <= 1.0
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        model.selector.fc.bias.zero_()
        model.selector.fc.bias[-1] = 100.0  # the selector picks the last candidate, 1.0
        out = model([{k: v for k, v in x.items() if k != "instances"} for x in _batch()])
    assert [o["scale"] for o in out] == [1.0, 1.0]
    assert all(min(o["input_size"]) == 256 for o in out)  # the teacher view's short side


def test_checkpoint_round_trip_and_inference_checkpoint_without_teacher(teacher_checkpoint, tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer

    from dld_d2.checkpoint.checkpointer import checkpoint_parts

    model = _dld(teacher_checkpoint)
    with torch.no_grad():
        for p in model.selector.parameters():
            p.add_(0.5)
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("dld")
    state = torch.load(tmp_path / "dld.pth", weights_only=False)["model"]
    assert checkpoint_parts(state) == ["teacher", "student", "selector"]

    fresh = _dld(teacher_checkpoint)
    DetectionCheckpointer(fresh).load(str(tmp_path / "dld.pth"))
    a, b = model.state_dict(), fresh.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    # An inference checkpoint keeps the student and the selector only.
    slim = {k: v for k, v in state.items() if not k.startswith("teacher.")}
    assert checkpoint_parts(slim) == ["student", "selector"]
    torch.save({"model": slim}, tmp_path / "slim.pth")
    fresh = _dld(teacher_checkpoint, "MODEL.DLD.TEACHER_WEIGHTS", "", "MODEL.WEIGHTS", str(tmp_path / "slim.pth"))
    DetectionCheckpointer(fresh).load(str(tmp_path / "slim.pth"))
    b = fresh.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("teacher."))


def test_fixed_scale_baseline_has_no_selector(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    model = _dld(teacher_checkpoint, "MODEL.DLD.SCALE_POLICY", "fixed")
    assert model.selector is None
    model.train()
    with EventStorage():
        losses = model(_batch())
    assert set(losses) == LOSSES - {"loss_rs", "loss_penalty"}
    model.eval()
    with torch.no_grad():
        out = model([{k: v for k, v in x.items() if k != "instances"} for x in _batch()])
    assert [o["scale"] for o in out] == [0.5, 0.5]
    assert [min(o["input_size"]) for o in out] == [128, 128]


def test_plain_spotter_checkpoint_as_model_weights_fills_teacher_and_student(teacher_checkpoint, caplog):
    import logging

    with caplog.at_level(logging.INFO):
        model = _dld(teacher_checkpoint, "MODEL.DLD.TEACHER_WEIGHTS", "",
                     "MODEL.WEIGHTS", str(teacher_checkpoint[0]))
    saved = teacher_checkpoint[1]
    for part in (model.teacher, model.student):
        own = part.state_dict()
        assert all(torch.equal(own[k], saved[k]) for k in saved)
    assert "Loading a plain text-spotter checkpoint into the teacher and the student" in caplog.text


def test_a_resume_reads_the_last_checkpoint_not_the_teacher_weights(teacher_checkpoint, tmp_path):
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    model = _dld(teacher_checkpoint)
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(0.25)  # trained past the teacher
    TextSpotterCheckpointer(model, save_dir=str(tmp_path)).save("model_0000009")
    fresh = build_model(_cfg())
    missing = str(tmp_path / "gone.pth")  # the teacher file is not needed to resume
    TextSpotterCheckpointer(fresh, save_dir=str(tmp_path), teacher_weights=missing).resume_or_load(
        "", resume=True
    )
    a, b = model.state_dict(), fresh.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_missing_teacher_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="MODEL.DLD.TEACHER_WEIGHTS=.*nope.pth: no such file"):
        _build_and_load(_cfg("MODEL.DLD.TEACHER_WEIGHTS", str(tmp_path / "nope.pth")))


def test_dld_checkpoint_as_teacher_weights_is_a_clear_error(teacher_checkpoint, tmp_path):
    # Its keys (teacher./student./selector.) would match nothing in a TextSpotter: both random.
    from detectron2.checkpoint import DetectionCheckpointer

    DetectionCheckpointer(_dld(teacher_checkpoint), save_dir=str(tmp_path)).save("dld")
    with pytest.raises(ValueError, match="is a DLD checkpoint .*teacher, student, selector"):
        _dld(teacher_checkpoint, "MODEL.DLD.TEACHER_WEIGHTS", str(tmp_path / "dld.pth"))


def test_schedule_penalty_and_view_keys_reach_the_training_step(teacher_checkpoint):
    from types import SimpleNamespace

    from detectron2.utils.events import EventStorage

    from dld_d2.config import get_cfg
    from dld_d2.engine import GumbelTemperatureHook

    model = _dld(
        teacher_checkpoint,
        "MODEL.DLD.TAU0", "2.0", "MODEL.DLD.TAU_DECAY", "0.5", "MODEL.DLD.ITERS_PER_EPOCH", "1",
        "MODEL.DLD.PENALTY_WEIGHT", "0.25", "MODEL.DLD.PENALTY_COSTS", "(2, 2, 2, 2, 2, 2)",
        "MODEL.DLD.SELECTOR_LOSS_WEIGHT", "0.0", "MODEL.DLD.TRAIN_MAX_SIZE", "150",
        "MODEL.DLD.KD_SEQ_TOPK", "3", "MODEL.DLD.KD_SEQ_BEAM_WIDTH", "4",
    )
    assert model.selector.widths == (8, 8, 16, 16, 32)  # SELECTOR_WIDTHS of the quick config
    assert (model.distillation.seq_topk, model.distillation.seq_beam_width) == (3, 4)
    sizes = []
    model.student.backbone.register_forward_pre_hook(lambda m, a: sizes.append(a[0].shape[-2:]))
    model.train()
    # The trainer's hook sets the temperature of iteration 3 (epoch 3 of 1 iteration).
    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.DLD.TAU0", "2.0", "MODEL.DLD.TAU_DECAY", "0.5",
                         "MODEL.DLD.ITERS_PER_EPOCH", "1"])
    hook = GumbelTemperatureHook.from_config(cfg)
    hook.trainer = SimpleNamespace(model=model, iter=3)
    hook.before_train()
    hook.before_step()
    with EventStorage(start_iter=3) as storage:
        losses = model(_batch())
        tau = storage.latest()["dld/tau"][0]
    assert tau == pytest.approx(2.0 * 0.5 ** 3)  # epoch 3 of 1 iteration
    assert float(losses["loss_penalty"]) == pytest.approx(0.25 * 2)  # the cost table, any scale
    assert float(losses["loss_rs"]) == 0.0
    assert torch.isfinite(losses["loss_kd_seq"])
    # Every student pass (6 candidate scales + the chosen one) is capped at a long side of 150
    # (padded to 160); uncapped, scale 0.8 of the 256×320 view would be 256 wide.
    assert len(sizes) == 7 and max(max(s) for s in sizes) <= 160


def test_kl_selector_loss_vanishes_when_the_student_sees_what_the_teacher_sees(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    rs = {}
    for loss in ("kl", "ce"):
        model = _dld(teacher_checkpoint, "MODEL.DLD.SCALES", "(1.0,)", "MODEL.DLD.SELECTOR_LOSS", loss)
        model.train()
        with EventStorage():
            rs[loss] = float(model(_batch())["loss_rs"])
    # One candidate at scale 1.0, student (eval mode) = teacher: KL 0, CE to the GT text not.
    assert rs["kl"] < 1e-6 and rs["ce"] > 1.0


def test_kd_weights_scale_their_losses(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    fixed = ("MODEL.DLD.SCALE_POLICY", "fixed")
    losses = []
    for opts in ((), ("MODEL.DLD.KD_SEQ_WEIGHT", "2.0", "MODEL.DLD.KD_ROI_WEIGHT", "0.0",
                      "MODEL.DLD.KD_CONTEXT_WEIGHT", "3.0")):
        model = _dld(teacher_checkpoint, *fixed, *opts)
        model.train()
        with EventStorage():
            losses.append({k: float(v) for k, v in model(_batch()).items()})
    one, two = losses
    assert one["loss_kd_roi"] > 0 and two["loss_kd_roi"] == 0.0
    assert two["loss_kd_seq"] == pytest.approx(2 * one["loss_kd_seq"], rel=1e-5)
    assert two["loss_kd_context"] == pytest.approx(3 * one["loss_kd_context"], rel=1e-5)


def test_view_losses_score_the_student_at_the_teacher_view(teacher_checkpoint):
    from detectron2.utils.events import EventStorage

    # At FIXED_SCALE 1.0 the chosen scale is the view itself. In training every student loss
    # has its view twin; with the student in eval mode (no BatchNorm update between the passes,
    # recognition and distillation only) the twins are the chosen-scale losses times the weight.
    fixed_at_view = ("MODEL.DLD.SCALE_POLICY", "fixed", "MODEL.DLD.FIXED_SCALE", "1.0")
    model = _dld(teacher_checkpoint, *fixed_at_view, "MODEL.DLD.VIEW_LOSS_WEIGHT", "0.5")
    model.train()
    student_losses = LOSSES - {"loss_rs", "loss_penalty"}
    with EventStorage():
        assert set(model(_batch())) == student_losses | {f"{k}_view" for k in student_losses}
        model.student.eval()
        losses = model(_batch())
    for k in ("loss_att", "loss_ctc", "loss_kd_seq"):
        assert float(losses[k]) > 0
        assert float(losses[f"{k}_view"]) == pytest.approx(0.5 * float(losses[k]), rel=1e-5)
    # The view pass trains the student only, through its own graph.
    model.zero_grad()
    losses["loss_att_view"].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.student.roi_heads.parameters())

    with pytest.raises(ValueError, match="VIEW_LOSS_WEIGHT=-1.0"):
        _dld(teacher_checkpoint, "MODEL.DLD.VIEW_LOSS_WEIGHT", "-1.0")
    cfg = _cfg("MODEL.DLD.TEACHER_WEIGHTS", str(teacher_checkpoint[0]))
    cfg.MODEL.DLD.VIEW_LOSS_WEIGHT = float("nan")  # as a YAML `.nan` gives it
    with pytest.raises(ValueError, match="VIEW_LOSS_WEIGHT=nan"):
        _build_and_load(cfg)


def test_test_selection_sample_and_test_max_size(teacher_checkpoint):
    inputs = [{k: v for k, v in x.items() if k != "instances"} for x in _batch()]
    chosen = {}
    for selection in ("argmax", "sample"):
        model = _dld(teacher_checkpoint, "MODEL.DLD.TEST_SELECTION", selection,
                     "MODEL.DLD.TEST_MAX_SIZE", "60")
        model.eval()
        with torch.no_grad():
            for p in model.selector.fc.parameters():
                p.zero_()  # equal logits: argmax takes the first scale, sampling any
            torch.manual_seed(0)
            outs = [o for _ in range(10) for o in model(inputs)]
        chosen[selection] = {o["scale"] for o in outs}
        assert all(max(o["input_size"]) <= 60 for o in outs)
    assert chosen["argmax"] == {0.3}
    assert len(chosen["sample"]) > 1
