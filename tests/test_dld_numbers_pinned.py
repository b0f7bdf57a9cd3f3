"""Pinned numbers: seeded training steps and inference of the quick-schedule teacher and DLD
models give the literal values measured before the DLD restructuring (PR "DLD in parts").

Each case builds its model from the quick schedule under a fixed seed, loads seed-0 random
TextSpotter weights where DLD needs a teacher, runs three optimizer steps (the project's
optimizer, as train_net.py builds it) on fixed batches, then one inference pass. Every loss of
every step is pinned to 1e-6 relative, and the inference outputs (scales, instance counts,
texts) exactly. One thread: CPU kernels may sum in another order with more threads. Each case
holds one set of numbers per family of CPU kernels that it was measured on (`_check`).

To re-measure (only after a change that is meant to move the numbers, on each family of CPUs;
or to add the set of a new family, from a commit whose numbers the existing sets hold):
    DLD_PIN_PRINT=1 python3 -m pytest -q -s tests/test_dld_numbers_pinned.py
"""
import hashlib
import os

import pytest
import torch

pytestmark = pytest.mark.detectron2

TEACHER = "configs/quick_schedules/teacher_instant_test.yaml"
DLD = "configs/quick_schedules/dld_instant_test.yaml"
# The steps run at iterations 0-2; a long epoch keeps the Gumbel temperature at TAU0 for all
# three (the temperature schedule has tests of its own).
DLD_OPTS = ("MODEL.DLD.ITERS_PER_EPOCH", "100")
PRINT = os.environ.get("DLD_PIN_PRINT") == "1"


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
    if PRINT:
        print("\nSTEPS =", steps, "\nSPOTTED =", spotted)
    return steps, spotted


def _matches(steps, spotted, want_steps, want_spotted):
    assert len(steps) == len(want_steps)
    for got, want in zip(steps, want_steps):
        assert set(got) == set(want)
        for k in want:
            assert got[k] == pytest.approx(want[k], rel=1e-6, abs=1e-9), k
    for got, want in zip(spotted, want_spotted):
        assert got["score_sum"] == pytest.approx(want["score_sum"], rel=1e-5)
        assert {k: v for k, v in got.items() if k != "score_sum"} == {
            k: v for k, v in want.items() if k != "score_sum"}


def _check(steps, spotted, *pinned):
    """The run equals one of the `pinned` (steps, spotted) sets, one per family of CPU kernels
    measured (the earlier machines, and an AMD EPYC running AVX2 kernels, sum in another order:
    the losses differ in the 7th digit, and an untrained model's texts with them). A refactor
    must keep every set; a new family adds one."""
    failures = []
    for want_steps, want_spotted in pinned:
        try:
            _matches(steps, spotted, want_steps, want_spotted)
            return
        except AssertionError as e:
            failures.append(e)
    raise failures[0]


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


TEACHER_STEPS = [{'loss_att': 4.583293914794922,
  'loss_box_reg': 0.0016132896998897195,
  'loss_cls': 0.9030458331108093,
  'loss_ctc': 28.57617950439453,
  'loss_mask': 0.6915568709373474,
  'loss_rpn_cls': 0.6914014220237732,
  'loss_rpn_loc': 0.009111693128943443},
 {'loss_att': 4.597634792327881,
  'loss_box_reg': 0.0019147685961797833,
  'loss_cls': 0.15135812759399414,
  'loss_ctc': 20.681310653686523,
  'loss_mask': 0.6827110052108765,
  'loss_rpn_cls': 0.6836696267127991,
  'loss_rpn_loc': 0.000917999364901334},
 {'loss_att': 4.584646224975586,
  'loss_box_reg': 0.056310199201107025,
  'loss_cls': 0.17035217583179474,
  'loss_ctc': 36.454586029052734,
  'loss_mask': 0.6724578738212585,
  'loss_rpn_cls': 0.6713582873344421,
  'loss_rpn_loc': 0.02628467231988907}]
TEACHER_SPOTTED = [{'scale': None,
  'input_size': (256, 320),
  'instances': 48,
  'texts_sha1': '43f83215e71ad12c6659569bda0cc919be176780',
  'first_texts': ['M^!yyyyyyyyyyyyy', '', 'MbbbHH%%%%%%%HHH'],
  'score_sum': 0.34513697028160095},
 {'scale': None,
  'input_size': (256, 320),
  'instances': 48,
  'texts_sha1': 'fa49dcea41334b642d10890733dd7e7a996beecd',
  'first_texts': ['', 'tO!y!yyyyyyyyy!y', ''],
  'score_sum': 0.28026247024536133},
 {'scale': None,
  'input_size': (256, 320),
  'instances': 49,
  'texts_sha1': '77cb0669b365527646709e709a5a816c02403229',
  'first_texts': ['M>>GgdHHHgHgggHg', 'Mbbbbbbbbbbbbb^y', 'M>>>GdydydOOOdOO'],
  'score_sum': 0.272443950176239},
 {'scale': None,
  'input_size': (256, 320),
  'instances': 47,
  'texts_sha1': 'dc16826f8f544bbb695c542039728d5a616c2c44',
  'first_texts': ['g888ooooooooo8oo', '^yyd^yyydyyyyyyy', 'g%%%%%%%%K%%%K""'],
  'score_sum': 0.33816489577293396}]


# The same case on a CPU running AVX2 kernels (AMD EPYC, 2026-12-07).
TEACHER_STEPS_AVX2 = [{'loss_att': 4.583293914794922,
  'loss_box_reg': 0.001613287953659892,
  'loss_cls': 0.9030458331108093,
  'loss_ctc': 28.576181411743164,
  'loss_mask': 0.6915568709373474,
  'loss_rpn_cls': 0.6914014220237732,
  'loss_rpn_loc': 0.009111694060266018},
 {'loss_att': 4.597643852233887,
  'loss_box_reg': 0.0019147839630022645,
  'loss_cls': 0.15115667879581451,
  'loss_ctc': 20.681507110595703,
  'loss_mask': 0.6827110648155212,
  'loss_rpn_cls': 0.6836696267127991,
  'loss_rpn_loc': 0.0009180041961371899},
 {'loss_att': 4.584587097167969,
  'loss_box_reg': 0.05629807710647583,
  'loss_cls': 0.1669027954339981,
  'loss_ctc': 36.45123291015625,
  'loss_mask': 0.6724464893341064,
  'loss_rpn_cls': 0.6713666915893555,
  'loss_rpn_loc': 0.02628296986222267}]
TEACHER_SPOTTED_AVX2 = [{'scale': None,
  'input_size': (256, 320),
  'instances': 46,
  'texts_sha1': 'a3f37083fb00287b3e1d69a9d7df9e1f0d3c53de',
  'first_texts': ['M^!yyyyyyyyyyyyy', '', 'MbbbbHH%%%%%HHgH'],
  'score_sum': 0.4129888117313385},
 {'scale': None,
  'input_size': (256, 320),
  'instances': 48,
  'texts_sha1': 'd8dce548cab1d4afbb19f112d72a514f579f1ba2',
  'first_texts': ['', 't!!y!yy!yyyyy!yy', ''],
  'score_sum': 0.3345903158187866},
 {'scale': None,
  'input_size': (256, 320),
  'instances': 51,
  'texts_sha1': 'b111ae2c35cc6ef0dcd8e40e1e32c0aae65b2fbc',
  'first_texts': ['M>>>GgdHHHgHggHg', 'M^!!p/G!y!pmOOOd', 'M>>>GdydydOOdOOd'],
  'score_sum': 0.32731547951698303},
 {'scale': None,
  'input_size': (256, 320),
  'instances': 47,
  'texts_sha1': 'a56ffaf3d99cfc260b503b6386b845c50e2a05e6',
  'first_texts': ['5gg88oogHggggggg', '^yd^yydyyyyyyyyy', 'M^!ydOOOOOOOOOOO'],
  'score_sum': 0.4016789197921753}]


def test_teacher_quick_schedule_numbers():
    from detectron2.modeling import build_model

    cfg = _cfg(TEACHER)
    torch.manual_seed(0)
    model = build_model(cfg)
    steps, spotted = _train_and_spot(model, cfg)
    _check(steps, spotted, (TEACHER_STEPS, TEACHER_SPOTTED), (TEACHER_STEPS_AVX2, TEACHER_SPOTTED_AVX2))


DLD_STEPS = [{'loss_att': 4.599207878112793,
  'loss_box_reg': 0.0014192280359566212,
  'loss_cls': 0.8918309211730957,
  'loss_ctc': 28.608362197875977,
  'loss_kd_context': 0.21111147105693817,
  'loss_kd_roi': 20.88065528869629,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6914726495742798,
  'loss_penalty': 0.07155417650938034,
  'loss_rpn_cls': 0.6918197274208069,
  'loss_rpn_loc': 0.007331807166337967,
  'loss_rs': 4.59977388381958},
 {'loss_att': 4.598608493804932,
  'loss_box_reg': 0.0057941097766160965,
  'loss_cls': 0.13438184559345245,
  'loss_ctc': 20.969141006469727,
  'loss_kd_context': 0.18256932497024536,
  'loss_kd_roi': 21.305845260620117,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6759392023086548,
  'loss_penalty': 0.048426199704408646,
  'loss_rpn_cls': 0.6831275224685669,
  'loss_rpn_loc': 0.004691394977271557,
  'loss_rs': 4.559834957122803},
 {'loss_att': 4.587684631347656,
  'loss_box_reg': 0.0560426190495491,
  'loss_cls': 0.1943439245223999,
  'loss_ctc': 36.602630615234375,
  'loss_kd_context': 0.23493878543376923,
  'loss_kd_roi': 20.713420867919922,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6683993339538574,
  'loss_penalty': 0.04696077108383179,
  'loss_rpn_cls': 0.6740812063217163,
  'loss_rpn_loc': 0.030776482075452805,
  'loss_rs': 4.597043514251709}]
DLD_SPOTTED = [{'scale': 0.8,
  'input_size': (204, 255),
  'instances': 74,
  'texts_sha1': '182ff2083c60e2212faef9c19717b9ae5db49345',
  'first_texts': ['MB-7p/7upp/```99', 't>>>>>yyyyyyyyyy', 't!!]!!y!!y!!y!!!'],
  'score_sum': 7.437905311584473},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 79,
  'texts_sha1': '38d30ed1c7f97f3b57450f64c549e8baef24ae5d',
  'first_texts': ['tO5!yyyyy!pOOOO5', 't>>>>>!y!y!y!!9y', 't>>>>>>>>>9yyyyy'],
  'score_sum': 8.147136688232422},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 68,
  'texts_sha1': '9abeb7d64d7be9abb598c12f663144dba1db9417',
  'first_texts': ['MB-7up/`B`B````9', 't!!\\!!!!999t9t9t', 't!\\!\\F!!F!\\!\\!F!'],
  'score_sum': 5.499812602996826},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 73,
  'texts_sha1': '64e80d3616069b231c9ce05b17a33769c4bc935b',
  'first_texts': ['M>>>>>>>>>>>>>>>', 't!!!!!9!9y!y!!9!', 't5!p-ppppppp`dOO'],
  'score_sum': 7.21171236038208}]


# The same case on a CPU running AVX2 kernels (AMD EPYC, 2026-12-07).
DLD_STEPS_AVX2 = [{'loss_att': 4.599207401275635,
  'loss_box_reg': 0.0014192290836945176,
  'loss_cls': 0.8918310403823853,
  'loss_ctc': 28.608366012573242,
  'loss_kd_context': 0.21111153066158295,
  'loss_kd_roi': 20.880659103393555,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6914726495742798,
  'loss_penalty': 0.07155417650938034,
  'loss_rpn_cls': 0.6918197274208069,
  'loss_rpn_loc': 0.007331806235015392,
  'loss_rs': 4.599774360656738},
 {'loss_att': 4.598633766174316,
  'loss_box_reg': 0.00579423364251852,
  'loss_cls': 0.13197121024131775,
  'loss_ctc': 20.969240188598633,
  'loss_kd_context': 0.1825903356075287,
  'loss_kd_roi': 21.305622100830078,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6759386658668518,
  'loss_penalty': 0.048426199704408646,
  'loss_rpn_cls': 0.6831275820732117,
  'loss_rpn_loc': 0.004691479727625847,
  'loss_rs': 4.559713840484619},
 {'loss_att': 4.587955474853516,
  'loss_box_reg': 0.056084584444761276,
  'loss_cls': 0.1933116614818573,
  'loss_ctc': 36.63702392578125,
  'loss_kd_context': 0.2355189174413681,
  'loss_kd_roi': 20.714719772338867,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6683469414710999,
  'loss_penalty': 0.04696077108383179,
  'loss_rpn_cls': 0.6740928888320923,
  'loss_rpn_loc': 0.03076106123626232,
  'loss_rs': 4.597532749176025}]
DLD_SPOTTED_AVX2 = [{'scale': 0.8,
  'input_size': (204, 255),
  'instances': 71,
  'texts_sha1': 'd11bb3839d5f16fe78d0a417e59406a9bc22c6ad',
  'first_texts': ['t">>>>>yyyyyyytO', 'y!y!y!y!y!y!!y!!', 't>>>>>yyyyyyy!yy'],
  'score_sum': 6.880775451660156},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 66,
  'texts_sha1': 'b7ac00141e7e322b3486dbe2396e8655325bb24e',
  'first_texts': ['tO!yy!yyyyyyyyy!',
                  't57KK>>G7KK>>>G/',
                  't!\\!\\!!\\!!\\!!\\!!'],
  'score_sum': 6.093079566955566},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 67,
  'texts_sha1': '312856a75a4dbfb1a6537cf707e54759804c0b9e',
  'first_texts': ['t57>>>>>>9yyyyy7', 'MB7,7KM~~~CC8p`(', 't!!!!!!9!99t9t9t'],
  'score_sum': 5.450554847717285},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 67,
  'texts_sha1': '3becc0030250c661c5973fc020771e466416d19a',
  'first_texts': ['tO>>>>>yyyyyyyyy', 't!!!y!!y!y!!y!y!', 't!!p5!y!pppO!y!y'],
  'score_sum': 6.220656871795654}]


def test_dld_quick_schedule_numbers(teacher_weights):
    model, cfg = _dld(teacher_weights)
    steps, spotted = _train_and_spot(model, cfg)
    _check(steps, spotted, (DLD_STEPS, DLD_SPOTTED), (DLD_STEPS_AVX2, DLD_SPOTTED_AVX2))


DLD_BEST_REPLAY_STEPS = [{'loss_att': 4.599207878112793,
  'loss_box_reg': 0.0014192280359566212,
  'loss_cls': 0.8918309211730957,
  'loss_ctc': 28.608362197875977,
  'loss_kd_context': 0.21111147105693817,
  'loss_kd_roi': 20.88065528869629,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6914726495742798,
  'loss_rpn_cls': 0.6918197274208069,
  'loss_rpn_loc': 0.007331807166337967,
  'loss_rs': 1.9059549570083618},
 {'loss_att': 4.598608493804932,
  'loss_box_reg': 0.00579410744830966,
  'loss_cls': 0.13438184559345245,
  'loss_ctc': 20.96913719177246,
  'loss_kd_context': 0.18256957828998566,
  'loss_kd_roi': 21.30584716796875,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6759392023086548,
  'loss_rpn_cls': 0.6831275224685669,
  'loss_rpn_loc': 0.004691394977271557,
  'loss_rs': 0.8783968687057495},
 {'loss_att': 4.59691047668457,
  'loss_box_reg': 0.1270599216222763,
  'loss_cls': 0.2970045804977417,
  'loss_ctc': 36.53017044067383,
  'loss_kd_context': 0.2576122283935547,
  'loss_kd_roi': 21.05229949951172,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.668512225151062,
  'loss_rpn_cls': 0.6750509142875671,
  'loss_rpn_loc': 0.05698372796177864,
  'loss_rs': 1.0858447551727295}]
DLD_BEST_REPLAY_SPOTTED = [{'scale': 0.3,
  'input_size': (76, 95),
  'instances': 37,
  'texts_sha1': '9731a458a95a499dfd78ed04014bcc120f5247c6',
  'first_texts': ['t!\\!!\\!!!9!9/!99', 't!\\!\\F!F!p--!ppp', 't!!!!!!!!!!!!!!9'],
  'score_sum': 3.7644283771514893},
 {'scale': 0.3,
  'input_size': (76, 95),
  'instances': 37,
  'texts_sha1': 'd16e8cc59f61044f943c06a568e8cff78a7e808b',
  'first_texts': ['[1--------------', '[>>>>>>>99999t99', '[1--------------'],
  'score_sum': 3.6883816719055176},
 {'scale': 0.3,
  'input_size': (76, 95),
  'instances': 39,
  'texts_sha1': 'ddd5e1f4b8dc774ab3a38afa70f287f7d308e0af',
  'first_texts': ['!pm!ppmpm!ppmpm!', '[---------------', 't!\\!!!!\\!!!p\\!!!'],
  'score_sum': 4.034185409545898},
 {'scale': 0.3,
  'input_size': (76, 95),
  'instances': 37,
  'texts_sha1': 'e82a07c6fe95271be62b9dd338ad660de26df11e',
  'first_texts': ['tR>>>>>>>>>9999t', '[---------------', '[t\\-------------'],
  'score_sum': 4.112218856811523}]


# The same case on a CPU running AVX2 kernels (AMD EPYC, 2026-12-07).
DLD_BEST_REPLAY_STEPS_AVX2 = [{'loss_att': 4.599207401275635,
  'loss_box_reg': 0.0014192290836945176,
  'loss_cls': 0.8918310403823853,
  'loss_ctc': 28.608366012573242,
  'loss_kd_context': 0.21111153066158295,
  'loss_kd_roi': 20.880659103393555,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6914726495742798,
  'loss_rpn_cls': 0.6918197274208069,
  'loss_rpn_loc': 0.007331806235015392,
  'loss_rs': 1.9059549570083618},
 {'loss_att': 4.598634243011475,
  'loss_box_reg': 0.005794234108179808,
  'loss_cls': 0.13197122514247894,
  'loss_ctc': 20.969240188598633,
  'loss_kd_context': 0.18259038031101227,
  'loss_kd_roi': 21.30562400817871,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6759386658668518,
  'loss_rpn_cls': 0.6831275820732117,
  'loss_rpn_loc': 0.004691479727625847,
  'loss_rs': 0.8783970475196838},
 {'loss_att': 4.597326278686523,
  'loss_box_reg': 0.12705108523368835,
  'loss_cls': 0.29831355810165405,
  'loss_ctc': 36.53813934326172,
  'loss_kd_context': 0.25775203108787537,
  'loss_kd_roi': 21.049541473388672,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6684292554855347,
  'loss_rpn_cls': 0.6750209927558899,
  'loss_rpn_loc': 0.05699148774147034,
  'loss_rs': 1.0857915878295898}]
DLD_BEST_REPLAY_SPOTTED_AVX2 = [{'scale': 0.3,
  'input_size': (76, 95),
  'instances': 36,
  'texts_sha1': '839697ec24e541ee554130fb2464862e2b7643f0',
  'first_texts': ['t!\\!!\\!!\\!!99/!9',
                  't!\\!\\F!!F!\\--!!p',
                  't!!!!!!!!!!!!!!!'],
  'score_sum': 3.92706298828125},
 {'scale': 0.3,
  'input_size': (76, 95),
  'instances': 38,
  'texts_sha1': 'ab22929db8e45195a25cb40dcc58e559f5606cc4',
  'first_texts': ['[1--------------', '[>>>>>>>>9999999', '[---------------'],
  'score_sum': 3.8582565784454346},
 {'scale': 0.3,
  'input_size': (76, 95),
  'instances': 37,
  'texts_sha1': '8f697935877cb844252647554a309bd35cb221dd',
  'first_texts': ['!pm!pmpmFy!pmFy!', '[---------------', 't!\\!!!!!\\!!!9!9t'],
  'score_sum': 4.065788745880127},
 {'scale': 0.3,
  'input_size': (76, 95),
  'instances': 37,
  'texts_sha1': '0b11a19e9b7169b42fe55142d545dc023528ac12',
  'first_texts': ['tR>>>>>>>>>9999t', '[---------------', '[---------------'],
  'score_sum': 4.2139081954956055}]


def test_dld_best_scale_objective_with_replay_numbers(teacher_weights):
    model, cfg = _dld(teacher_weights, "MODEL.DLD.SELECTOR_LOSS", "best", "MODEL.DLD.SELECTOR_REPLAY", "2",
                      "MODEL.DLD.SELECTOR_REPLAY_BANK", "3", "MODEL.DLD.SELECTOR_LR_FACTOR", "30.0")
    steps, spotted = _train_and_spot(model, cfg)
    _check(steps, spotted, (DLD_BEST_REPLAY_STEPS, DLD_BEST_REPLAY_SPOTTED), (DLD_BEST_REPLAY_STEPS_AVX2, DLD_BEST_REPLAY_SPOTTED_AVX2))


DLD_KL_STEPS = [{'loss_att': 4.599207878112793,
  'loss_box_reg': 0.0014192280359566212,
  'loss_cls': 0.8918309211730957,
  'loss_ctc': 28.608362197875977,
  'loss_kd_context': 0.21111147105693817,
  'loss_kd_roi': 20.88065528869629,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6914726495742798,
  'loss_penalty': 0.07155417650938034,
  'loss_rpn_cls': 0.6918197274208069,
  'loss_rpn_loc': 0.007331807166337967,
  'loss_rs': 0.005430941935628653},
 {'loss_att': 4.598608493804932,
  'loss_box_reg': 0.0057941097766160965,
  'loss_cls': 0.13438184559345245,
  'loss_ctc': 20.969141006469727,
  'loss_kd_context': 0.18256932497024536,
  'loss_kd_roi': 21.305845260620117,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6759392023086548,
  'loss_penalty': 0.048426199704408646,
  'loss_rpn_cls': 0.6831275224685669,
  'loss_rpn_loc': 0.004691394977271557,
  'loss_rs': 0.0027552966494113207},
 {'loss_att': 4.587684631347656,
  'loss_box_reg': 0.0560426190495491,
  'loss_cls': 0.1943439245223999,
  'loss_ctc': 36.602630615234375,
  'loss_kd_context': 0.23493878543376923,
  'loss_kd_roi': 20.713420867919922,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6683993339538574,
  'loss_penalty': 0.04696077108383179,
  'loss_rpn_cls': 0.6740812063217163,
  'loss_rpn_loc': 0.030776482075452805,
  'loss_rs': 0.013759088702499866}]
DLD_KL_SPOTTED = [{'scale': 0.8,
  'input_size': (204, 255),
  'instances': 74,
  'texts_sha1': '182ff2083c60e2212faef9c19717b9ae5db49345',
  'first_texts': ['MB-7p/7upp/```99', 't>>>>>yyyyyyyyyy', 't!!]!!y!!y!!y!!!'],
  'score_sum': 7.437905311584473},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 79,
  'texts_sha1': '38d30ed1c7f97f3b57450f64c549e8baef24ae5d',
  'first_texts': ['tO5!yyyyy!pOOOO5', 't>>>>>!y!y!y!!9y', 't>>>>>>>>>9yyyyy'],
  'score_sum': 8.147136688232422},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 68,
  'texts_sha1': '9abeb7d64d7be9abb598c12f663144dba1db9417',
  'first_texts': ['MB-7up/`B`B````9', 't!!\\!!!!999t9t9t', 't!\\!\\F!!F!\\!\\!F!'],
  'score_sum': 5.499812602996826},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 73,
  'texts_sha1': '64e80d3616069b231c9ce05b17a33769c4bc935b',
  'first_texts': ['M>>>>>>>>>>>>>>>', 't!!!!!9!9y!y!!9!', 't5!p-ppppppp`dOO'],
  'score_sum': 7.21171236038208}]


# The same case on a CPU running AVX2 kernels (AMD EPYC, 2026-12-07).
DLD_KL_STEPS_AVX2 = [{'loss_att': 4.599207401275635,
  'loss_box_reg': 0.0014192290836945176,
  'loss_cls': 0.8918310403823853,
  'loss_ctc': 28.608366012573242,
  'loss_kd_context': 0.21111153066158295,
  'loss_kd_roi': 20.880659103393555,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6914726495742798,
  'loss_penalty': 0.07155417650938034,
  'loss_rpn_cls': 0.6918197274208069,
  'loss_rpn_loc': 0.007331806235015392,
  'loss_rs': 0.00543089397251606},
 {'loss_att': 4.598633766174316,
  'loss_box_reg': 0.00579423364251852,
  'loss_cls': 0.13197121024131775,
  'loss_ctc': 20.969240188598633,
  'loss_kd_context': 0.1825903356075287,
  'loss_kd_roi': 21.305622100830078,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6759386658668518,
  'loss_penalty': 0.048426199704408646,
  'loss_rpn_cls': 0.6831275820732117,
  'loss_rpn_loc': 0.004691479727625847,
  'loss_rs': 0.002751559717580676},
 {'loss_att': 4.587955474853516,
  'loss_box_reg': 0.056084584444761276,
  'loss_cls': 0.1933116614818573,
  'loss_ctc': 36.63702392578125,
  'loss_kd_context': 0.2355189174413681,
  'loss_kd_roi': 20.714719772338867,
  'loss_kd_seq': 11.512925148010254,
  'loss_mask': 0.6683469414710999,
  'loss_penalty': 0.04696077108383179,
  'loss_rpn_cls': 0.6740928888320923,
  'loss_rpn_loc': 0.03076106123626232,
  'loss_rs': 0.013646868988871574}]
DLD_KL_SPOTTED_AVX2 = [{'scale': 0.8,
  'input_size': (204, 255),
  'instances': 71,
  'texts_sha1': 'd11bb3839d5f16fe78d0a417e59406a9bc22c6ad',
  'first_texts': ['t">>>>>yyyyyyytO', 'y!y!y!y!y!y!!y!!', 't>>>>>yyyyyyy!yy'],
  'score_sum': 6.880775451660156},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 66,
  'texts_sha1': 'b7ac00141e7e322b3486dbe2396e8655325bb24e',
  'first_texts': ['tO!yy!yyyyyyyyy!',
                  't57KK>>G7KK>>>G/',
                  't!\\!\\!!\\!!\\!!\\!!'],
  'score_sum': 6.093079566955566},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 67,
  'texts_sha1': '312856a75a4dbfb1a6537cf707e54759804c0b9e',
  'first_texts': ['t57>>>>>>9yyyyy7', 'MB7,7KM~~~CC8p`(', 't!!!!!!9!99t9t9t'],
  'score_sum': 5.450554847717285},
 {'scale': 0.8,
  'input_size': (204, 255),
  'instances': 67,
  'texts_sha1': '3becc0030250c661c5973fc020771e466416d19a',
  'first_texts': ['tO>>>>>yyyyyyyyy', 't!!!y!!y!y!!y!y!', 't!!p5!y!pppO!y!y'],
  'score_sum': 6.220656871795654}]


def test_dld_kl_objective_numbers(teacher_weights):
    model, cfg = _dld(teacher_weights, "MODEL.DLD.SELECTOR_LOSS", "kl")
    steps, spotted = _train_and_spot(model, cfg)
    _check(steps, spotted, (DLD_KL_STEPS, DLD_KL_SPOTTED), (DLD_KL_STEPS_AVX2, DLD_KL_SPOTTED_AVX2))
