"""draw_text_instances: transcriptions drawn as text, whatever characters they hold."""
import numpy as np
import pytest

pytestmark = pytest.mark.detectron2


def test_dollar_signs_are_drawn_not_parsed_as_mathtext():
    from dld_d2.visualization import draw_text_instances

    image = np.full((120, 200, 3), 255, np.uint8)
    polygons = [[10, 10, 90, 10, 90, 40, 10, 40], [100, 60, 190, 60, 190, 100, 100, 100]]
    # '$$ww' is what an untrained recognizer printed; matplotlib raised on it as mathtext.
    for labels in (["$$wwww", "$5.99"], ["a$b$c", "$"]):
        out = draw_text_instances(image, polygons, labels).get_image()
        assert out.shape == image.shape
        assert (out != 255).any(axis=2).sum() > 500  # polygons and labels were drawn
