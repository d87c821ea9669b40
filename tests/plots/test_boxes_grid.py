import cv2
import numpy as np
import torch

from turboyolo.plots.boxes_grid import boxes_grid, class_color, save_batch_grid, save_boxes_grid


def test_grid_tiles_images_and_draws_boxes():
    images = [np.zeros((40, 60, 3), np.uint8) for _ in range(5)]
    boxes = [np.array([[5, 5, 30, 30]], np.float32)] * 5
    grid = boxes_grid(images, boxes, [np.array([1])] * 5, ["a", "b"])
    assert grid.shape == (2 * 40, 3 * 60, 3)
    assert (grid[5, 10] == class_color(1)).all()  # top edge of the first box in its class colour
    assert grid[-1, -1].tolist() == [255, 255, 255]  # empty sixth cell


def test_grid_accepts_chw_tensors_and_shrinks_to_max_width():
    images = torch.zeros(4, 3, 400, 400, dtype=torch.uint8)
    grid = boxes_grid(images, [np.zeros((0, 4))] * 4, [np.zeros(0)] * 4, max_width=400)
    assert grid.shape == (400, 400, 3)


def test_save_png_with_scores(tmp_path):
    path = save_boxes_grid(tmp_path / "sub" / "p.png", [np.zeros((32, 32, 3), np.uint8)],
                           [np.array([[1, 1, 20, 20]])], [np.array([0])], ["cat"], scores=[np.array([0.9])])
    assert cv2.imread(str(path)).shape == (32, 32, 3)


def test_save_batch_grid_from_loader_batch(tmp_path):
    batch = {"images": torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
             "targets": torch.tensor([[1, 0, 0.5, 0.5, 0.5, 0.5]]), "paths": ["a.jpg", "b.jpg"]}
    image = cv2.imread(str(save_batch_grid(tmp_path / "batch.png", batch, ["cat"])))
    assert image.shape == (32, 64, 3)
    assert image[:, 32:].max() > 0 and image[20:, :32].max() == 0  # the box is drawn on image 1 only
