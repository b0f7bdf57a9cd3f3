"""What the measurement tools (`tools/get_flops.py`, `tools/benchmark.py`) share: a trained model
from a config, the network-input short side of an output, and their json + markdown reports."""
import json
import os
from typing import Dict, Optional


def build_trained_model(config_file: str, opts, weights: Optional[str] = None, name: str = ""):
    """(frozen cfg, model in eval mode with its weights loaded) from a config and KEY VALUE opts.

    `weights` replaces the config's MODEL.WEIGHTS. A missing weights file is an error that names
    the model and the path (counts and latencies depend on the trained detections).
    """
    from detectron2.modeling import build_model

    from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer
    from dld_d2.config import get_cfg

    cfg = get_cfg()
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    if weights is not None:
        cfg.MODEL.WEIGHTS = weights
    cfg.freeze()
    path = cfg.MODEL.WEIGHTS
    if path and "://" not in path and not os.path.isfile(path):
        who = f"model {name!r}" if name else config_file
        raise SystemExit(f"{who}: weights {path} not found (MODEL.WEIGHTS, or --weights NAME=PATH)")
    model = build_model(cfg)
    TextSpotterCheckpointer(model, require="complete").load(path)
    model.eval()
    return cfg, model


def input_short_side(inp: Dict, out: Dict) -> int:
    """Short side of what the network saw: a DLD model's `input_size` (its student's view),
    else the mapped image. Sizes from a traced run are tensors, from an eager one ints."""
    size = out.get("input_size", inp["image"].shape[-2:])
    return int(min(int(v) for v in size))


def write_reports(report: Dict, markdown: str, json_path: Optional[str], md_path: Optional[str],
                  logger=None):
    """Write the report as json to `json_path` and the markdown to `md_path` (each if given)."""
    for path, content in ((json_path, json.dumps(report, indent=2) + "\n"), (md_path, markdown)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(content)
            if logger is not None:
                logger.info(f"Wrote {path}")
