"""Selector objective "kl" (the paper): KL from the teacher's per-token distributions to the
student's at the chosen scales, plus the resolution penalty as a loss of its own."""
from ..distillation import token_kl_loss
from ..scale_scoring import combine_scale_logits
from .base import SELECTOR_LOSS_REGISTRY, SelectorObjective


@SELECTOR_LOSS_REGISTRY.register("kl")
class TeacherTokenKL(SelectorObjective):
    """`loss_rs` = KL(teacher ‖ Σ_i h_i·Z_i) over the GT's scored tokens; `loss_penalty` too."""

    def __call__(self, step):
        mixed = combine_scale_logits(step.decisions, step.per_scale_logits)
        loss = token_kl_loss(mixed, step.teacher_logits, step.text_targets)
        return {"loss_rs": loss * self.weight, "loss_penalty": step.penalty}
