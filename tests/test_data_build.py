"""Per-dataset sampling ratios for mixed-dataset training."""
import itertools

import pytest
import torch

pytestmark = pytest.mark.detectron2


def test_repeat_factors_give_the_requested_mixture():
    from detectron2.data.samplers import RepeatFactorTrainingSampler

    from dld_d2.data.build import dataset_ratio_repeat_factors

    sizes, ratios = [20, 180, 50], [1, 1, 2]
    factors = dataset_ratio_repeat_factors(sizes, ratios)
    assert factors.shape == (250,)
    assert float(factors.sum()) == pytest.approx(250)  # an epoch keeps its length
    idx = torch.tensor(list(itertools.islice(iter(RepeatFactorTrainingSampler(factors, seed=0)), 20000)))
    frac = [((idx >= lo) & (idx < lo + n)).float().mean().item()
            for lo, n in zip([0, 20, 200], sizes)]
    assert frac == pytest.approx([0.25, 0.25, 0.5], abs=0.02)


def test_bad_ratios_are_refused():
    from dld_d2.data.build import build_text_train_loader, dataset_ratio_repeat_factors
    from dld_d2.config import get_cfg

    with pytest.raises(ValueError, match="2 sampling ratios for 3 datasets"):
        dataset_ratio_repeat_factors([1, 2, 3], [1, 1])
    with pytest.raises(ValueError, match="positive sum"):
        dataset_ratio_repeat_factors([1, 2], [0, 0])
    cfg = get_cfg()
    cfg.DATASETS.TRAIN = ("dld_synthetic_tiny_train",)
    cfg.DATALOADER.DATASET_RATIOS = (1.0, 2.0)
    with pytest.raises(ValueError, match="DATASET_RATIOS has 2 entries for 1"):
        build_text_train_loader(cfg, mapper=None)


def test_loader_mixes_two_datasets(tmp_path):
    from detectron2.data import DatasetCatalog

    from dld_d2.config import get_cfg
    from dld_d2.data.build import build_text_train_loader
    from dld_d2.data.builtin import register_synthetic

    register_synthetic("dld_test_mix_a", "train", root=str(tmp_path), num_train=4, seed=1)
    register_synthetic("dld_test_mix_b", "train", root=str(tmp_path), num_train=12, seed=2)
    cfg = get_cfg()
    cfg.DATASETS.TRAIN = ("dld_test_mix_a", "dld_test_mix_b")
    cfg.DATALOADER.DATASET_RATIOS = (3.0, 1.0)
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.DATALOADER.ASPECT_RATIO_GROUPING = False  # the stand-in mapper returns file names only
    cfg.SOLVER.IMS_PER_BATCH = 4
    loader = build_text_train_loader(cfg, mapper=lambda d: d["file_name"])
    names = [f for batch in itertools.islice(iter(loader), 100) for f in batch]
    a = {d["file_name"] for d in DatasetCatalog.get("dld_test_mix_a")}
    # Dataset a has a quarter of the images but is drawn three times out of four.
    assert sum(f in a for f in names) / len(names) == pytest.approx(0.75, abs=0.08)
