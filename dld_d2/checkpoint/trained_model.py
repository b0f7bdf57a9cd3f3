"""A trained model from a config, ready for measurement or analysis (Detectron2 glue): the
config merged with its KEY VALUE overrides, the model built and its weights loaded."""
import os
from typing import Optional


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
            f"{who}: weights {path} not found (MODEL.WEIGHTS)"
        )
    model = build_model(cfg)
    TextSpotterCheckpointer(model, require="complete").load(path)
    model.eval()
    return cfg, model

