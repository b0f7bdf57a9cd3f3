"""`ReplayBank`: earlier images' selector views with the targets they got then, so that the
selector trains on more images per step than a batch holds (docs/method.md, "Selector
objectives"). Pure torch. Kept per process and not checkpointed: after a resume it refills
within capacity / batch steps."""
import collections
from typing import List, Sequence, Tuple

import torch


class ReplayBank:
    """The latest `capacity` (view, target) pairs; each step draws `per_step` of them.

    Args:
        per_step: images drawn each step (all kept ones while fewer are kept).
        capacity: images kept (0: `per_step`, i.e. always the latest ones).
    """

    def __init__(self, per_step: int, capacity: int = 0):
        if per_step < 0:
            raise ValueError(f"MODEL.DLD.SELECTOR_REPLAY={per_step}: a count of images ≥ 0")
        if capacity < 0 or (capacity and capacity < per_step):
            raise ValueError(
                f"MODEL.DLD.SELECTOR_REPLAY_BANK={capacity}: 0 (keep the latest "
                f"SELECTOR_REPLAY images) or at least SELECTOR_REPLAY={per_step}"
            )
        if capacity and not per_step:
            raise ValueError(
                f"MODEL.DLD.SELECTOR_REPLAY_BANK={capacity} keeps images for "
                "SELECTOR_REPLAY, which is 0: set SELECTOR_REPLAY to how many to draw a step"
            )
        self.per_step = int(per_step)
        self.entries = collections.deque(maxlen=int(capacity or per_step))

    def __len__(self):
        return len(self.entries)

    def draw(self) -> List[Tuple[torch.Tensor, int]]:
        """`per_step` kept entries at random (in the order kept), or all when fewer are kept."""
        bank = list(self.entries)
        if len(bank) > self.per_step:
            drawn = torch.randperm(len(bank))[: self.per_step].tolist()
            bank = [bank[i] for i in sorted(drawn)]
        return bank

    def add(self, views: Sequence[torch.Tensor], targets: Sequence[int]):
        """Keep detached half-precision copies of `views` with their `targets`.

        Copies, since a view of the batch would keep the whole padded batch alive; half
        precision, since a bank of 200 S-448 ≤ 800 views then takes 0.4 GB.
        """
        copies = [x.detach().to(torch.float16, copy=True) for x in views]
        self.entries.extend(zip(copies, list(targets)))
