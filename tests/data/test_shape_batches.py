import numpy as np
import pytest

from turboyolo.data.sampler import ShardSampler
from turboyolo.data.shape_batches import ShapeBatchSampler, order_by_shape

SHAPES = np.array([[64, 64], [32, 64], [64, 64], [64, 32], [32, 64], [64, 64], [32, 64], [64, 64]])


def test_order_by_shape_groups_equal_shapes_and_keeps_index_order_within():
    order = order_by_shape(SHAPES)
    assert sorted(order) == list(range(len(SHAPES)))
    assert order == [1, 4, 6, 3, 0, 2, 5, 7]  # (32, 64) x3, (64, 32), (64, 64) x4


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5])
def test_batches_are_single_shape_full_unless_the_shape_changes(batch_size):
    batches = list(ShapeBatchSampler(order_by_shape(SHAPES), SHAPES, batch_size))
    assert [i for b in batches for i in b] == order_by_shape(SHAPES)  # every index once, in order
    for batch in batches:
        assert len({tuple(SHAPES[i]) for i in batch}) == 1 and len(batch) <= batch_size
    # one short batch per shape group at most: (3, 1, 4) images per group
    assert len(batches) == sum(-(-n // batch_size) for n in (3, 1, 4))


def test_unsorted_input_still_yields_single_shape_batches():
    batches = list(ShapeBatchSampler(range(len(SHAPES)), SHAPES, 4))
    assert all(len({tuple(SHAPES[i]) for i in b}) == 1 for b in batches)
    assert len(batches) == 8  # no two neighbours share a shape: why the loader sorts first


def test_shards_of_the_sorted_order_cover_each_image_once():
    order = order_by_shape(SHAPES)
    seen = []
    for rank in range(3):
        sampler = ShardSampler(len(SHAPES), rank=rank, world_size=3, shuffle=False, pad=False, order=order)
        seen += [i for b in ShapeBatchSampler(sampler, SHAPES, 2) for i in b]
    assert seen == order


def test_shard_sampler_rejects_an_order_that_is_not_a_permutation():
    with pytest.raises(ValueError, match="permutation"):
        ShardSampler(4, shuffle=False, pad=False, order=[0, 1, 1, 3])
