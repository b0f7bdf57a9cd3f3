"""Binary instance masks → text polygons (docs/method.md, "Inference"), pure numpy/OpenCV."""
import cv2
import numpy as np


def mask_to_polygon(mask, epsilon_ratio=0.01):
    """The largest external contour of a binary mask, simplified by Douglas–Peucker.

    Args:
        mask: (H, W) bool/uint8 array.
        epsilon_ratio: simplification tolerance as a fraction of the closed contour's perimeter.
    Returns:
        (K, 2) float32 array of x, y vertices (K ≥ 3), or None when the mask has no contour or
        the simplified contour has fewer than 3 points (no valid polygon to report).
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    poly = cv2.approxPolyDP(contour, epsilon_ratio * cv2.arcLength(contour, True), True)
    poly = poly.reshape(-1, 2)
    if len(poly) < 3:
        return None
    return poly.astype(np.float32)


def masks_to_polygons(masks, boxes=None, epsilon_ratio=0.01):
    """`mask_to_polygon` for each of N masks; when boxes (N×4 XYXY) are given, each mask is
    searched only inside its box (grown by 2 px), which is much faster on large images."""
    out = []
    n, h, w = masks.shape
    for i in range(n):
        if boxes is None:
            out.append(mask_to_polygon(masks[i], epsilon_ratio))
            continue
        x0, y0, x1, y1 = boxes[i]
        x0, y0 = max(int(x0) - 2, 0), max(int(y0) - 2, 0)
        x1, y1 = min(int(np.ceil(x1)) + 2, w), min(int(np.ceil(y1)) + 2, h)
        poly = mask_to_polygon(masks[i, y0:y1, x0:x1], epsilon_ratio) if x1 > x0 and y1 > y0 else None
        out.append(None if poly is None else poly + np.array([x0, y0], np.float32))
    return out
