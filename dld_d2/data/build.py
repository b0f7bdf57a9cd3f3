"""Training data loader with optional per-dataset sampling ratios (mixed-dataset training)."""
import itertools
import logging

import torch
from detectron2.data import build_detection_train_loader, get_detection_dataset_dicts
from detectron2.data.samplers import RepeatFactorTrainingSampler

logger = logging.getLogger(__name__)


def dataset_ratio_repeat_factors(sizes, ratios):
    """Per-image repeat factors under which dataset i is drawn with probability ratios[i]/Σ ratios.

    Dataset i of n_i images gets factor (r_i / Σr) · N / n_i (N = Σ n_i), so an epoch keeps N
    draws; Detectron2's RepeatFactorTrainingSampler rounds the factors stochastically.
    """
    if len(sizes) != len(ratios):
        raise ValueError(f"{len(ratios)} sampling ratios for {len(sizes)} datasets")
    if any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"sampling ratios must be >= 0 with a positive sum, got {tuple(ratios)}")
    if any(n == 0 for n in sizes):
        raise ValueError(f"a training dataset is empty (sizes {tuple(sizes)})")
    total, rsum = sum(sizes), float(sum(ratios))
    return torch.cat([
        torch.full((n,), (r / rsum) * total / n, dtype=torch.float32) for n, r in zip(sizes, ratios)
    ])


def build_text_train_loader(cfg, mapper):
    """Detectron2's train loader over cfg.DATASETS.TRAIN; with DATALOADER.DATASET_RATIOS set, the
    datasets are drawn in those proportions instead of in proportion to their sizes."""
    ratios = tuple(cfg.DATALOADER.DATASET_RATIOS)
    if not ratios:
        return build_detection_train_loader(cfg, mapper=mapper)
    names = cfg.DATASETS.TRAIN
    if len(ratios) != len(names):
        raise ValueError(
            f"DATALOADER.DATASET_RATIOS has {len(ratios)} entries for {len(names)} DATASETS.TRAIN"
        )
    per_dataset = [
        get_detection_dataset_dicts([n], filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)
        for n in names
    ]
    factors = dataset_ratio_repeat_factors([len(d) for d in per_dataset], ratios)
    logger.info("Sampling %s with ratios %s", names, ratios)
    return build_detection_train_loader(
        cfg,
        mapper=mapper,
        dataset=list(itertools.chain.from_iterable(per_dataset)),
        sampler=RepeatFactorTrainingSampler(factors, seed=cfg.SEED if cfg.SEED >= 0 else None),
    )
