import torch

from turboyolo.model.blocks import C2f, SPPF, Bottleneck, ConvBnSiLU, Upsample


def test_conv_stride_halves_size_and_sets_channels():
    assert ConvBnSiLU(3, 16, 3, 2)(torch.rand(1, 3, 32, 48)).shape == (1, 16, 16, 24)


def test_bottleneck_residual_only_when_shapes_match():
    assert Bottleneck(8, 8, shortcut=True).residual
    assert not Bottleneck(8, 16, shortcut=True).residual
    assert not Bottleneck(8, 8, shortcut=False).residual


def test_c2f_and_sppf_keep_spatial_size():
    x = torch.rand(2, 16, 8, 8)
    assert C2f(16, 32, repeats=2, shortcut=True)(x).shape == (2, 32, 8, 8)
    assert SPPF(16, 24)(x).shape == (2, 24, 8, 8)
    assert Upsample(16, 16, 2)(x).shape == (2, 16, 16, 16)


def test_c2f_splits_where_its_first_bottleneck_reads():
    """A pruned C2f may keep different numbers of channels in its two halves (turboyolo/compress)."""
    block = C2f(16, 32, repeats=2, shortcut=False)
    assert block.split_sizes() == [16, 16]
    block.cv1.conv = torch.nn.Conv2d(16, 12 + 10, 1, bias=False)  # bypass 12, chain 10 channels
    block.cv1.bn = torch.nn.BatchNorm2d(22)
    for bottleneck in block.m:
        bottleneck.cv1.conv = torch.nn.Conv2d(10, 16, 3, padding=1, bias=False)
        bottleneck.cv2.conv = torch.nn.Conv2d(16, 10, 3, padding=1, bias=False)
        bottleneck.cv2.bn = torch.nn.BatchNorm2d(10)
    block.cv2.conv = torch.nn.Conv2d(12 + 10 * 3, 32, 1, bias=False)
    assert block.split_sizes() == [12, 10]
    assert block(torch.rand(1, 16, 8, 8)).shape == (1, 32, 8, 8)
