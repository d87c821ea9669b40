import torch

from turboyolo.loss.box_loss import boxes_to_distances, ciou_loss, distribution_focal_loss


def test_ciou_loss_zero_for_identical_boxes_and_positive_otherwise():
    boxes = torch.tensor([[[0.0, 0.0, 2.0, 3.0], [1.0, 1.0, 4.0, 2.0]]])
    weights, one = torch.ones(1, 2), torch.tensor(1.0)
    assert ciou_loss(boxes, boxes, weights, one).abs() < 1e-5
    assert ciou_loss(boxes + 0.5, boxes, weights, one) > 0.1


def test_dfl_is_smallest_at_the_two_bin_target():
    reg_max, target = 16, torch.full((1, 1, 4), 3.25)
    weights, one = torch.ones(1, 1), torch.tensor(1.0)
    ideal = torch.full((1, 1, 4, reg_max), -30.0)
    ideal[..., 3], ideal[..., 4] = torch.log(torch.tensor(0.75)), torch.log(torch.tensor(0.25))
    best = distribution_focal_loss(ideal.flatten(-2), target, weights, one)
    entropy = -(0.75 * torch.log(torch.tensor(0.75)) + 0.25 * torch.log(torch.tensor(0.25)))
    assert torch.allclose(best, entropy, atol=1e-4)
    for shift in (1, -1):
        worse = torch.roll(ideal, shift, dims=-1)
        assert distribution_focal_loss(worse.flatten(-2), target, weights, one) > best + 1


def test_boxes_to_distances():
    points = torch.tensor([[2.5, 3.5]])
    assert boxes_to_distances(torch.tensor([[[1.0, 1.0, 5.0, 4.0]]]), points).tolist() == [[[1.5, 2.5, 2.5, 0.5]]]
