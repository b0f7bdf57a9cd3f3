"""The low-resolution view of an image and of its annotations' geometry: the one place where the
student's input size follows from the chosen scale (DAVAR's `generate_lr_pair`; docs/method.md,
"Low-resolution views"). Pure torch/numpy; `lowres_batch` applies it to Detectron2 batches."""
import math
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F


def scale_short_sides(
    image_sizes: Sequence[Tuple[int, int]], scale_factors: Sequence[float]
) -> List[int]:
    """Target short side int(s × min(h, w)) of each teacher-view image (h, w) at its scale s."""
    return [int(s * min(int(h), int(w))) for (h, w), s in zip(image_sizes, scale_factors)]


def lowres_size(height: int, width: int, short_side: int, max_size: int) -> Tuple[int, int]:
    """(h', w') of an h × w image scaled by min(short_side / min(h, w), max_size / max(h, w)),
    floored, at least 1 pixel each."""
    factor = min(short_side / min(height, width), max_size / max(height, width))
    return max(1, math.floor(height * factor)), max(1, math.floor(width * factor))


def resize_image(image: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """(C, h, w) → (C, h', w'): bilinear, non-antialiased, as the released code (on a normalized
    tensor, the student sees a second, aliased down-sampling)."""
    out = F.interpolate(image.unsqueeze(0), size=size, mode="bilinear", align_corners=False,
                        antialias=False)
    return out[0]


def scale_boxes(boxes: torch.Tensor, sx: float, sy: float) -> torch.Tensor:
    """XYXY boxes (n, 4) scaled by sx horizontally and sy vertically."""
    return boxes * boxes.new_tensor([sx, sy, sx, sy])


def scale_polygons(polygons: List[List[np.ndarray]], sx: float, sy: float) -> List[List[np.ndarray]]:
    """Per instance, its polygons (flat x0, y0, x1, y1, ... arrays) scaled; inputs unchanged."""
    scaled = []
    for polys in polygons:
        new = []
        for p in polys:
            p = p.copy()
            p[0::2] *= sx
            p[1::2] *= sy
            new.append(p)
        scaled.append(new)
    return scaled


def resize_masks(masks: torch.Tensor, height: int, width: int, size: Tuple[int, int]) -> torch.Tensor:
    """Bitmasks (n, H, W), possibly stored at the padded size: cropped to height × width, then
    resized (nearest) to `size` → (n, h', w') bool."""
    m = masks[:, :height, :width]
    if len(m) == 0:
        return m.new_zeros((0,) + tuple(size))
    m = F.interpolate(m[:, None].float(), size=size, mode="nearest")[:, 0]
    return m > 0.5
