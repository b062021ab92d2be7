"""Fixtures shared by the whole test tree."""

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests with one torch thread, as the runner runs its cells (and fast on a busy machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
