"""A DataLoader whose place in the epoch survives a checkpoint: resume after a kill.

Lightning saves and restores loaders that have ``state_dict`` / ``load_state_dict`` (its
"stateful" protocol). :class:`ResumableLoader` stores the epoch and the number of batches
already handed out, and on resume its sampler skips those indices without reading them, so
a resumed run sees exactly the batches the interrupted run would have seen next, drawn for
the same epoch (the sampler passes ``set_epoch`` on to the dataset). Its sampler
is a ``DistributedSampler`` that looks up the DDP world when an epoch starts, so the loader
can be built before the process group exists and Lightning keeps it as it is under DDP.
"""

import math
from typing import Any, Dict, Iterator

import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

__all__ = ["ResumableSampler", "ResumableLoader"]


class ResumableSampler(DistributedSampler):
    """Seeded per-epoch order (shuffled or not), sharded over DDP ranks, able to start late.

    Args:
        dataset: The dataset.
        shuffle: A new seeded permutation each epoch (``set_epoch``).
        seed: Seed of the permutations (identical on every rank).
        drop_last: Drop the tail that does not divide among the ranks.
    """

    def __init__(self, dataset, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        super().__init__(
            dataset, num_replicas=1, rank=0, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        self.start = 0  # indices of this epoch already consumed (set on resume)

    def _sync_world(self) -> None:
        if dist.is_available() and dist.is_initialized():
            self.num_replicas, self.rank = dist.get_world_size(), dist.get_rank()
        n = len(self.dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Order of this epoch; also new crops / choices in datasets that have epochs.

        Lightning calls this at the start of every epoch, a resumed one included (unlike
        ``on_train_epoch_start``), so the dataset always draws for the right epoch.
        """
        if epoch != self.epoch:
            self.start = 0
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        self._sync_world()
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        self._sync_world()
        return self.num_samples


class ResumableLoader(DataLoader):
    """A ``DataLoader`` with a seeded, resumable order (Lightning's stateful protocol).

    Args:
        dataset: The dataset.
        batch_size: Items per batch.
        shuffle: A new seeded permutation each epoch.
        seed: Seed of the permutations.
        drop_last: Drop the last incomplete batch (and the tail that does not divide among
            DDP ranks).
        **kwargs: Other ``DataLoader`` arguments (``collate_fn``, ``num_workers``, ...), but
            not ``sampler`` or ``batch_sampler``.

    Examples:
        >>> loader = ResumableLoader(list(range(10)), batch_size=4, shuffle=True, seed=1)
        >>> first = next(iter(loader))
        >>> state = loader.state_dict()
        >>> state
        {'epoch': 0, 'batches': 1}
        >>> again = ResumableLoader(list(range(10)), batch_size=4, shuffle=True, seed=1)
        >>> again.load_state_dict(state)
        >>> [b.tolist() for b in again] == [b.tolist() for b in list(loader)[1:]]
        True
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        **kwargs,
    ):
        for key in ("sampler", "batch_sampler"):
            if key in kwargs:
                raise ValueError(f"ResumableLoader makes its own sampler; do not pass {key}")
        sampler = ResumableSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
        super().__init__(
            dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, **kwargs
        )
        self._consumed = 0

    def __iter__(self):
        # counted from the moment the iterator exists, not from its first batch
        self._consumed = self.sampler.start // self.batch_size
        return self._count(super().__iter__())

    def _count(self, batches):
        for batch in batches:
            self._consumed += 1
            yield batch

    def state_dict(self) -> Dict[str, Any]:
        """The epoch and how many of its batches were handed out."""
        return {"epoch": int(self.sampler.epoch), "batches": int(self._consumed)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue from ``state``: the next epoch of that number starts after its batches."""
        self.sampler.set_epoch(int(state["epoch"]))
        self.sampler.start = int(state["batches"]) * self.batch_size
        self._consumed = int(state["batches"])
