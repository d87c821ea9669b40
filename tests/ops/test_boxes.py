import torch

from turboyolo.ops.boxes import batched_box_iou, box_iou


def test_batched_box_iou_matches_pairwise_per_image():
    torch.manual_seed(0)
    xy = torch.rand(2, 5, 2) * 50
    a = torch.cat((xy, xy + torch.rand(2, 5, 2) * 30 + 1), -1)
    xy = torch.rand(2, 7, 2) * 50
    b = torch.cat((xy, xy + torch.rand(2, 7, 2) * 30 + 1), -1)
    batched = batched_box_iou(a, b)
    assert batched.shape == (2, 5, 7)
    for i in range(2):
        assert torch.allclose(batched[i], box_iou(a[i], b[i]), atol=1e-6)
