"""Selector objectives: the registry chosen by MODEL.DLD.SELECTOR_LOSS, the base class, and the
training-step quantities (`SelectorStep`) an objective scores (docs/method.md, "Selector
objectives").

A new objective is one file:

    @SELECTOR_LOSS_REGISTRY.register("mine")
    class MyObjective(SelectorObjective):
        def __call__(self, step):
            return {"loss_rs": self.weight * ...}

imported before the model is built, and `MODEL.DLD.SELECTOR_LOSS: "mine"`.
"""
from typing import Dict, List, NamedTuple

import torch
import torch.nn as nn
from detectron2.config import configurable
from detectron2.utils.registry import Registry


class _NamedRegistry(Registry):
    """A Registry that files each entry under a given name (the config value, e.g. "ce")
    rather than under its class name."""

    def register(self, name: str):
        def deco(cls):
            self._do_register(name, cls)
            return cls

        return deco


SELECTOR_LOSS_REGISTRY = _NamedRegistry("SELECTOR_LOSS")
SELECTOR_LOSS_REGISTRY.__doc__ = """
Selector objectives of DLDSpotter, by MODEL.DLD.SELECTOR_LOSS. Each is a `SelectorObjective`
built as `cls(cfg)`; called on a `SelectorStep`, it returns its losses (`loss_rs`, and
`loss_penalty` when the penalty is a loss of its own).
"""


class SelectorStep(NamedTuple):
    """What one training step gives the selector objective (B images, K scales, N GT words).

    logits: (B, K) the selector's logits (with gradient).
    decisions: (B, K) one-hot hard Gumbel-softmax samples of them (straight-through gradient).
    per_scale_logits: per image, (K, n_b, T, C): the student's teacher-forced logits for its GT
        words at every candidate scale (no gradient).
    text_targets: (N, L) the GT words' target rows, images in order.
    words_per_image: the n_b.
    teacher_logits: (N, T, C) the teacher's logits for the GT words (no gradient).
    penalty: `loss_penalty` of the decisions; penalty_weight: its γ; costs: (K,) scale costs.
    scales: the K candidate factors.
    selector: the selector, and selector_views: what it read of each image (1, 3, h, w).
    """

    logits: torch.Tensor
    decisions: torch.Tensor
    per_scale_logits: List[torch.Tensor]
    text_targets: torch.Tensor
    words_per_image: List[int]
    teacher_logits: torch.Tensor
    penalty: torch.Tensor
    penalty_weight: float
    costs: torch.Tensor
    scales: List[float]
    selector: nn.Module
    selector_views: List[torch.Tensor]


class SelectorObjective:
    """Turns a training step's scale decisions into the selector's losses.

    Args:
        weight: MODEL.DLD.SELECTOR_LOSS_WEIGHT, the weight of `loss_rs`.
    """

    #: Whether it also trains on earlier steps' images (MODEL.DLD.SELECTOR_REPLAY).
    replays = False

    @configurable
    def __init__(self, *, weight: float = 1.0):
        self.weight = weight

    @classmethod
    def from_config(cls, cfg):
        return {"weight": cfg.MODEL.DLD.SELECTOR_LOSS_WEIGHT}

    def __call__(self, step: SelectorStep) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(weight={self.weight})"


def build_selector_objective(cfg) -> SelectorObjective:
    """The objective named by MODEL.DLD.SELECTOR_LOSS, built from `cfg`."""
    dld = cfg.MODEL.DLD
    name = dld.SELECTOR_LOSS
    if name not in SELECTOR_LOSS_REGISTRY:
        known = ", ".join(sorted(repr(n) for n, _ in SELECTOR_LOSS_REGISTRY))
        raise ValueError(f"MODEL.DLD.SELECTOR_LOSS={name!r}: one of {known}")
    cls = SELECTOR_LOSS_REGISTRY.get(name)
    if (dld.SELECTOR_REPLAY or dld.SELECTOR_REPLAY_BANK) and not cls.replays:
        raise ValueError(
            f"MODEL.DLD.SELECTOR_REPLAY={dld.SELECTOR_REPLAY} (SELECTOR_REPLAY_BANK="
            f"{dld.SELECTOR_REPLAY_BANK}) needs MODEL.DLD.SELECTOR_LOSS 'best' (got {name!r}): "
            "'ce' and 'kl' need the student's passes at every scale of a replayed image, which "
            "are not kept; set SELECTOR_REPLAY 0 or the 'best' loss"
        )
    return cls(cfg)
