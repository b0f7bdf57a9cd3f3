"""Pinned numbers: seeded training steps and inference of the quick-schedule teacher and DLD
models give the literal values measured before the DLD restructuring (PR "DLD in parts").

Each case builds its model from the quick schedule under a fixed seed, loads seed-0 random
TextSpotter weights where DLD needs a teacher, runs three optimizer steps (the project's
optimizer, as train_net.py builds it) on fixed batches, then one inference pass. Every loss of
every step is pinned to 1e-6 relative, and the inference outputs (scales, instance counts,
texts) exactly. One thread: CPU kernels may sum in another order with more threads. Each case's
numbers are in tests/pinned/CASE.json: one set per family of CPU kernels it was measured on,
under a label naming that family (`_check`).

To re-measure (only after a change that is meant to move the numbers, on each family of CPUs;
or to add the set of a new family, from a commit whose numbers the existing sets hold), this
prints each case's set as JSON, to be put under its family's label in the case's file:
    DLD_PIN_PRINT=1 python3 -m pytest -q -s tests/test_dld_numbers_pinned.py
"""
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.detectron2

TEACHER = "configs/quick_schedules/teacher_instant_test.yaml"
DLD = "configs/quick_schedules/dld_instant_test.yaml"
# The steps run at iterations 0-2; a long epoch keeps the Gumbel temperature at TAU0 for all
# three (the temperature schedule has tests of its own).
DLD_OPTS = ("MODEL.DLD.ITERS_PER_EPOCH", "100")
PRINT = os.environ.get("DLD_PIN_PRINT") == "1"
PINNED = Path(__file__).parent / "pinned"


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cfg(path, *opts):
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(path)
    # An untrained detector scores near 0.5: keep every detection so that inference has texts.
    cfg.merge_from_list(["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0", *opts])
    return cfg


def _input(texts, boxes, seed, size=(256, 320), out_size=(512, 640)):
    from detectron2.structures import Boxes, Instances, PolygonMasks

    from dld_d2.data.vocabulary import Vocabulary

    gen = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 255, (3,) + size, dtype=torch.uint8, generator=gen)
    inst = Instances(size)
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    inst.gt_boxes = Boxes(b)
    inst.gt_classes = torch.zeros(len(b), dtype=torch.long)
    inst.gt_masks = PolygonMasks([[[x0, y0, x1, y0, x1, y1, x0, y1]] for x0, y0, x1, y1 in b.tolist()])
    inst.gt_texts = Vocabulary.builtin().encode_padded(texts)
    return {"image": img, "instances": inst, "height": out_size[0], "width": out_size[1]}


def _batches():
    return [
        [_input(["Hello", "World"], [[10, 20, 110, 50], [150, 100, 300, 140]], seed=1),
         _input(["Text"], [[40, 60, 200, 120]], seed=2)],
        [_input(["Replay"], [[30, 30, 250, 90]], seed=3), _input([], [], seed=4)],
        [_input(["spot", "DLD", "low"], [[8, 8, 120, 40], [130, 150, 300, 200], [20, 180, 90, 230]],
                seed=5),
         _input(["Scale"], [[60, 90, 260, 160]], seed=6)],
    ]


def _teacher_state():
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    return build_model(_cfg(TEACHER)).state_dict()


def _train_and_spot(model, cfg):
    """Losses of three seeded optimizer steps, then a summary of one inference pass."""
    from detectron2.utils.events import EventStorage

    from dld_d2.engine import build_optimizer

    optimizer = build_optimizer(cfg, model)
    batches = _batches()
    torch.manual_seed(0)
    steps = []
    model.train()
    with EventStorage(start_iter=0) as storage:
        for it, batch in enumerate(batches):
            storage.iter = it
            losses = model(batch)
            optimizer.zero_grad()
            sum(losses.values()).backward()
            optimizer.step()
            steps.append({k: float(v.detach()) for k, v in sorted(losses.items())})
    model.eval()
    inputs = [{k: v for k, v in x.items() if k != "instances"} for b in batches[:2] for x in b]
    with torch.no_grad():
        outputs = model(inputs)
    spotted = []
    for o in outputs:
        inst = o["instances"]
        texts = list(inst.pred_texts)
        spotted.append({
            "scale": o.get("scale"),
            "input_size": tuple(int(s) for s in o["input_size"]),
            "instances": len(inst),
            "texts_sha1": hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest(),
            "first_texts": texts[:3],
            "score_sum": float(inst.scores.sum()),
        })
    return steps, spotted


def _matches(steps, spotted, want_steps, want_spotted):
    assert len(steps) == len(want_steps)
    for got, want in zip(steps, want_steps):
        assert set(got) == set(want)
        for k in want:
            assert got[k] == pytest.approx(want[k], rel=1e-6, abs=1e-9), k
    assert len(spotted) == len(want_spotted)
    for got, want in zip(spotted, want_spotted):
        assert got["score_sum"] == pytest.approx(want["score_sum"], rel=1e-5)
        assert {k: v for k, v in got.items() if k != "score_sum"} == {
            k: v for k, v in want.items() if k != "score_sum"}


def _check(case, steps, spotted):
    """The run equals one of the sets of tests/pinned/`case`.json, one per family of CPU kernels
    measured (an AMD EPYC running AVX512 kernels, as the earlier machines, and one running AVX2
    kernels sum in another order: the losses differ in the 7th digit, and an untrained model's
    texts with them). A refactor must keep every set; a new family adds one."""
    # As stored: tuples are JSON lists.
    measured = json.loads(json.dumps({"steps": steps, "spotted": spotted}))
    if PRINT:
        print(f"\n{case}:", json.dumps(measured, indent=1, ensure_ascii=False))
    pinned = json.loads((PINNED / f"{case}.json").read_text())
    _equals_one(measured["steps"], measured["spotted"], pinned, PINNED / f"{case}.json")


def _equals_one(steps, spotted, pinned, where):
    failures = []
    for label, want in pinned.items():
        try:
            _matches(steps, spotted, want["steps"], want["spotted"])
            return
        except AssertionError as e:
            failures.append(f"-- against the {label} set: {e}")
    raise AssertionError(
        f"the run equals none of the {len(pinned)} pinned sets of {where} (one per family of CPU "
        f"kernels: {', '.join(pinned)}); this CPU runs {torch.backends.cpu.get_cpu_capability()} "
        "kernels. After a change meant to move the numbers, re-measure every set; on a family "
        "not listed, add its set, measured with DLD_PIN_PRINT=1 (module docstring) at a commit "
        "the existing sets hold.\n" + "\n".join(failures))


def test_a_run_that_equals_no_pinned_set_is_told_apart_from_each():
    steps, spotted = [{"loss_att": 1.0}], [{"texts": "ab", "score_sum": 0.5}]
    pinned = {"first": {"steps": [{"loss_att": 2.0}], "spotted": spotted},
              "AVX2": {"steps": steps, "spotted": spotted}}
    _equals_one(steps, spotted, pinned, "case.json")
    pinned["AVX2"]["spotted"] = [{"texts": "ac", "score_sum": 0.5}]
    with pytest.raises(AssertionError) as e:
        _equals_one(steps, spotted, pinned, "case.json")
    message = str(e.value)
    assert "none of the 2 pinned sets of case.json" in message and "first, AVX2" in message
    assert "against the first set" in message and "loss_att" in message
    assert "against the AVX2 set" in message and "'ac'" in message
    assert "DLD_PIN_PRINT=1" in message


def test_every_case_has_its_pinned_sets():
    cases = sorted(p.stem for p in PINNED.glob("*.json"))
    assert cases == ["dld", "dld_best_scale_replay", "dld_kl", "teacher"]
    for case in cases:
        sets = json.loads((PINNED / f"{case}.json").read_text())
        # One set per family of CPU kernels seen so far; a new family adds one.
        assert len(sets) >= 1 and all(len(s["steps"]) == 3 and len(s["spotted"]) == 4
                                      for s in sets.values()), case


@pytest.fixture(scope="module")
def teacher_weights(tmp_path_factory):
    """(path, state dict): a TextSpotter checkpoint of the teacher quick schedule's seed-0 weights."""
    state = _teacher_state()
    path = tmp_path_factory.mktemp("pinned") / "teacher_seed0.pth"
    torch.save({"model": state}, path)
    return str(path), state


def _dld(teacher_weights, *opts):
    from detectron2.modeling import build_model

    cfg = _cfg(DLD, "MODEL.DLD.TEACHER_WEIGHTS", teacher_weights[0], *DLD_OPTS, *opts)
    torch.manual_seed(0)
    model = build_model(cfg)
    # The student starts as the teacher.
    for part in (model.teacher, model.student):
        part.load_state_dict(teacher_weights[1])
    return model, cfg


def test_teacher_quick_schedule_numbers():
    from detectron2.modeling import build_model

    cfg = _cfg(TEACHER)
    torch.manual_seed(0)
    model = build_model(cfg)
    steps, spotted = _train_and_spot(model, cfg)
    _check("teacher", steps, spotted)


def test_dld_quick_schedule_numbers(teacher_weights):
    model, cfg = _dld(teacher_weights)
    steps, spotted = _train_and_spot(model, cfg)
    _check("dld", steps, spotted)


def test_dld_best_scale_objective_with_replay_numbers(teacher_weights):
    model, cfg = _dld(teacher_weights, "MODEL.DLD.SELECTOR_LOSS", "best", "MODEL.DLD.SELECTOR_REPLAY", "2",
                      "MODEL.DLD.SELECTOR_REPLAY_BANK", "3", "MODEL.DLD.SELECTOR_LR_FACTOR", "30.0")
    steps, spotted = _train_and_spot(model, cfg)
    _check("dld_best_scale_replay", steps, spotted)


def test_dld_kl_objective_numbers(teacher_weights):
    model, cfg = _dld(teacher_weights, "MODEL.DLD.SELECTOR_LOSS", "kl")
    steps, spotted = _train_and_spot(model, cfg)
    _check("dld_kl", steps, spotted)
