"""Evaluation protocol: official numbers (docs/evaluation.md, "Parity with the official scripts")
and edge cases, one by one."""
import math

import numpy as np
import pytest

from dld_d2.evaluation.protocol import (
    SPECIAL_CHARACTERS_DAVAR,
    SPECIAL_CHARACTERS_RRC,
    PreparedPolygons,
    ProtocolConfig,
    UnknownImageError,
    evaluate,
    evaluate_image,
    intersection_matrix,
    iou_matrix,
    polygon_area,
    polygon_region,
    quantize_points,
    transcription_match,
    word_spotting_eligible,
    word_spotting_transform,
)
from dld_d2.evaluation.submission import read_gt_zip, read_submission_zip, write_submission_zip

SQ = [0, 0, 10, 0, 10, 10, 0, 10]  # 10×10 square


def box(x0, y0, x1, y1):
    return [x0, y0, x1, y0, x1, y1, x0, y1]


# ------------------------------------------------------------------------------------------
# Official sample (DAVAR MANGO R50 on IC13): docs/evaluation.md, "Parity with the official scripts"
# ------------------------------------------------------------------------------------------


def rounded(d):
    return tuple(round(d[k], 4) for k in ("recall", "precision", "hmean"))


def test_mango_e2e_iou01_documented_numbers(ic13):
    gt, preds = ic13
    r = evaluate(gt, preds, ProtocolConfig.davar(0.1))
    assert (r.num_gt_care, r.num_det, r.num_det_care, r.det_matched, r.det_correct) == (917, 1038, 883, 850, 729)
    assert rounded(r.detection) == (0.9269, 0.9626, 0.9444)
    assert rounded(r.spotting) == (0.7950, 0.8256, 0.8100)
    assert r.spotting["precision"] == 729 / 883 and r.spotting["recall"] == 729 / 917
    assert r.summary_lines() == [
        "num_gt, num_det:  917 1038",
        "Origin:",
        "det_recall:  0.9269 det_precision:  0.9626 det_hmean:  0.9444",
        "spot_recall:  0.795 spot_precision:  0.8256 spot_hmean:  0.81",
    ]


def test_mango_word_spotting(ic13):
    r = evaluate(*ic13, ProtocolConfig.davar(0.1, word_spotting=True))
    assert r.num_gt_care == 856
    assert rounded(r.detection) == (0.9357, 0.9721, 0.9536)  # DAVAR: WS don't-cares in det_* too
    assert rounded(r.spotting) == (0.8049, 0.8362, 0.8202)


def test_mango_iou05(ic13):
    r = evaluate(*ic13, ProtocolConfig.davar(0.5))
    assert r.num_gt_care == 917
    assert rounded(r.detection) == (0.0207, 0.0213, 0.0210)
    assert rounded(r.spotting) == (0.0164, 0.0168, 0.0166)


def test_adet_flavour_cross_check(ic13, tmp_path):
    """Cross-implementation check (docs/evaluation.md, "Parity with the official scripts"): the
    sample in AdelaiDet format, thresholds 0.1."""
    gt, preds = ic13
    # GT and predictions written in the ',####' / %07d form (zero-area GT box dropped, CCW fixed).
    gt_items = {k: [(g.points, g.text) for g in v] for k, v in gt.items()}
    write_submission_zip(tmp_path / "gt_ic13_adet.zip", gt_items, naming="adet", invalid="drop")
    write_submission_zip(tmp_path / "pred.zip", preds, naming="adet", invalid="drop")
    agt, fmt = read_gt_zip(tmp_path / "gt_ic13_adet.zip")
    assert fmt == "adet" and sum(len(v) for v in agt.values()) == 1636
    apred = read_submission_zip(tmp_path / "pred.zip", tmp_path / "gt_ic13_adet.zip", "adet")
    e2e = evaluate(agt, apred, ProtocolConfig.adet(0.1, area_precision_threshold=0.1))
    ws = evaluate(agt, apred, ProtocolConfig.adet(0.1, True, area_precision_threshold=0.1))
    assert [round(e2e.spotting[k], 6) for k in ("precision", "recall")] == [0.825595, 0.794984]
    assert round(e2e.spotting["hmean"], 6) == 0.81
    assert [round(ws.spotting[k], 6) for k in ("precision", "recall", "hmean")] == [0.836165, 0.804907, 0.820238]
    # AdelaiDet's separate detection pass ('###'-only don't-cares): unchanged in WS mode.
    assert rounded(ws.detection)[:2] == (0.9269, 0.9626) == rounded(e2e.detection)[:2]


@pytest.mark.parametrize("name, ws_hmean", [
    ("gt-icdar2013.zip", 0.9661), ("gt-icdar2015.zip", 0.9732), ("total-text-gt.zip", 0.9879)])
def test_gt_as_prediction(eval_data, name, ws_hmean):
    gt, _ = read_gt_zip(eval_data / "gt" / "davar_format" / name)
    preds = {k: [(g.points, g.text) for g in v if g.text != "###"] for k, v in gt.items()}
    e2e = evaluate(gt, preds, ProtocolConfig.davar(0.5))
    ws = evaluate(gt, preds, ProtocolConfig.davar(0.5, True))
    assert e2e.spotting["hmean"] == 1.0
    assert round(ws.spotting["hmean"], 4) == ws_hmean
    if name == "gt-icdar2015.zip":
        assert round(ws.detection["recall"], 4) == 0.9995


def test_care_counts_per_dataset(eval_data):
    counts = {}
    for name in ("gt-icdar2013.zip", "gt-icdar2015.zip", "total-text-gt.zip"):
        gt, _ = read_gt_zip(eval_data / "gt" / "davar_format" / name)
        counts[name] = tuple(evaluate(gt, {}, ProtocolConfig.davar(0.5, ws)).num_gt_care for ws in (False, True))
    assert counts == {"gt-icdar2013.zip": (917, 856), "gt-icdar2015.zip": (2077, 1958),
                      "total-text-gt.zip": (2215, 1823)}


# ------------------------------------------------------------------------------------------
# Geometry (Polygon3 semantics)
# ------------------------------------------------------------------------------------------
def test_area_and_iou_simple():
    assert polygon_area(SQ) == 100.0
    assert polygon_area(SQ[::-1]) == 100.0  # orientation does not matter
    assert iou_matrix([SQ], [box(5, 0, 15, 10)])[0, 0] == pytest.approx(50 / 150)
    assert iou_matrix([SQ], [box(10, 0, 20, 10)])[0, 0] == 0.0  # touching edge


def test_bow_tie_scores_like_polygon3():
    bow = [0, 0, 10, 10, 10, 0, 0, 10]  # self-intersecting: |signed area| = 0, GPC fill = 50
    assert polygon_area(bow) == 0.0
    assert polygon_region(bow).area == 50.0
    assert iou_matrix([SQ], [bow])[0, 0] == 1.0  # 50 / (0 + 100 - 50): docs/evaluation.md, "Matching and IoU"


def test_pentagram_even_odd_fill():
    # Regression numbers from Polygon3 3.0.9.1 (GPC): area = |shoelace|, intersection = even-odd.
    star = [(int(100 + 100 * math.cos(math.pi / 2 + k * 4 * math.pi / 5)),
             int(100 + 100 * math.sin(math.pi / 2 + k * 4 * math.pi / 5))) for k in range(5)]
    big = box(-10, -10, 210, 210)
    assert polygon_area(star) == 14695.5
    inter = intersection_matrix(PreparedPolygons([big]), PreparedPolygons([star]))[0, 0]
    assert inter == pytest.approx(7757.558889482277, rel=1e-12)  # the centre pentagon is a hole


def test_double_wound_contour_is_empty_under_even_odd():
    dbl = SQ + SQ  # the square traced twice
    assert polygon_area(dbl) == 200.0
    assert polygon_region(dbl).is_empty
    assert iou_matrix([SQ], [dbl])[0, 0] == 0.0


def test_degenerate_polygons_never_crash():
    zero = [533, 469, 534, 469, 534, 469, 533, 469]  # IC13 gt_img_50's zero-area box
    for pts in (zero, [0, 0, 5, 5], [3, 3], []):
        assert polygon_area(pts) == 0.0
        assert iou_matrix([SQ], [pts])[0, 0] == 0.0
    assert iou_matrix([zero], [zero])[0, 0] == 0.0  # 0/0 → 0
    r = evaluate_image([(SQ, "ABC", False)], [([0, 0, 5, 5], "ABC"), (zero, "ABC"), ([], "ABC")])
    assert (r.num_det_care, r.det_matched, r.num_degenerate_det, r.num_invalid_det) == (3, 0, 2, 1)


def test_coordinate_quantization():
    assert quantize_points([1.9, -1.9, 2.5, 3.0], "int32").tolist() == [[1, -1], [2, 3]]
    assert quantize_points([0.1, 0.2], "float32")[0, 0] == float(np.float32(0.1))
    # int32 truncation changes the IoU: [0,10.9] → [0,10]
    assert iou_matrix([SQ], [[0, 0, 10.9, 0, 10.9, 10.9, 0, 10.9]])[0, 0] == 1.0
    assert iou_matrix([SQ], [[0, 0, 10.9, 0, 10.9, 10.9, 0, 10.9]], dtype="float32")[0, 0] < 1.0


# ------------------------------------------------------------------------------------------
# Matching
# ------------------------------------------------------------------------------------------
def test_strict_iou_threshold():
    gt = [(SQ, "ABC", False)]
    det = [(box(0, 0, 20, 10), "ABC")]  # IoU exactly 0.5
    assert iou_matrix([SQ], [det[0][0]])[0, 0] == 0.5
    assert evaluate_image(gt, det, ProtocolConfig.davar(0.5)).det_matched == 0
    assert evaluate_image(gt, det, ProtocolConfig.davar(0.4999)).det_matched == 1


def test_greedy_file_order_not_best_iou():
    gt = [(SQ, "ABC", False)]
    dets = [(box(0, 0, 10, 18), "ABC"), (box(0, 0, 10, 11), "ABC")]  # IoU 0.556 first, 0.909 second
    r = evaluate_image(gt, dets)
    assert r.pairs == [(0, 0, True)] and r.num_det_care == 2


def test_gt_major_order_and_one_to_one():
    gts = [(box(0, 0, 10, 10), "AAA", False), (box(2, 0, 12, 10), "BBB", False)]
    dets = [(box(1, 0, 11, 10), "BBB"), (box(0, 0, 10, 10), "AAA")]
    r = evaluate_image(gts, dets)
    # GT 0 takes det 0 (first detection over the threshold), so GT 1 gets det 1 — both wrong text.
    assert r.pairs == [(0, 0, False), (1, 1, False)]
    assert (r.det_matched, r.det_correct) == (2, 0)


def test_wrong_text_uses_up_the_gt():
    gt = [(SQ, "HELLO", False)]
    r = evaluate_image(gt, [(SQ, "HELL0"), (SQ, "HELLO")])
    assert r.pairs == [(0, 0, False)]
    assert (r.det_correct, r.num_det_care) == (0, 2)


def test_dont_care_discard_with_area_precision():
    gts = [(SQ, "###", False), (box(20, 0, 30, 10), "ABC", False)]
    over_dc = (box(0, 0, 10, 10), "X")  # inside the don't-care region
    half = (box(5, 0, 15, 10), "X")  # exactly 50% of its area on the don't-care box
    r = evaluate_image(gts, [over_dc, half], ProtocolConfig.davar(0.5))
    assert r.det_dont_care == [0] and r.num_det_care == 1  # 0.5 is not > 0.5
    # DAVAR ties the constraint to -iou: at 0.1, 10%+ overlap is enough.
    r = evaluate_image(gts, [over_dc, half], ProtocolConfig.davar(0.1))
    assert r.det_dont_care == [0, 1]
    # AdelaiDet keeps 0.5 whatever the IoU threshold.
    assert evaluate_image(gts, [over_dc, half], ProtocolConfig.adet(0.1)).det_dont_care == [0]


def test_dont_care_detection_cannot_match_care_gt():
    gts = [(box(0, 0, 10, 10), "###", False), (box(0, 0, 12, 10), "ABC", False)]
    r = evaluate_image(gts, [(box(0, 0, 11, 10), "ABC")])  # 10/11 inside the don't-care box
    assert r.det_dont_care == [0] and r.pairs == [] and r.num_gt_care == 1 and r.num_det_care == 0


def test_flags_and_hashes_are_dont_care():
    r = evaluate_image([(SQ, "ABC", True), (box(20, 0, 30, 10), "###", False)], [])
    assert r.gt_dont_care == [0, 1] and r.num_gt_care == 0
    assert r.metrics() == {"precision": 1.0, "recall": 1.0, "hmean": 1.0}


def test_empty_image_with_detections_and_no_predictions():
    gt = {"1": [(SQ, "ABC", False)], "2": []}
    r = evaluate(gt, {"2": [(SQ, "FOO")]})
    assert r.per_image["2"].metrics() == {"precision": 0.0, "recall": 1.0, "hmean": 0.0}
    assert (r.num_gt_care, r.num_det_care, r.det_correct) == (1, 1, 0)
    none = evaluate(gt, {})
    assert none.spotting == {"precision": 0.0, "recall": 0.0, "hmean": 0.0}
    # the official script prints int 0 for a zero denominator, float 0.0 otherwise
    assert none.summary_lines()[2:] == ["det_recall:  0.0 det_precision:  0 det_hmean:  0",
                                        "spot_recall:  0.0 spot_precision:  0 spot_hmean:  0"]
    assert evaluate({}, {}).summary_lines()[0] == "num_gt, num_det:  0 0"


def test_unknown_prediction_key_is_an_error():
    with pytest.raises(UnknownImageError, match="'9'"):
        evaluate({"1": []}, {"9": []})


def test_separate_detection_pass_only_changes_det_in_ws():
    gts = [(SQ, "www.x.com", False), (box(20, 0, 30, 10), "ABC", False)]
    dets = [(SQ, "WWW.X.COM"), (box(20, 0, 30, 10), "ABC")]
    davar = evaluate({"1": gts}, {"1": dets}, ProtocolConfig.davar(0.5, True))
    adet = evaluate({"1": gts}, {"1": dets}, ProtocolConfig.adet(0.5, True))
    assert davar.detection == {"precision": 1.0, "recall": 1.0, "hmean": 1.0}  # WS don't-cares
    assert (adet.det_only_num_gt_care, adet.det_only_matched) == (2, 2)
    assert davar.spotting == adet.spotting and davar.num_gt_care == 1


# ------------------------------------------------------------------------------------------
# Transcriptions
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gt, det, ok", [
    ("(A12)", "A12", True), ("(A12)", "(A12", True), ("(A12)", "A12)", True), ("(A12)", "(A12)", True),
    ("(HRSG.)", "HRSG.", True), ("(HRSG.)", "(HRSG.", True), ("(HRSG.)", "HRSG.)", True),
    ("(HRSG.)", "HRSG", False),  # only one character at each end
    ("KOHLEN-", "KOHLEN", False), ("KOHLEN-", "KOHLEN-", True),  # '-' is not special
    ("BEWARE!", "BEWARE", True), ("ABC", "ABC!", False),  # the detection is never trimmed
    ("ABC", "", False), ("", "", True),
])
def test_e2e_punctuation_trimming(gt, det, ok):
    assert transcription_match(gt, det) is ok


def test_davar_space_is_special_rrc_not():
    assert transcription_match("ABC ", "ABC", SPECIAL_CHARACTERS_DAVAR)
    assert not transcription_match("ABC ", "ABC", SPECIAL_CHARACTERS_RRC)


def test_case_is_ignored_in_both_modes():
    gt = [(SQ, "Hello", False)]
    for ws in (False, True):
        assert evaluate_image(gt, [(SQ, "hELLO")], ProtocolConfig.davar(0.5, ws)).det_correct == 1


@pytest.mark.parametrize("text, eligible, form", [
    ("CONTRACTOR'S", True, "CONTRACTOR"), ("(Hrsg.)", True, "Hrsg"), ("BEWARE!", True, "BEWARE"),
    ("SPIDER-MAN", True, "SPIDER-MAN"), ("-ABC-", True, "ABC"), ("Marché", True, "Marché"),
    ("www.celcon.co.uk", False, None), ("JANUARY 8", False, None), ("ab", False, None),
    ("AB'S", False, None), ("50%", False, None), ("B1", False, None), ("A×B", False, None),
    ("日本語", False, None),
])
def test_word_spotting_filter(text, eligible, form):
    assert word_spotting_eligible(text) is eligible
    if eligible:
        assert word_spotting_transform(text) == form


def test_word_spotting_compares_transformed_gt_exactly():
    gt = [(SQ, "CONTRACTOR'S", False)]
    ws = ProtocolConfig.davar(0.5, True)
    assert evaluate_image(gt, [(SQ, "contractor")], ws).det_correct == 1
    assert evaluate_image(gt, [(SQ, "CONTRACTOR'S")], ws).det_correct == 0  # not normalised
    assert evaluate_image(gt, [(SQ, "CONTRACTOR'S")], ProtocolConfig.davar(0.5)).det_correct == 1
    # a WS-filtered GT becomes don't-care and discards the detection lying on it
    r = evaluate_image([(SQ, "50%", False)], [(SQ, "50%")], ws)
    assert (r.num_gt_care, r.num_det_care) == (0, 0)
