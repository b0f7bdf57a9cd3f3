"""The Dynamic Resolution Selector: a small ResNet-like classifier over the candidate scales,
what it sees of each image, and the hard decisions taken from its logits. Pure torch
(docs/method.md, "Architecture"); Detectron2 builds it through `selector_registry`."""
import logging
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_WIDTHS = (32, 32, 64, 128, 256)
#: How the selector's BatchNorm layers normalise: "per_image" (each image by its own statistics,
#: in training and at test) or "running" (the reference code's: per image in training, which
#: updates running averages, and those averages at test).
NORMS = ("per_image", "running")
_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")

logger = logging.getLogger(__name__)


def _norm(channels: int, norm: str) -> nn.BatchNorm2d:
    # "per_image": no running statistics, so test normalises as training does (ResolutionSelector).
    return nn.BatchNorm2d(channels, track_running_stats=norm == "running")


class _BasicBlock(nn.Module):
    """conv3×3/2+BN+ReLU → conv3×3+BN, plus a conv1×1/2+BN shortcut (always, even when the
    widths match), summed then ReLU. Attribute names follow DAVAR's `BasicBlock`."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "per_image"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1)
        self.bn1 = _norm(out_channels, norm)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.bn2 = _norm(out_channels, norm)
        self.downsample = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=2)
        self.bn3 = _norm(out_channels, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.bn3(self.downsample(x)))


class ResolutionSelector(nn.Module):
    """Normalized images (B, 3, H, W) → scale logits (B, num_scales); output stride 32.

    widths: (stem, block1, block2, block3, block4) channels. Attribute names follow DAVAR's
    `ResolutionSelector` so converted checkpoints load unchanged (its max-pool is never used and
    has no parameters, so it is left out). Default PyTorch initialisation, as in the code.

    norm "per_image" (default): each image is normalised by its own statistics, in training and
    at test, so that no image's decision depends on the others; the layers keep no running
    statistics (a checkpoint's are unused). "running": the reference code's running averages at
    test, for models converted from it (docs/method.md, "Differences from the paper and the
    reference code").
    """

    def __init__(self, num_scales: int = 6, widths: Sequence[int] = DEFAULT_WIDTHS,
                 norm: str = "per_image"):
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"widths needs 5 entries (stem + 4 blocks), got {tuple(widths)}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.num_scales = num_scales
        self.widths = tuple(widths)
        self.norm = norm
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3)
        self.bn1 = _norm(widths[0], norm)
        self.bs1 = _BasicBlock(widths[0], widths[1], norm)
        self.bs2 = _BasicBlock(widths[1], widths[2], norm)
        self.bs3 = _BasicBlock(widths[2], widths[3], norm)
        self.bs4 = _BasicBlock(widths[3], widths[4], norm)
        self.fc = nn.Linear(widths[4], num_scales)
        if norm == "per_image":
            self._register_load_state_dict_pre_hook(self._drop_running_stats)

    @staticmethod
    def _drop_running_stats(state_dict, prefix, *args):
        # DAVAR's checkpoints (and this project's before per-image statistics) hold BN running
        # averages; say once why they are left out instead of listing them as unused keys.
        stale = [k for k in state_dict if k.startswith(prefix) and k.rsplit(".", 1)[-1] in _RUNNING_STATS]
        if stale:
            for k in stale:
                del state_dict[k]
            logger.info("Resolution selector: %d BatchNorm running-statistics entries of the "
                        "checkpoint are not used (it normalises each image by its own statistics)",
                        len(stale))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[0] != 1:
            return torch.cat([self(images[i : i + 1]) for i in range(images.shape[0])])
        x = F.relu(self.bn1(self.conv1(images)))
        x = self.bs4(self.bs3(self.bs2(self.bs1(x))))
        return self.fc(x.mean(dim=(2, 3)))


def selector_views(batch: torch.Tensor, image_sizes: Sequence[Tuple[int, int]],
                   size_divisibility: int = 32) -> List[torch.Tensor]:
    """What the selector reads of each image of a padded batch (B, 3, H, W): the image on its own
    region padded to `size_divisibility`, (1, 3, h', w') each, so no other image's padding."""
    div = size_divisibility
    return [
        batch[b : b + 1, :, : math.ceil(h / div) * div, : math.ceil(w / div) * div]
        for b, (h, w) in enumerate(image_sizes)
    ]


def select_scales(logits: torch.Tensor, tau: float = 1.0, mode: str = "argmax") -> torch.Tensor:
    """One-hot scale decisions (B, K) from selector logits (B, K).

    mode "gumbel" (training): hard Gumbel-softmax at temperature `tau`, straight-through
    gradient to the logits. "argmax" (inference default): deterministic.
    "sample" (inference as released): a hard Gumbel sample at τ = 1 — τ does not change which
    class wins, so this is a draw from softmax(logits).
    """
    if mode == "gumbel":
        return F.gumbel_softmax(logits, tau=tau, hard=True)
    if mode == "sample":
        return F.gumbel_softmax(logits, tau=1.0, hard=True)
    if mode == "argmax":
        return F.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
    raise ValueError(f"unknown selection mode {mode!r}; expected 'gumbel', 'argmax' or 'sample'")
