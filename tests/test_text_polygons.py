"""Mask → polygon post-processing (docs/method.md, "Inference")."""
import cv2
import numpy as np

from dld_d2.modeling.text_polygons import mask_to_polygon, masks_to_polygons


def test_rectangle_mask_gives_its_corners():
    mask = np.zeros((50, 80), np.uint8)
    mask[10:21, 5:61] = 1
    poly = mask_to_polygon(mask)
    assert poly.shape == (4, 2)
    assert sorted(map(tuple, poly.astype(int).tolist())) == [(5, 10), (5, 20), (60, 10), (60, 20)]


def test_largest_component_wins_and_curves_keep_their_shape():
    mask = np.zeros((100, 200), np.uint8)
    mask[5:8, 5:8] = 1  # a speck
    cv2.ellipse(mask, (100, 90), (80, 60), 0, 180, 360, 1, thickness=15)  # an arc of text
    poly = mask_to_polygon(mask)
    assert len(poly) >= 8  # a curved band needs many vertices
    assert poly[:, 0].min() > 10  # the speck is not part of it
    filled = np.zeros_like(mask)
    cv2.fillPoly(filled, [poly.astype(np.int32)], 1)
    arc = mask.copy()
    arc[5:8, 5:8] = 0
    assert np.logical_and(filled, arc).sum() / arc.sum() > 0.9


def test_empty_and_degenerate_masks_give_none():
    assert mask_to_polygon(np.zeros((10, 10), np.uint8)) is None
    line = np.zeros((10, 10), np.uint8)
    line[5, 2] = 1
    assert mask_to_polygon(line) is None


def test_box_restricted_search_matches_full_search():
    masks = np.zeros((2, 60, 90), bool)
    masks[0, 10:20, 10:40] = True
    masks[1, 30:50, 50:85] = True
    boxes = np.array([[10, 10, 40, 20], [50, 30, 85, 50]], np.float32)
    fast = masks_to_polygons(masks, boxes)
    full = masks_to_polygons(masks)
    for a, b in zip(fast, full):
        assert np.array_equal(np.sort(a, axis=0), np.sort(b, axis=0))
