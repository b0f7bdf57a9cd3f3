"""Selector objective "best" (not in the paper): the selector's cross-entropy to each image's
best scale under the "ce" objective plus the penalty, found from the same per-scale passes.

Why: the straight-through gradient of "ce" reaches an image's logits only through the softmax of
its decision, which vanishes once the selector prefers one scale; a classification loss toward
each image's best decision keeps teaching until the selector picks it (docs/method.md,
"Selector objectives"). With MODEL.DLD.SELECTOR_REPLAY it also trains on earlier images.
"""
import torch
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.utils.events import get_event_storage

from ..replay_bank import ReplayBank
from ..scale_scoring import best_scale_targets, scale_token_losses
from .base import SELECTOR_LOSS_REGISTRY, SelectorObjective


@SELECTOR_LOSS_REGISTRY.register("best")
class BestScaleCrossEntropy(SelectorObjective):
    """`loss_rs` = CE(selector logits, best scale per image); the penalty shapes the targets
    and is logged (`dld/penalty`, `dld/best_scale`) instead of being a loss.

    Args:
        weight: the weight of `loss_rs`.
        replay, replay_bank: images of earlier steps drawn each step, and how many are kept
            (`ReplayBank`); 0: the current batch only.
    """

    replays = True

    @configurable
    def __init__(self, *, weight: float = 1.0, replay: int = 0, replay_bank: int = 0):
        self.weight = weight
        self.replay = ReplayBank(replay, replay_bank) if (replay or replay_bank) else None

    @classmethod
    def from_config(cls, cfg):
        dld = cfg.MODEL.DLD
        return {"weight": dld.SELECTOR_LOSS_WEIGHT, "replay": dld.SELECTOR_REPLAY,
                "replay_bank": dld.SELECTOR_REPLAY_BANK}

    def __call__(self, step):
        steps = step.per_scale_logits[0].shape[2]
        num_tokens = int((step.text_targets[:, 1 : steps + 1] != 0).sum())
        best = best_scale_targets(
            scale_token_losses(step.per_scale_logits, step.text_targets.split(step.words_per_image)),
            num_tokens, step.costs, step.penalty_weight,
        )
        storage = get_event_storage()
        storage.put_scalar("dld/penalty", float(step.penalty.detach()))
        storage.put_scalar("dld/best_scale", float(step.logits.new_tensor(step.scales)[best].mean()))
        logits, targets = self._with_replay(step, best)
        return {"loss_rs": self.weight * F.cross_entropy(logits, targets)}

    def _with_replay(self, step, best):
        """This batch's logits and targets, then those of the replayed images; the batch's
        views join the bank after the draw."""
        if self.replay is None:
            return step.logits, best
        drawn = self.replay.draw()
        self.replay.add(step.selector_views, best.tolist())
        if not drawn:
            return step.logits, best
        replayed = torch.cat([step.selector(x.to(step.logits.dtype)) for x, _ in drawn])
        return (torch.cat([step.logits, replayed]),
                torch.cat([best, best.new_tensor([t for _, t in drawn])]))

    def __repr__(self):
        replay = self.replay and (self.replay.per_step, self.replay.entries.maxlen)
        return f"BestScaleCrossEntropy(weight={self.weight}, replay={replay})"
