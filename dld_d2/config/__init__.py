"""Configuration: `add_dld_config(cfg)` and `get_cfg()` (Detectron2 defaults + dld_d2's keys)."""
from .defaults import add_dld_config


def get_cfg():
    """A fresh Detectron2 default config with dld_d2's keys added (the global config is
    untouched), as a `SafeCfgNode`: config files merged into it never run code."""
    from detectron2.config import get_cfg as d2_get_cfg

    from .config_node import SafeCfgNode

    cfg = d2_get_cfg()
    add_dld_config(cfg)
    return SafeCfgNode(cfg)  # converts every nested node too


__all__ = ["add_dld_config", "get_cfg"]
