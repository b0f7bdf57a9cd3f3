"""The resolution penalty `loss_penalty`: what the selector's decisions cost (docs/method.md,
"Temperature and penalty"). Pure torch."""
from typing import Optional, Sequence, Union

import torch


def resolution_penalty(
    decisions: torch.Tensor,
    scales: Union[Sequence[float], torch.Tensor],
    gamma: float,
    exponent: float = 1.5,
    costs: Optional[Union[Sequence[float], torch.Tensor]] = None,
) -> torch.Tensor:
    """`loss_penalty` = γ · mean_b Σ_i cost_i · h_{b,i}, differentiable in the decisions (B, K).

    cost_i = scales_i ** exponent (the released code), or `costs` (K,) when given — e.g. the
    per-scale GFLOPs divided by the teacher's (the paper's FLOPs term).
    """
    kw = dict(dtype=decisions.dtype, device=decisions.device)
    if costs is not None:
        cost = torch.as_tensor(costs, **kw)
    else:
        cost = torch.as_tensor(scales, **kw) ** exponent
    return gamma * (decisions * cost).sum(dim=1).mean()


class ResolutionPenalty:
    """The penalty of one configuration: γ (`weight`), and each candidate scale's cost.

    Args:
        scales: the candidate factors.
        weight: γ.
        exponent: cost_i = scales_i ** exponent, unless
        costs: one relative cost per scale (a FLOPs table); empty or None: use the exponent.
    """

    def __init__(self, scales: Sequence[float], weight: float, exponent: float = 1.5,
                 costs: Optional[Sequence[float]] = None):
        if costs and len(costs) != len(scales):
            raise ValueError(f"{len(costs)} PENALTY_COSTS for {len(scales)} SCALES")
        self.scales = [float(s) for s in scales]
        self.weight = weight
        self.exponent = exponent
        self.table = tuple(costs) if costs else None

    def costs(self, like: torch.Tensor) -> torch.Tensor:
        """(K,) cost of each candidate scale, with the dtype and device of `like`."""
        if self.table is not None:
            return like.new_tensor(self.table)
        return like.new_tensor(self.scales) ** self.exponent

    def __call__(self, decisions: torch.Tensor) -> torch.Tensor:
        """`loss_penalty` of one-hot decisions (B, K)."""
        return resolution_penalty(decisions, self.scales, self.weight, costs=self.costs(decisions))
