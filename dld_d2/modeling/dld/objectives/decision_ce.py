"""Selector objective "ce" (the released code): cross-entropy to the GT words of the student's
logits at the chosen scales, plus the resolution penalty as a loss of its own."""
from ...recognition.losses import recognition_loss
from ..scale_scoring import combine_scale_logits
from .base import SELECTOR_LOSS_REGISTRY, SelectorObjective


@SELECTOR_LOSS_REGISTRY.register("ce")
class DecisionCrossEntropy(SelectorObjective):
    """`loss_rs` = CE(Σ_i h_i·Z_i, GT): the gradient reaches the selector through its one-hot
    decisions h only (the per-scale logits Z carry none); `loss_penalty` as a second loss."""

    def __call__(self, step):
        mixed = combine_scale_logits(step.decisions, step.per_scale_logits)
        loss = recognition_loss(mixed, step.text_targets)
        return {"loss_rs": loss * self.weight, "loss_penalty": step.penalty}
