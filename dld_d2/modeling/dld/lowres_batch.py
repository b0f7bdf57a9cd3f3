"""`lowres_view`: the low-resolution view (`lowres`) of a Detectron2 batch and its targets."""
from typing import List, Optional, Sequence, Tuple

from detectron2.structures import BitMasks, Boxes, ImageList, Instances, PolygonMasks

from .lowres import lowres_size, resize_image, resize_masks, scale_boxes, scale_polygons


def _rescale_instances(inst: Instances, h: int, w: int, new_h: int, new_w: int) -> Instances:
    sx, sy = new_w / w, new_h / h
    out = Instances((new_h, new_w))
    for name, value in inst.get_fields().items():
        if isinstance(value, Boxes):
            value = Boxes(scale_boxes(value.tensor, sx, sy))
        elif isinstance(value, PolygonMasks):
            value = PolygonMasks(scale_polygons(value.polygons, sx, sy))
        elif isinstance(value, BitMasks):
            value = BitMasks(resize_masks(value.tensor, h, w, (new_h, new_w)))
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

    Image b (unpadded h × w) becomes `lowres_size(h, w, short_sides[b], max_size)` by
    `resize_image`, then the batch is zero-padded to `size_divisibility`. Targets are rescaled
    with the actual per-axis scales: boxes and polygons multiplied, bitmasks cropped to h × w and
    resized (nearest); other fields are kept. max_size is MODEL.DLD.TRAIN_MAX_SIZE in training
    and TEST_MAX_SIZE at test.

    Returns the new ImageList, the new targets (None without targets) and per-image (sy, sx)
    = (h'/h, w'/w), needed to map predictions back. Inputs are not modified.
    """
    if len(short_sides) != len(images):
        raise ValueError(f"{len(short_sides)} short sides for {len(images)} images")
    resized, scales, new_targets = [], [], []
    for b, (h, w) in enumerate(images.image_sizes):
        h, w = int(h), int(w)
        new_h, new_w = lowres_size(h, w, short_sides[b], max_size)
        resized.append(resize_image(images.tensor[b, :, :h, :w], (new_h, new_w)))
        scales.append((new_h / h, new_w / w))
        if targets is not None:
            new_targets.append(_rescale_instances(targets[b], h, w, new_h, new_w))
    batch = ImageList.from_tensors(resized, size_divisibility, pad_value=0.0)
    return batch, (new_targets if targets is not None else None), scales
