"""Shared fixtures."""

import pytest
import torch


@pytest.fixture
def wav():
    """Two generated mixtures (tone + noise) of an odd length."""
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(5001) / 8000
    tone = torch.sin(2 * torch.pi * torch.tensor([[440.0], [1250.0]]) * t)
    return 0.5 * tone + 0.1 * torch.randn(2, t.numel(), generator=gen)
