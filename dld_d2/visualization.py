"""Drawing text instances (polygons with their transcriptions) with Detectron2's Visualizer."""
import numpy as np

#: Colours of recognisable text and of don't-care regions (RGB in [0, 1]).
CARE_COLOR = (0.1, 0.8, 0.2)
DONT_CARE_COLOR = (0.9, 0.2, 0.2)


def draw_text_instances(image_rgb, polygons, labels, dont_care=None, metadata=None, scale=1.0):
    """A Detectron2 `VisImage` of text polygons filled lightly and labelled with their text.

    Args:
        image_rgb: (H, W, 3) uint8 RGB image.
        polygons: per instance, a flat [x, y, ...] list, a (K, 2) array, or a list of parts.
        labels: per instance, the string to print (its transcription).
        dont_care: optional per-instance booleans; don't-care regions are drawn in red.
    """
    from detectron2.utils.visualizer import Visualizer

    vis = Visualizer(image_rgb, metadata=metadata, scale=scale)
    if len(polygons) == 0:
        return vis.output
    dont_care = dont_care if dont_care is not None else [False] * len(polygons)
    masks = [[np.asarray(p, np.float64).reshape(-1) for p in _parts(poly)] for poly in polygons]
    colors = [DONT_CARE_COLOR if dc else CARE_COLOR for dc in dont_care]
    # Matplotlib reads text between two '$' as mathtext (and raises on most words): escape them.
    labels = [str(t).replace("$", r"\$") for t in labels]
    return vis.overlay_instances(masks=masks, labels=labels, assigned_colors=colors, alpha=0.3)


def _parts(poly):
    if isinstance(poly, np.ndarray) or (len(poly) and np.isscalar(poly[0])):
        return [poly]
    return poly
