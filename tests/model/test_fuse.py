import torch

from turboyolo.model import build_model
from turboyolo.model.blocks import ConvBnSiLU


def test_fused_model_gives_same_outputs():
    torch.manual_seed(0)
    model = build_model("n", 4)
    # non-trivial BN statistics, as after training
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = model(images)
        after = model.fuse()(images)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert all(m.conv.bias is not None for m in model.modules() if isinstance(m, ConvBnSiLU))
    assert torch.allclose(before, after, atol=1e-4, rtol=1e-4)
