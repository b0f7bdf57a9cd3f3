"""A trained model from a config, ready for measurement or analysis (Detectron2 glue): the
config merged with its KEY VALUE overrides, the model built and its weights loaded; and the
dataset dicts it is measured on."""
import os
from typing import Optional


class DatasetLoadError(ValueError):
    """A dataset that is not registered, or whose registered loader failed."""


def trained_config(config_file: str, opts, weights: Optional[str] = None):
    """The frozen config of `config_file` with its KEY VALUE `opts`; `weights` replaces
    MODEL.WEIGHTS."""
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    if weights is not None:
        cfg.MODEL.WEIGHTS = weights
    cfg.freeze()
    return cfg


def build_trained_model(config_file: str, opts, weights: Optional[str] = None, name: str = ""):
    """(frozen cfg, model in eval mode with its weights loaded) from a config and KEY VALUE opts.

    `weights` replaces the config's MODEL.WEIGHTS. A missing weights file raises
    FileNotFoundError naming the model and the path (counts and latencies depend on the trained
    detections).
    """
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer

    cfg = trained_config(config_file, opts, weights)
    path = cfg.MODEL.WEIGHTS
    if path and "://" not in path and not os.path.isfile(path):
        who = f"model {name!r}" if name else config_file
        raise FileNotFoundError(
            f"{who}: weights {path} not found (MODEL.WEIGHTS, or --weights NAME=PATH)"
        )
    model = build_model(cfg)
    TextSpotterCheckpointer(model, require="complete").load(path)
    model.eval()
    return cfg, model


def dataset_records(name: str, num_images: int = 0):
    """The dicts of registered dataset `name`, the first `num_images` of them (0: all).

    Raises DatasetLoadError naming the dataset when it is not registered or its loader fails
    (a missing annotation file, say), instead of the loader's bare traceback.
    """
    from detectron2.data import DatasetCatalog

    if name not in DatasetCatalog.list():
        raise DatasetLoadError(f"dataset {name!r} is not registered")
    try:
        records = DatasetCatalog.get(name)
    except Exception as e:  # the loader's own error, whatever its type
        raise DatasetLoadError(
            f"dataset {name!r} could not be loaded: {type(e).__name__}: {e}"
        ) from e
    return records[:num_images] if num_images else records
