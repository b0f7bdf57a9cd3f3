"""Dataset registration: built-in names, metadata, loading through DatasetCatalog, fresh and
spawned processes."""
import multiprocessing as mp
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.detectron2


def _load_in_child(root, queue):
    os.environ["DETECTRON2_DATASETS"] = str(root)
    import dld_d2  # noqa: F401  (registration by import, as in a dataloader worker)
    from detectron2.data import DatasetCatalog, MetadataCatalog

    dicts = DatasetCatalog.get("icdar2013_test")
    care = sum(1 for d in dicts for a in d["annotations"] if not a["iscrowd"])
    queue.put((len(dicts), care, MetadataCatalog.get("icdar2013_test").evaluator_type))


def test_builtin_names_and_metadata():
    import dld_d2  # noqa: F401
    from detectron2.data import DatasetCatalog, MetadataCatalog

    names = set(DatasetCatalog.list())
    for name in [
        "icdar2013_train", "icdar2013_test", "icdar2015_train", "icdar2015_test",
        "icdar2017_mlt_train", "icdar2017_mlt_val", "totaltext_train", "totaltext_test",
        "dld_synthetic_train", "dld_synthetic_test", "dld_synthetic_tiny_train",
        "dld_synthetic_tiny_test", "dld_synthetic_val",
    ]:
        assert name in names
        meta = MetadataCatalog.get(name)
        assert meta.thing_classes == ["text"]
        assert meta.evaluator_type == "text_spotting"
    assert set(MetadataCatalog.get("icdar2015_test").lexicons) == {"generic", "weak", "strong"}
    assert set(MetadataCatalog.get("totaltext_test").lexicons) == {"full"}


def test_missing_dataset_names_the_path(tmp_path):
    from dld_d2.data.builtin import register_text_dataset
    from detectron2.data import DatasetCatalog

    register_text_dataset("dld_test_missing", str(tmp_path / "imgs"), str(tmp_path / "gt.zip"))
    with pytest.raises(FileNotFoundError, match="gt.zip"):
        DatasetCatalog.get("dld_test_missing")


def test_registration_in_fresh_and_spawned_process(ic13_datasets_root):
    root = ic13_datasets_root
    # A fresh interpreter: importing dld_d2 is all it takes.
    code = (
        "import dld_d2; from detectron2.data import DatasetCatalog; "
        "d = DatasetCatalog.get('icdar2013_test'); "
        "print(len(d), sum(1 for x in d for a in x['annotations'] if not a['iscrowd']))"
    )
    env = dict(os.environ, DETECTRON2_DATASETS=str(root))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-2:] == ["233", "917"]
    # A spawned worker (the start method Detectron2 dataloaders use on macOS/Windows).
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_load_in_child, args=(root, queue))
    proc.start()
    result = queue.get(timeout=120)
    proc.join(timeout=60)
    assert result == (233, 917, "text_spotting")


def test_loaded_dicts_have_image_sizes(ic13_datasets_root):
    from dld_d2.data.builtin import load_text_dataset

    root = ic13_datasets_root
    dicts = load_text_dataset(
        str(root / "icdar2013" / "test_images"), str(root / "icdar2013" / "gt-icdar2013.zip"),
        fmt="ic13",
    )
    assert len(dicts) == 233
    d = next(x for x in dicts if x["image_id"] == "img_1")
    assert (d["height"], d["width"]) == (40, 40)
    assert d["file_name"].endswith("img_1.jpg")
