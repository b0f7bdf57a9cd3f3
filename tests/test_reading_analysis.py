"""The reading analysis: tallies and misreadings of crafted readings (pure), and
tools/analyze_reading.py on a tiny trained teacher, cross-checked against the evaluator."""
import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dld_d2.evaluation.reading_analysis import (
    ALL,
    Reading,
    ReadingAnalysis,
    size_bucket,
    size_labeller,
    word_height,
)
from script_loader import load_script

REPO = Path(__file__).resolve().parents[1]
QUICK = "configs/quick_schedules/teacher_instant_test.yaml"
TINY = "dld_synthetic_tiny_train"  # 8 images: more words than the 4 of the tiny test split


def _crafted():
    return [
        Reading("HELLO", "small", "hello"),  # right under the E2E rule; wrong case
        Reading("WORLD", "small", "W0RLD"),  # O read as 0
        Reading("ABC", "large", None),  # not found
        Reading("TEST", "medium", "TES"),  # too short: a T dropped
        Reading("AB", "large", "ABX"),  # too long: an X inserted
        Reading("(AB)", "medium", "AB"),  # right: special characters at the ends are optional
        Reading("Exact", "medium", "Exact"),
    ]


def test_tallies_by_condition_and_size():
    a = ReadingAnalysis()
    a.add("detections", _crafted())
    t = a.tallies["detections"]
    assert (t[ALL].words, t[ALL].found, t[ALL].correct, t[ALL].exact) == (7, 6, 3, 1)
    assert t[ALL].accuracy == pytest.approx(50.0)  # of the found words
    assert t[ALL].exact_accuracy == pytest.approx(100 / 6)
    assert t[ALL].found_share == pytest.approx(600 / 7)
    assert (t["small"].found, t["small"].correct) == (2, 1)
    assert (t["large"].words, t["large"].found, t["large"].correct) == (2, 1, 0)
    assert (t["medium"].found, t["medium"].correct, t["medium"].exact) == (3, 2, 1)
    assert a.sizes() == ["small", "medium", "large", ALL]
    with pytest.raises(ValueError, match="unknown condition"):
        a.add("gt", [])


def test_misreadings():
    a = ReadingAnalysis()
    a.add("gt_masked", _crafted())
    k = a.confusions["gt_masked"]
    assert (k.misread, k.too_short, k.too_long, k.same_length, k.case_only) == (3, 1, 1, 1, 1)
    assert dict(k.substitutions) == {("O", "0"): 1}
    assert dict(k.dropped) == {"T": 1} and dict(k.inserted) == {"X": 1}
    assert k.examples == [("WORLD", "W0RLD"), ("TEST", "TES"), ("AB", "ABX")]
    d = a.as_dict()["confusions"]["gt_masked"]
    assert d["substitutions"] == [["O", "0", 1]] and d["misread"] == 3


def test_report_and_plot(tmp_path):
    a = ReadingAnalysis()
    a.images = 3
    a.add("gt_masked", _crafted())
    a.add("detections", _crafted()[:2])
    md = a.report("Title")
    assert md.startswith("# Title") and "3 images" in md
    # gt_masked: small 1 of 2, medium 2 of 3, large 0 of 1, all 3 of 6; exact 1 of 6.
    assert "| gt_masked | 50.0 (2) | 66.7 (3) | 0.0 (1) | 50.0 (6) | 16.7 |" in md
    assert "`O`→`0` 1" in md and "1 too short, 1 too long" in md
    assert "Found by the detections: small 100.0 %" in md
    a.plot(str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").stat().st_size > 5000


def test_sizes():
    assert [size_bucket(h) for h in (10, 31.9, 32, 63.9, 64, 300)] == [
        "small", "small", "medium", "medium", "large", "large"]
    assert size_bucket(50, (60, 80)) == "small"
    with pytest.raises(ValueError, match="two increasing"):
        size_bucket(50, (80, 60))
    with pytest.raises(ValueError, match="two increasing"):
        size_labeller((1, 2, 3))
    # A 100×20 word, axis-aligned and rotated by 30 degrees, is 20 high; a line has no height.
    assert word_height([0, 0, 100, 0, 100, 20, 0, 20]) == pytest.approx(20)
    import numpy as np

    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    rot = np.array([[0, 0], [100, 0], [100, 20], [0, 20]]) @ np.array([[c, s], [-s, c]])
    assert word_height(rot.reshape(-1)) == pytest.approx(20)
    assert word_height([0, 0, 10, 0, 20, 0]) == 0.0
    label = size_labeller()
    assert label({"text_scale": "large"}, [0, 0, 1, 0, 1, 1]) == "large"
    assert label({}, [0, 0, 100, 0, 100, 40, 0, 40]) == "medium"


@pytest.mark.detectron2
def test_analyze_reading_tool(tiny_trained_teacher, tmp_path, monkeypatch):
    run_dir, env = tiny_trained_teacher
    weights = run_dir / "model_final.pth"
    opts = ["MODEL.WEIGHTS", str(weights), "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"]
    proc = subprocess.run(
        [sys.executable, "tools/analyze_reading.py", "--config-file", QUICK, "--dataset", TINY,
         "--output-dir", str(tmp_path), *opts],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "reading.json").read_text())
    assert (tmp_path / "reading.md").read_text() in proc.stdout
    assert (tmp_path / "reading.png").stat().st_size > 5000

    # Every care word of the dataset is read on its GT box, with and without its mask.
    monkeypatch.setenv("DLD_D2_CACHE", env["DLD_D2_CACHE"])
    from detectron2.data import DatasetCatalog

    records = DatasetCatalog.get(TINY)
    care = sum(1 for r in records for a in r["annotations"]
               if not a["iscrowd"] and a["text"] != "###")
    assert report["images"] == len(records) == 8
    tallies = report["tallies"]
    for cond in ("gt_masked", "gt_unmasked"):
        assert tallies[cond][ALL]["words"] == tallies[cond][ALL]["found"] == care > 0
    sizes = {r["text_scale"] for r in records}
    assert set(tallies["gt_masked"]) == sizes | {ALL}

    # The detections' found share and reading equal the evaluator's detection and E2E recall.
    from detectron2.data import build_detection_test_loader
    from detectron2.evaluation import inference_on_dataset

    from dld_d2.checkpoint.trained_model import build_trained_model
    from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper
    from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

    cfg, model = build_trained_model(QUICK, opts)
    loader = build_detection_test_loader(cfg, TINY, mapper=TextSpottingDatasetMapper(cfg, False))
    evaluator = TextSpottingEvaluator.from_config(cfg, TINY)
    results = inference_on_dataset(model, loader, evaluator)["text_spotting"]
    det = tallies["detections"][ALL]
    assert det["words"] == care
    assert 100.0 * det["found"] / care == pytest.approx(results["det_recall"])
    assert 100.0 * det["correct"] / care == pytest.approx(results["e2e_none_recall"])


@pytest.mark.detectron2
def test_analyze_reading_refuses_without_weights(tmp_path):
    proc = subprocess.run(
        [sys.executable, "tools/analyze_reading.py", "--config-file", QUICK,
         "--output-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 2 and "MODEL.WEIGHTS is empty" in proc.stderr
    assert "Traceback" not in proc.stderr


def _tool():
    return load_script("tools/analyze_reading.py")


@pytest.mark.detectron2
def test_analyze_reading_size_edges_and_num_images(tiny_trained_teacher, tmp_path, monkeypatch):
    import numpy as np
    from detectron2.data import DatasetCatalog

    from dld_d2.evaluation.submission import gt_from_dataset_dicts

    run_dir, env = tiny_trained_teacher
    monkeypatch.setenv("DLD_D2_CACHE", env["DLD_D2_CACHE"])
    # The tiny scenes' own text_scale label wins over the edges: a copy of them without it.
    name = "dld_synthetic_tiny_train_unlabelled"
    DatasetCatalog.register(name, lambda: [{k: v for k, v in r.items() if k != "text_scale"}
                                           for r in DatasetCatalog.get(TINY)])
    try:
        first = DatasetCatalog.get(name)[:3]
        heights = [word_height(np.asarray(g.points).reshape(-1, 2)) for r in first
                   for g in gt_from_dataset_dicts([r])[str(r["image_id"])] if not g.dont_care]
        # Edges between the word heights, so that every bucket holds words.
        distinct = sorted(set(heights))
        assert len(distinct) >= 3
        edges = (distinct[len(distinct) // 3], distinct[2 * len(distinct) // 3])
        expected = collections.Counter(size_bucket(h, edges) for h in heights)
        assert set(expected) == {"small", "medium", "large"}
        assert expected != collections.Counter(size_bucket(h) for h in heights)  # not the default

        opts = ["MODEL.WEIGHTS", str(run_dir / "model_final.pth"),
                "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"]
        assert _tool().main(["--config-file", QUICK, "--dataset", name, "--num-images", "3",
                             "--size-edges", *map(str, edges), "--output-dir", str(tmp_path),
                             *opts]) == 0
    finally:
        DatasetCatalog.remove(name)
    report = json.loads((tmp_path / "reading.json").read_text())
    assert report["images"] == 3
    for cond in ("gt_masked", "gt_unmasked", "detections"):
        tally = report["tallies"][cond]
        assert tally[ALL]["words"] == len(heights)
        assert {s: t["words"] for s, t in tally.items() if s != ALL} == expected


@pytest.mark.detectron2
def test_analyze_reading_names_a_dataset_that_cannot_be_loaded(tiny_trained_teacher, tmp_path):
    run_dir, env = tiny_trained_teacher
    # icdar2013_test is registered, but its annotation file is not in this (empty) data folder.
    (tmp_path / "data").mkdir()
    proc = subprocess.run(
        [sys.executable, "tools/analyze_reading.py", "--config-file", QUICK,
         "--dataset", "icdar2013_test", "--output-dir", str(tmp_path / "out"),
         "MODEL.WEIGHTS", str(run_dir / "model_final.pth")],
        cwd=REPO, env=dict(env, DETECTRON2_DATASETS=str(tmp_path / "data")),
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert ("dataset 'icdar2013_test' could not be loaded: FileNotFoundError: "
            "Annotations not found") in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
