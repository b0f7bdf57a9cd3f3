"""Distillation losses of the recognition branch, teacher → student, in pure torch.

`loss_kd_seq` (sequence KD over the teacher's beam paths), `loss_kd_roi` and `loss_kd_context`
(L2 on the masked RoI and context features), and the per-token KL of the "kl" selector
objective (docs/method.md, "Training step"). Every loss returns a 0-dim tensor that stays on its
input's graph when there is nothing to average, so backward and DDP keep working.
"""
import math
from typing import Dict

import torch
import torch.nn.functional as F

from ..recognition.beam_search import beam_search_fixed_rows
from ..recognition.branch import RecognitionOutputs

_LOG_EPS = math.log(1e-5)


def teacher_paths(teacher_logits: torch.Tensor, topk: int = 1, beam_width: int = 5):
    """Pseudo labels of sequence KD: the teacher's top-k beam paths over its fixed per-step
    distributions. Returns paths (N, k, T) and lengths (N, k) (tokens incl. final EOS)."""
    logp = F.log_softmax(teacher_logits.detach().float(), dim=-1)
    return beam_search_fixed_rows(logp, beam_width=beam_width, topk=topk)


def sequence_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, topk: int = 1,
                     beam_width: int = 5) -> torch.Tensor:
    """`loss_kd_seq`: −log(Π_t p_S(y_t) + 1e-5) over the teacher's top-k paths y, averaged
    over N × k; computed as −logaddexp(Σ_t log p_S(y_t), log 1e-5).

    student_logits, teacher_logits: (N, T, C); the student's step t scores path token y_t
    (its first token is at step 0; the final EOS is scored; paths never exceed T tokens).
    topk=1, beam_width=5 is the released code; topk=3 the paper.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"shape mismatch {tuple(student_logits.shape)} vs {tuple(teacher_logits.shape)}")
    n, steps, _ = student_logits.shape
    if n == 0:
        return student_logits.sum() * 0
    paths, lengths = teacher_paths(teacher_logits, topk, beam_width)
    logp_s = F.log_softmax(student_logits.float(), dim=-1)  # (N, T, C)
    picked = logp_s.gather(2, paths.transpose(1, 2))  # (N, T, k)
    valid = torch.arange(steps, device=paths.device)[None, :, None] < lengths[:, None, :]
    path_logp = (picked * valid).sum(1)  # (N, k)
    return -torch.logaddexp(path_logp, torch.full_like(path_logp, _LOG_EPS)).mean()


def feature_kd_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """`loss_kd_roi` / `loss_kd_context`: mean squared error over all elements (plain MSE: the
    reference's temperature 5 cancels for L2; docs/method.md, "Differences from the paper and
    the reference code"). The teacher is detached."""
    if student.shape != teacher.shape:
        raise ValueError(f"shape mismatch {tuple(student.shape)} vs {tuple(teacher.shape)}")
    if student.numel() == 0:
        return student.sum() * 0
    return F.mse_loss(student.float(), teacher.detach().float())


def token_kl_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                  text_targets: torch.Tensor) -> torch.Tensor:
    """KL(teacher ‖ student) per decoding step, averaged over the GT's scored tokens.

    student_logits, teacher_logits: (N, T, C); text_targets: (N, ≥T+1) rows as for
    `recognition_loss` (step t is scored when text_targets[:, t+1] is not 0).
    """
    steps = student_logits.shape[1]
    valid = (text_targets[:, 1 : steps + 1] != 0).to(student_logits.device)
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0
    log_p_t = F.log_softmax(teacher_logits.float(), -1)
    log_p_s = F.log_softmax(student_logits.float(), -1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1)
    return (kl * valid).sum() / valid.sum().clamp(min=1)


class RecognitionDistillation:
    """The student's distillation losses from one reading of the GT words by both models.

    Args:
        seq_weight, seq_topk, seq_beam_width: weight of `loss_kd_seq`, and the number and beam
            width of the teacher paths it scores.
        roi_weight, context_weight: weights of `loss_kd_roi` and `loss_kd_context`.
    """

    def __init__(self, seq_weight: float = 1.0, seq_topk: int = 1, seq_beam_width: int = 5,
                 roi_weight: float = 1.0, context_weight: float = 1.0):
        self.seq_weight, self.seq_topk, self.seq_beam_width = seq_weight, seq_topk, seq_beam_width
        self.roi_weight, self.context_weight = roi_weight, context_weight

    def __call__(self, student: RecognitionOutputs, teacher: RecognitionOutputs) -> Dict[str, torch.Tensor]:
        return {
            "loss_kd_seq": self.seq_weight * sequence_kd_loss(
                student.logits, teacher.logits, self.seq_topk, self.seq_beam_width
            ),
            "loss_kd_roi": self.roi_weight * feature_kd_loss(student.roi_features, teacher.roi_features),
            "loss_kd_context": self.context_weight * feature_kd_loss(student.context, teacher.context),
        }

    def __repr__(self):
        return (f"RecognitionDistillation(seq_weight={self.seq_weight}, seq_topk={self.seq_topk}, "
                f"seq_beam_width={self.seq_beam_width}, roi_weight={self.roi_weight}, "
                f"context_weight={self.context_weight})")
