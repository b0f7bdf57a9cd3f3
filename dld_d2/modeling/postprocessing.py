"""`text_postprocess`: one image's raw spotter output mapped to the output image, with text
polygons and transcriptions (docs/method.md, "Inference")."""
import numpy as np
import torch
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Instances

from .text_polygons import masks_to_polygons


def text_postprocess(results: Instances, out_height: int, out_width: int, vocabulary) -> Instances:
    """Map one image's raw spotter output (network-input coordinates) to the output size.

    Adds, after Detectron2's `detector_postprocess` (boxes rescaled, masks pasted at the output
    size): `pred_polygons`, a list of (K, 2) float arrays in output coordinates (the largest
    contour of each mask at the network-input size, simplified), and `pred_texts`, a list of
    str. Detections whose mask yields no polygon are dropped. These two fields are Python
    lists: index the result with ints or lists, not tensors.
    """
    in_h, in_w = results.image_size
    input_masks = results.pred_input_masks.cpu().numpy()
    results.remove("pred_input_masks")
    polygons = masks_to_polygons(input_masks, results.pred_boxes.tensor.cpu().numpy())
    keep = [i for i, p in enumerate(polygons) if p is not None]
    results = results[keep]
    results.poly_index = torch.arange(len(results), device=results.pred_boxes.device)
    polygons = [polygons[i] for i in keep]
    r = detector_postprocess(results, out_height, out_width)
    scale = np.array([out_width / in_w, out_height / in_h], np.float32)
    r.pred_polygons = [polygons[i] * scale for i in r.poly_index.tolist()]
    r.remove("poly_index")
    r.pred_texts = [
        vocabulary.decode(ids[:n].tolist())
        for ids, n in zip(r.pred_text_ids.cpu(), r.pred_text_lengths.tolist())
    ]
    return r
