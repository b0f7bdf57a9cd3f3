"""The low-resolution view of a batch (DLD_SPEC §3.5, DAVAR's `generate_lr_pair`): the one
place where the student's input size is decided from the selector's choice."""
import math
from typing import List, Optional, Sequence, Tuple

import torch.nn.functional as F
from detectron2.structures import BitMasks, Boxes, ImageList, Instances, PolygonMasks


def scale_short_sides(
    image_sizes: Sequence[Tuple[int, int]], scale_factors: Sequence[float]
) -> List[int]:
    """Target short side int(s × min(h, w)) of each teacher-view image (h, w) at its scale s."""
    return [int(s * min(int(h), int(w))) for (h, w), s in zip(image_sizes, scale_factors)]


def _scale_polygons(masks: PolygonMasks, sx: float, sy: float) -> PolygonMasks:
    scaled = []
    for polys in masks.polygons:
        new = []
        for p in polys:
            p = p.copy()
            p[0::2] *= sx
            p[1::2] *= sy
            new.append(p)
        scaled.append(new)
    return PolygonMasks(scaled)


def _resize_bitmasks(masks: BitMasks, h: int, w: int, new_h: int, new_w: int) -> BitMasks:
    # Crop first: the masks may be stored at the padded teacher size.
    m = masks.tensor[:, :h, :w]
    if len(m) == 0:
        return BitMasks(m.new_zeros((0, new_h, new_w)))
    m = F.interpolate(m[:, None].float(), size=(new_h, new_w), mode="nearest")[:, 0]
    return BitMasks(m > 0.5)


def _rescale_instances(inst: Instances, h: int, w: int, new_h: int, new_w: int) -> Instances:
    sx, sy = new_w / w, new_h / h
    out = Instances((new_h, new_w))
    for name, value in inst.get_fields().items():
        if isinstance(value, Boxes):
            value = Boxes(value.tensor * value.tensor.new_tensor([sx, sy, sx, sy]))
        elif isinstance(value, PolygonMasks):
            value = _scale_polygons(value, sx, sy)
        elif isinstance(value, BitMasks):
            value = _resize_bitmasks(value, h, w, new_h, new_w)
        out.set(name, value)  # texts, classes, …: unchanged
    return out


def lowres_view(
    images: ImageList,
    short_sides: Sequence[int],
    max_size: int,
    targets: Optional[List[Instances]] = None,
    size_divisibility: int = 32,
) -> Tuple[ImageList, Optional[List[Instances]], List[Tuple[float, float]]]:
    """Resize every image of a normalized, padded batch to its own target short side.

    Image b (unpadded h × w) is scaled by min(short_sides[b] / min(h, w), max_size / max(h, w))
    to floor(h·f) × floor(w·f) with bilinear, non-antialiased interpolation of the *normalized*
    tensor (as the released code: the student sees a second, aliased down-sampling), then the
    batch is zero-padded to `size_divisibility`. Targets are rescaled with the actual per-axis
    scales: boxes and polygons multiplied, bitmasks cropped to h × w and resized (nearest);
    other fields are kept. max_size is 1600 in training and 3000 at test (DLD_SPEC §3.5).

    Returns the new ImageList, the new targets (None without targets) and per-image (sy, sx)
    = (h'/h, w'/w), needed to map predictions back. Inputs are not modified.
    """
    if len(short_sides) != len(images):
        raise ValueError(f"{len(short_sides)} short sides for {len(images)} images")
    resized, scales, new_targets = [], [], []
    for b, (h, w) in enumerate(images.image_sizes):
        h, w = int(h), int(w)
        factor = min(short_sides[b] / min(h, w), max_size / max(h, w))
        new_h, new_w = max(1, math.floor(h * factor)), max(1, math.floor(w * factor))
        img = images.tensor[b, :, :h, :w].unsqueeze(0)
        img = F.interpolate(
            img, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=False
        )
        resized.append(img[0])
        scales.append((new_h / h, new_w / w))
        if targets is not None:
            new_targets.append(_rescale_instances(targets[b], h, w, new_h, new_w))
    batch = ImageList.from_tensors(resized, size_divisibility, pad_value=0.0)
    return batch, (new_targets if targets is not None else None), scales
