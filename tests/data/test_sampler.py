import pytest
from torch.utils.data import DistributedSampler

from turboyolo.data.sampler import ShardSampler


def _shards(size, world, **kwargs):
    samplers = [ShardSampler(size, rank=r, world_size=world, **kwargs) for r in range(world)]
    return samplers, [list(s) for s in samplers]


def test_train_shards_are_even_and_cover_everything():
    samplers, shards = _shards(10, 4, seed=3)
    assert [len(s) for s in shards] == [3, 3, 3, 3] == [len(s) for s in samplers]
    assert set(sum(shards, [])) == set(range(10))


def test_same_order_as_torch_distributed_sampler_layout():
    """Interleaved sharding of one seeded permutation, like DistributedSampler (with our seed mixing)."""
    ours = ShardSampler(9, rank=1, world_size=3, shuffle=False)
    theirs = DistributedSampler(list(range(9)), num_replicas=3, rank=1, shuffle=False)
    assert list(ours) == list(theirs)


def test_epoch_changes_the_shuffle_and_is_reproducible():
    sampler = ShardSampler(50, seed=1)
    first = list(sampler)
    assert list(ShardSampler(50, seed=1)) == first
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(sampler) == list(range(50))


def test_tiny_dataset_many_ranks_pads_by_repeating():
    _, shards = _shards(2, 5)
    assert all(len(s) == 1 for s in shards)


@pytest.mark.parametrize("old_world,new_world", [(2, 2), (2, 3), (4, 1)])
def test_start_index_resumes_without_repeats_or_gaps(old_world, new_world):
    """A run stopped after k global batches and resumed (possibly on another world size) reads the rest."""
    size, per_rank_batch, steps_done = 37, 3, 2
    full = ShardSampler(size, seed=5)
    full.set_epoch(4)
    order = full.epoch_order()
    consumed = steps_done * per_rank_batch * old_world
    resumed = []
    for rank in range(new_world):
        sampler = ShardSampler(size, rank=rank, world_size=new_world, seed=5)
        sampler.set_epoch(4, start_index=consumed)
        assert len(list(sampler)) == len(sampler)
        resumed += list(sampler)
    assert set(resumed) == set(order[consumed:])
    assert not set(resumed) & set(order[:consumed])


def test_validation_shards_have_no_duplicates_and_keep_order():
    _, shards = _shards(10, 3, shuffle=False, pad=False)
    assert sum(shards, []) == list(range(10))
    assert [len(s) for s in shards] == [4, 3, 3]


def test_bad_rank_rejected():
    with pytest.raises(ValueError):
        ShardSampler(4, rank=2, world_size=2)
