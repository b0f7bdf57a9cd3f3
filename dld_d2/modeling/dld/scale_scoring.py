"""How the student's reading at each candidate scale scores a selector decision: the
decision-weighted logits of the "ce"/"kl" objectives, and each image's best scale (the target
of the "best" objective). Pure torch (docs/method.md, "Selector objectives")."""
from typing import List

import torch
import torch.nn.functional as F


def combine_scale_logits(
    decisions: torch.Tensor, per_scale_logits: List[torch.Tensor]
) -> torch.Tensor:
    """Σ_i h_{b,i}·Z_{b,i} per image, concatenated over images → (N, T, C).

    decisions: (B, K) one-hot rows; per_scale_logits[b]: (K, n_b, T, C), the student's logits of
    image b's instances at each candidate scale (computed without grad by the caller, so the
    gradient reaches only the decisions). An image with n_b = 0 adds no rows, but its product
    is still concatenated so the result stays on the decisions' graph even when N = 0.
    """
    if len(per_scale_logits) != decisions.shape[0]:
        raise ValueError(f"{len(per_scale_logits)} logit stacks for {decisions.shape[0]} decisions")
    combined = [
        (h.reshape(-1, 1, 1, 1) * z).sum(dim=0) for h, z in zip(decisions, per_scale_logits)
    ]
    return torch.cat(combined, dim=0)


def scale_token_losses(per_scale_logits: List[torch.Tensor], targets: List[torch.Tensor]) -> torch.Tensor:
    """(B, K) summed token cross-entropy of each image's words read at each candidate scale.

    per_scale_logits[b]: (K, n_b, T, C) as for `combine_scale_logits`; targets[b]: (n_b, ≥T+1)
    rows as for `recognition_loss` (index 0 ignored). An image without words sums to 0.
    """
    rows = []
    for z, t in zip(per_scale_logits, targets):
        k, n, steps, c = z.shape
        gold = t[:, 1 : steps + 1].to(z.device).reshape(1, -1).expand(k, -1)
        ce = F.cross_entropy(z.reshape(k, -1, c).float().transpose(1, 2), gold, ignore_index=0,
                             reduction="none")
        rows.append(ce.sum(dim=1))
    return torch.stack(rows)


def best_scale_targets(
    token_losses: torch.Tensor, num_tokens: int, costs: torch.Tensor, gamma: float
) -> torch.Tensor:
    """(B,) index of the scale that minimises each image's share of `loss_rs + loss_penalty`.

    With one-hot decisions h, the reference code's selector objective is
    Σ_b Σ_i h_b,i · token_losses_b,i / num_tokens + γ / B · Σ_b Σ_i h_b,i · cost_i: a sum of
    independent per-image terms, so its best decisions are this per-image argmin.
    token_losses: (B, K) from `scale_token_losses`; num_tokens: scored tokens in the batch;
    costs: (K,) as in `resolution_penalty`.
    """
    b = token_losses.shape[0]
    objective = token_losses / max(int(num_tokens), 1) + gamma / max(b, 1) * costs.to(token_losses)
    return objective.argmin(dim=1)
