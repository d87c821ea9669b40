import torch

from turboyolo.loss.targets import pad_targets


def test_boxes_are_grouped_by_image_in_pixels():
    targets = torch.tensor([
        [1, 2, 0.5, 0.5, 0.5, 0.5],
        [0, 1, 0.25, 0.5, 0.5, 1.0],
        [1, 0, 0.5, 0.25, 1.0, 0.5],
    ])
    gt = pad_targets(targets, batch_size=3, image_hw=(32, 64), device=torch.device("cpu"))
    assert gt.labels.shape == (3, 2) and gt.boxes.shape == (3, 2, 4)
    assert gt.mask.tolist() == [[True, False], [True, True], [False, False]]
    assert gt.labels[1].tolist() == [2, 0]  # order inside an image is kept
    assert gt.boxes[0, 0].tolist() == [0.0, 0.0, 32.0, 32.0]
    assert gt.boxes[1, 0].tolist() == [16.0, 8.0, 48.0, 24.0]


def test_no_boxes_still_gives_one_masked_slot():
    gt = pad_targets(torch.zeros(0, 6), batch_size=2, image_hw=(64, 64), device=torch.device("cpu"))
    assert gt.boxes.shape == (2, 1, 4) and not gt.mask.any()
