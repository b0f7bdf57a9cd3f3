"""Recognition losses of the branch (docs/method.md, "Training step"), pure functions; the
distillation losses are `dld_d2.modeling.dld.distillation`.

Every loss returns a 0-dim tensor that stays connected to its input's graph when there is
nothing to average (no instances / no target tokens), so backward and DDP keep working.
"""
import torch
import torch.nn.functional as F


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

    logits: (N, S, C) one distribution per encoder position (S = RoI width + 1); targets: (N, L) rows
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
