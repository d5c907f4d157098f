"""ResumableLoader: seeded epochs, state round trip, DDP sharding, epochs passed to datasets."""

import pytest
import torch

from asteroid_wsas.data import ResumableLoader, ResumableSampler


class EpochList(list):
    """A list dataset that records set_epoch calls."""

    epoch = None

    def set_epoch(self, epoch):
        self.epoch = epoch


def batches(loader):
    return [b.tolist() for b in loader]


def test_order_is_seeded_per_epoch_and_covers_everything():
    data = list(range(10))
    loader = ResumableLoader(data, batch_size=3, shuffle=True, seed=4)
    epoch0 = batches(loader)
    assert sorted(x for b in epoch0 for x in b) == data
    assert batches(ResumableLoader(data, batch_size=3, shuffle=True, seed=4)) == epoch0
    loader.sampler.set_epoch(1)
    assert batches(loader) != epoch0
    assert batches(ResumableLoader(data, batch_size=3, shuffle=False)) == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7, 8],
        [9],
    ]


@pytest.mark.parametrize("consumed", [0, 1, 3, 4])
def test_resume_skips_exactly_the_consumed_batches_without_reading_them(consumed):
    reads = []

    class Logged(list):
        def __getitem__(self, i):
            reads.append(i)
            return super().__getitem__(i)

    data = Logged(range(14))
    full = ResumableLoader(data, batch_size=4, shuffle=True, seed=2)
    full.sampler.set_epoch(3)
    expected = batches(full)
    it = iter(full)
    for _ in range(consumed):
        next(it)
    state = full.state_dict()
    assert state == {"epoch": 3, "batches": consumed}

    reads.clear()
    again = ResumableLoader(data, batch_size=4, shuffle=True, seed=2)
    again.load_state_dict(state)
    again.sampler.set_epoch(3)  # Lightning sets the same epoch when it restarts mid-epoch
    assert batches(again) == expected[consumed:]
    assert len(reads) == sum(len(b) for b in expected[consumed:])  # skipped items not read
    again.sampler.set_epoch(4)  # the next epoch starts from its beginning
    assert len(batches(again)) == len(expected)


def test_sampler_shards_over_ranks_like_distributed_sampler():
    shards = []
    for rank in range(3):
        sampler = ResumableSampler(list(range(10)), shuffle=True, seed=1)
        sampler._sync_world = lambda s=sampler, r=rank: _fake_world(s, r, 3)
        sampler.set_epoch(2)
        shards.append(list(sampler))
    assert all(len(s) == 4 for s in shards)  # padded to 12 like DistributedSampler
    assert set(x for s in shards for x in s) == set(range(10))
    reference = torch.utils.data.DistributedSampler(
        list(range(10)), num_replicas=3, rank=1, shuffle=True, seed=1
    )
    reference.set_epoch(2)
    assert shards[1] == list(reference)


def _fake_world(sampler, rank, world):
    sampler.num_replicas, sampler.rank = world, rank
    sampler.num_samples = -(-len(sampler.dataset) // world)
    sampler.total_size = sampler.num_samples * world


def test_epochs_reach_the_dataset():
    data = EpochList(range(6))
    loader = ResumableLoader(data, batch_size=2)
    loader.sampler.set_epoch(5)
    assert data.epoch == 5


def test_rejects_a_sampler_of_its_own():
    with pytest.raises(ValueError, match="do not pass sampler"):
        ResumableLoader(list(range(4)), sampler=range(4))
