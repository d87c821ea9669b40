import numpy as np

from turboyolo.data.augment.mosaic import mosaic4
from tests.data.loader_fixtures import bright_mask, painted_image, random_boxes


def test_mosaic_places_four_images_with_their_boxes():
    rng = np.random.default_rng(3)
    samples = []
    for k in range(4):
        boxes = random_boxes(rng, 30, 40, 2)
        samples.append((painted_image(30, 40, boxes), boxes, np.full(2, k)))
    canvas, boxes, visible, classes = mosaic4(samples, rng, 40)
    assert canvas.shape == (80, 80, 3) and boxes.shape == (8, 4) and classes.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    mask = bright_mask(canvas)
    painted = sum(int(mask[int(y1):int(y2), int(x1):int(x2)].sum()) for x1, y1, x2, y2 in visible)
    area = ((visible[:, 2] - visible[:, 0]) * (visible[:, 3] - visible[:, 1])).sum()
    assert painted == mask.sum() == area  # every painted pixel is inside exactly its visible box
