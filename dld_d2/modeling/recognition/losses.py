"""Recognition and distillation losses (DLD_SPEC §1.8, §3.2 step 7, §3.4), pure functions.

Every loss returns a 0-dim tensor that stays connected to its input's graph when there is
nothing to average (no instances / no target tokens), so backward and DDP keep working.
"""
import math

import torch
import torch.nn.functional as F

from .beam_search import beam_search_fixed_rows

_LOG_EPS = math.log(1e-5)


def recognition_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """`loss_att`: cross-entropy of logits (N×T×C) against targets shifted by one.

    targets: (N, ≥T+1) rows [GO], c1..cn, [EOS], pads (0). Step t is scored against
    targets[:, t+1]; index 0 is ignored (EOS, index 1, counts); mean over the counted tokens.
    """
    n, steps, num_classes = logits.shape
    gold = targets[:, 1 : steps + 1].to(logits.device)
    if gold.shape[1] != steps:
        raise ValueError(f"targets have {targets.shape[1]} columns; need >= {steps + 1}")
    total = F.cross_entropy(
        logits.reshape(-1, num_classes).float(), gold.reshape(-1), ignore_index=0, reduction="sum"
    )
    # Sum / count instead of reduction="mean": same value, but 0 (not NaN) without targets,
    # and no host synchronisation to test for that case.
    count = (gold != 0).sum().clamp(min=1)
    return total / count


def ctc_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Auxiliary CTC loss over a per-position classification of the context features.

    logits: (N, S, C) one distribution per encoder position (S = 33); targets: (N, L) rows
    [GO], c1..cn, [EOS], pads — the characters (ids ≥ 2) are the CTC labels and id 0, never a
    character, is the blank. Mean over instances of the per-instance loss divided by its
    length (PyTorch's "mean"); words longer than S positions contribute zero (zero_infinity).
    """
    n, steps, _ = logits.shape
    chars = targets[:, 1:].to(logits.device)
    lengths = (chars >= 2).sum(1)
    if n == 0 or int(lengths.sum()) == 0:
        return logits.sum() * 0
    labels = chars[chars >= 2]  # concatenated, in row order: characters come before EOS
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # (S, N, C)
    input_lengths = torch.full((n,), steps, dtype=torch.long, device=logits.device)
    keep = lengths > 0
    if not bool(keep.all()):
        log_probs, input_lengths = log_probs[:, keep], input_lengths[keep]
    return F.ctc_loss(log_probs, labels, input_lengths, lengths[keep], blank=0,
                      reduction="mean", zero_infinity=True)


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
    """`loss_kd_roi` / `loss_kd_context`: mean squared error over all elements (plain MSE;
    the reference's temperature 5 cancels for L2, DLD_SPEC §7 #6). Teacher is detached."""
    if student.shape != teacher.shape:
        raise ValueError(f"shape mismatch {tuple(student.shape)} vs {tuple(teacher.shape)}")
    if student.numel() == 0:
        return student.sum() * 0
    return F.mse_loss(student.float(), teacher.detach().float())
