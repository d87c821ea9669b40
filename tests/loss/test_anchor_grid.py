import torch

from turboyolo.loss.anchor_grid import AnchorGrid


def dense_inside(grid, boxes, eps=1e-9):
    """(G, A) bool, the brute-force test: every anchor centre against every box."""
    centres = grid.centres[None]
    margins = torch.cat((centres - boxes[:, None, :2], boxes[:, None, 2:] - centres), -1)
    return margins.amin(-1) > eps


def test_pairs_inside_equal_the_brute_force_test_on_edges_borders_and_tiny_boxes():
    grid = AnchorGrid([(12, 16), (6, 8), (3, 4)], [8, 16, 32], torch.device("cpu"))  # 96 x 128 px
    torch.manual_seed(0)
    corners = torch.rand(200, 2) * 160 - 16
    sizes = torch.rand(200, 2) ** 3 * 100
    boxes = torch.cat((corners, corners + sizes), 1)
    edge_cases = torch.tensor([
        [4.0, 4.0, 12.0, 20.0],  # edges exactly on cell centres (strictly inside excludes them)
        [4.0, 4.0, 12.01, 20.01],
        [-50.0, -50.0, 500.0, 500.0],  # covers the image and more: every anchor
        [200.0, 10.0, 300.0, 50.0],  # right of the image: none
        [30.0, 30.0, 30.0, 60.0],  # zero width: none
        [40.0, 40.0, 20.0, 60.0],  # inverted: none
    ])
    # edges a hair either side of cell centres (4, 12, 20, ... at stride 8): rounding must not lose a cell
    centres = (torch.randint(0, 16, (60, 4)) * 8 + 4).float().sort(dim=1).values
    hairs = torch.tensor([0.0, 1e-6, -1e-6, 1e-4, -1e-4, 1e-3, -1e-3])[torch.randint(0, 7, (60, 4))]
    near_centres = torch.stack((centres[:, 0], centres[:, 1], centres[:, 2] + 8, centres[:, 3] + 8), 1) + hairs
    boxes = torch.cat((near_centres, boxes, edge_cases))

    pairs = grid.pairs_inside(boxes)

    found = torch.zeros(len(boxes), grid.num_anchors, dtype=torch.bool)
    found[pairs.box, pairs.anchor] = True
    assert torch.equal(found, dense_inside(grid, boxes))
    assert len(pairs.box) == int(found.sum())  # no pair twice
    assert (pairs.box.diff() >= 0).all()  # grouped by box
    assert found[-6].sum() == 1  # stride-8 centres on the edges are out: only the stride-16 one at (8, 8)
    assert found[-5].sum() == 3  # now (12, 12) and (12, 20) too
    assert found[-4].sum() == grid.num_anchors and not found[-3:].any()
