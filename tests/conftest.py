"""Shared fixtures: small, deterministic, never downloading."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's tests, then the previous count: on two shared cores, oversubscribed
    OpenMP threads make tiny CPU training many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
