"""Shared fixtures, and how the suite shares the machine under pytest-xdist."""

import os

import pytest
import torch

# Tests that start whole recipe runs (many processes each, minutes): they go out first, so
# that the workers end together instead of one running the longest test at the end.
LONG_FIRST = ("tests/recipes/", "tests/bench/", "tests/test_methods.py", "tests/test_docs.py")


def pytest_configure(config):
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:  # one worker per core: more torch threads per worker only oversubscribe
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.replace("\\", "/")
        return next((i for i, p in enumerate(LONG_FIRST) if path.startswith(p)), len(LONG_FIRST))

    items.sort(key=rank)  # stable: the order within each group is kept


@pytest.fixture
def wav():
    """Two generated mixtures (tone + noise) of an odd length."""
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(5001) / 8000
    tone = torch.sin(2 * torch.pi * torch.tensor([[440.0], [1250.0]]) * t)
    return 0.5 * tone + 0.1 * torch.randn(2, t.numel(), generator=gen)
