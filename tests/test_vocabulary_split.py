"""benchmarks/synthetic_teacher/vocabulary_split.py: found and read words per kind."""
import pytest
from script_loader import load_script


def _script():
    return load_script("benchmarks/synthetic_teacher/vocabulary_split.py")


def _box(x, y, w=100, h=30):
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def _ann(text, x, y, iscrowd=0):
    return {"text": text, "iscrowd": iscrowd, "segmentation": [_box(x, y)]}


def test_words_are_split_into_vocabulary_and_random_strings():
    split = _script().vocabulary_split
    records = [{"image_id": "a", "annotations": [
        _ann("KELO", 0, 0),        # a vocabulary word (case-insensitive), read in another case
        _ann("mira", 0, 100),      # a vocabulary word nothing was detected on
        _ann("x7#2", 0, 200),      # a random string, misread
        _ann("Q9", 0, 300),        # a random string, read
        _ann("kelo", 0, 400, 1),   # don't care: not counted
    ]}]
    predictions = {"a": [
        {"polygon": _box(0, 0), "text": "kelo"},
        {"polygon": _box(300, 100), "text": "mira"},  # elsewhere: IoU 0
        {"polygon": _box(10, 200), "text": "x7#z"},   # IoU 0.82
        {"polygon": _box(0, 310), "text": "q9"},      # IoU 0.5: found
        {"polygon": _box(0, 400), "text": "kelo"},
    ]}
    out = split(predictions, records, {"kelo", "mira"})
    assert {k: (s["words"], s["found"], s["read"]) for k, s in out.items()} == {
        "vocabulary": (2, 1, 1), "random": (2, 2, 1)}
    assert dict(out["random"]["misreadings"]) == {("x7#2", "x7#z"): 1}
    assert not out["vocabulary"]["misreadings"]
    # A prediction below IoU 0.5 does not find the word.
    predictions["a"][3]["polygon"] = _box(0, 312)
    assert split(predictions, records, {"kelo", "mira"})["random"]["found"] == 1


@pytest.mark.detectron2
def test_main_reads_the_split_named_by_dataset(tmp_path, capsys):
    import json

    import dld_d2  # noqa: F401
    from detectron2.data import DatasetCatalog

    records = DatasetCatalog.get("dld_synthetic_tiny_test")
    words = sum(1 for r in records for a in r["annotations"] if not a["iscrowd"] and a["text"])
    # Every word predicted exactly, on the polygon of its own annotation.
    preds = [{"image_id": r["image_id"], "instances": [
        {"polygon": a["segmentation"][0], "text": a["text"]} for a in r["annotations"]]}
        for r in records]
    path = tmp_path / "text_predictions.json"
    path.write_text(json.dumps(preds))
    _script().main([str(path), "--dataset", "dld_synthetic_tiny_test"])
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| vocabulary")
            or ln.startswith("| random")]
    assert sum(int(r.split("|")[2]) for r in rows) == words
    assert all(r.split("|")[3].strip() == "100.0" and r.split("|")[4].strip() == "100.0" for r in rows)
