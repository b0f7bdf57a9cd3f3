"""Selector schedule and losses (DLD_SPEC §2, §3.2 steps 3–4): Gumbel temperature per epoch,
the resolution cost penalty, and the decision-weighted logits fed to the selector loss."""
import math
from typing import List, Optional, Sequence, Union

import torch


def temperature(epoch: int, tau0: float = 5.0, decay: float = 0.965) -> float:
    """Gumbel-softmax temperature τ0·decay^epoch (0-based epoch, constant within an epoch)."""
    return tau0 * decay**epoch


def iters_per_epoch(num_images: int, ims_per_batch: int) -> int:
    """Iterations in one pass over the dataset: ceil(num_images / ims_per_batch), at least 1."""
    if ims_per_batch <= 0:
        raise ValueError(f"ims_per_batch must be positive, got {ims_per_batch}")
    return max(1, math.ceil(num_images / ims_per_batch))


def epoch_of(iteration: int, iters_per_epoch: int) -> int:
    """0-based epoch index of a 0-based iteration."""
    return iteration // iters_per_epoch


def resolution_penalty(
    decisions: torch.Tensor,
    scales: Union[Sequence[float], torch.Tensor],
    gamma: float,
    exponent: float = 1.5,
    costs: Optional[Union[Sequence[float], torch.Tensor]] = None,
) -> torch.Tensor:
    """`loss_penalty` = γ · mean_b Σ_i cost_i · h_{b,i}, differentiable in the decisions (B, K).

    cost_i = scales_i ** exponent (the released code), or `costs` (K,) when given — e.g. the
    per-scale GFLOPs divided by the teacher's (the paper's FLOPs term, DLD_SPEC §7 #2).
    """
    kw = dict(dtype=decisions.dtype, device=decisions.device)
    if costs is not None:
        cost = torch.as_tensor(costs, **kw)
    else:
        cost = torch.as_tensor(scales, **kw) ** exponent
    return gamma * (decisions * cost).sum(dim=1).mean()


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
