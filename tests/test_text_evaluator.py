"""TextSpottingEvaluator (Detectron2 glue) on the real IC13 GT, lexicons and a real submission."""
import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.detectron2


@pytest.fixture(scope="module")
def ic13_root(ic13_datasets_root):
    return ic13_datasets_root


@pytest.fixture(scope="module")
def mango_outputs(eval_data):
    """The MANGO IC13 submission as model outputs (file order = descending score)."""
    from detectron2.structures import Instances

    from dld_d2.evaluation import read_submission_zip

    gt_zip = eval_data / "gt" / "davar_format" / "gt-icdar2013.zip"
    preds = read_submission_zip(eval_data / "preds" / "mango_r50_ic13_none.zip", gt_zip)
    inputs, outputs = [], []
    for key, dets in preds.items():
        inst = Instances((40, 40))
        inst.scores = torch.linspace(1.0, 0.5, len(dets)) if dets else torch.zeros(0)
        inst.rec_scores = torch.ones(len(dets))
        inst.pred_polygons = [np.asarray(d.points, np.float32).reshape(-1, 2) for d in dets]
        inst.pred_texts = [d.text for d in dets]
        inputs.append({"image_id": f"img_{key}"})
        outputs.append({"instances": inst, "input_size": (768, 1024), "gflops": 140.0 + len(dets)})
    return inputs, outputs


def _register(root, name):
    from detectron2.data import DatasetCatalog

    from dld_d2.data.builtin import register_text_dataset

    lex = root / "lexicons" / "icdar2013"
    if name not in DatasetCatalog.list():
        register_text_dataset(
            name, str(root / "icdar2013" / "test_images"), str(root / "icdar2013" / "gt-icdar2013.zip"),
            fmt="ic13", exact_gt=True,
            lexicons={"generic": str(lex / "GenericVocabulary.txt"),
                      "weak": str(lex / "ch2_test_vocabulary.txt"),
                      "strong": str(lex / "strong_lexicon.zip")},
        )


def test_official_numbers_through_the_evaluator(ic13_root, mango_outputs, tmp_path):
    from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

    _register(ic13_root, "dld_eval_ic13_test")
    ev = TextSpottingEvaluator(
        "dld_eval_ic13_test", output_dir=str(tmp_path), iou_threshold=0.1, distributed=False
    )
    ev.reset()
    inputs, outputs = mango_outputs
    for i in range(0, len(inputs), 7):  # in batches, as a test loader would
        ev.process(inputs[i : i + 7], outputs[i : i + 7])
    res = ev.evaluate()["text_spotting"]
    # docs/evaluation.md, "Parity with the official scripts" (DAVAR script.py, -iou=0.1), in percent.
    expected = {
        "det_recall": 92.69, "det_precision": 96.26, "det_hmean": 94.44,
        "e2e_none_recall": 79.50, "e2e_none_precision": 82.56, "e2e_none_hmean": 81.00,
        "ws_none_recall": 80.49, "ws_none_precision": 83.62, "ws_none_hmean": 82.02,
        "e2e_generic_hmean": 84.00, "e2e_weak_hmean": 88.78, "e2e_strong_hmean": 89.44,
        "ws_generic_hmean": 87.26, "ws_weak_hmean": 93.10, "ws_strong_hmean": 93.81,
    }
    for k, v in expected.items():
        assert res[k] == pytest.approx(v, abs=0.006), k
    assert res["mean_input_short_side"] == 768.0
    assert res["mean_gflops"] == pytest.approx(140.0 + 1038 / 233)
    # Files land in output_dir only: predictions, the official-format submission, results.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "submission.zip", "text_predictions.json", "text_results.json"
    ]
    assert json.loads((tmp_path / "text_results.json").read_text())["text_spotting"]["det_hmean"] == res["det_hmean"]


def test_submission_zip_scores_the_same_offline(ic13_root, mango_outputs, tmp_path, eval_data):
    import subprocess
    import sys

    from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

    _register(ic13_root, "dld_eval_ic13_test")
    ev = TextSpottingEvaluator("dld_eval_ic13_test", output_dir=str(tmp_path), lexicon_types=("none",),
                               iou_threshold=0.1, word_spotting=False, distributed=False)
    ev.process(*mango_outputs)
    res = ev.evaluate()["text_spotting"]
    out = subprocess.run(
        [sys.executable, "tools/evaluate_predictions.py", "--gt",
         str(eval_data / "gt" / "davar_format" / "gt-icdar2013.zip"),
         "--pred", str(tmp_path / "submission.zip"), "--iou", "0.1"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert f"spot_hmean:  {round(res['e2e_none_hmean'] / 100, 4)!r}" in out


def test_missing_lexicon_is_reported_at_construction(ic13_root):
    from dld_d2.data.builtin import register_text_dataset
    from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

    register_text_dataset("dld_eval_missing_lex", str(ic13_root), str(ic13_root), lexicons={
        "weak": str(ic13_root / "nowhere" / "weak.txt")})
    with pytest.raises(FileNotFoundError, match="nowhere/weak.txt"):
        TextSpottingEvaluator("dld_eval_missing_lex")
    # Leaving it out works.
    TextSpottingEvaluator("dld_eval_missing_lex", lexicon_types=("none",))
    with pytest.raises(ValueError, match="no such lexicon"):
        TextSpottingEvaluator("dld_eval_missing_lex", lexicon_types=("strong",))


def test_score_threshold_and_empty_outputs(ic13_root, tmp_path):
    from detectron2.structures import Instances

    from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

    _register(ic13_root, "dld_eval_ic13_test")
    ev = TextSpottingEvaluator("dld_eval_ic13_test", lexicon_types=("none",), score_threshold=0.5,
                               distributed=False)
    inst = Instances((40, 40))
    inst.scores = torch.tensor([0.9, 0.2])
    inst.rec_scores = torch.ones(2)
    inst.pred_polygons = [np.array([[0, 0], [9, 0], [9, 9]], np.float32)] * 2
    inst.pred_texts = ["A", "B"]
    empty = Instances((40, 40))
    empty.scores, empty.rec_scores, empty.pred_polygons, empty.pred_texts = (
        torch.zeros(0), torch.zeros(0), [], [])
    ev.process([{"image_id": "img_1"}, {"image_id": "img_2"}],
               [{"instances": inst}, {"instances": empty}])
    assert [len(p["instances"]) for p in ev._predictions] == [1, 0]
    res = ev.evaluate()["text_spotting"]
    assert res["e2e_none_recall"] == 0.0 and res["det_precision"] == 0.0


def test_from_config_pairs_rule(ic13_root, mango_outputs):
    from dld_d2.config import get_cfg
    from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

    _register(ic13_root, "dld_eval_ic13_test")
    cfg = get_cfg()
    cfg.TEST.TEXT.LEXICONS = ("none", "weak")
    cfg.TEST.TEXT.LEXICON_RULE = "pairs"
    cfg.TEST.TEXT.IOU_THRESH = 0.1
    cfg.TEST.TEXT.WORD_SPOTTING = False
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0
    ev = TextSpottingEvaluator.from_config(cfg, "dld_eval_ic13_test")
    ev.process(*mango_outputs)
    res = ev.evaluate()["text_spotting"]
    assert not any(k.startswith("ws_") or "strong" in k or "generic" in k for k in res)
    # docs/evaluation.md, "Parity with the official scripts": weak lexicon, pair rule (identity
    # pairs, keep if distance <= 1, else drop).
    assert res["e2e_weak_hmean"] == pytest.approx(86.98, abs=0.006)
    assert res["e2e_none_hmean"] == pytest.approx(81.00, abs=0.006)
