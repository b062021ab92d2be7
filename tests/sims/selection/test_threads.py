"""sims.selection.threads: thread counts set and restored, the pass count measured once and chosen
by its rule, bad ``threads`` refused."""

import json
import time

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from sims.foundations.errors import InputError
from sims.selection import threads as threads_module
from sims.selection.threads import one_thread, pass_threads, resolve_threads, torch_threads


def _blas_counts() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    """torch on 2 threads for the test (a machine with 1 core still sets 2), then as before."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def fresh_measurement(tmp_path, monkeypatch):
    """No count kept in memory, and the cache file in a fresh folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    threads_module._measured.cache_clear()
    yield
    threads_module._measured.cache_clear()


def test_torch_threads_sets_torch_and_blas_and_restores(two_threads):
    blas_before = _blas_counts()
    assert blas_before, "numpy's BLAS is not visible to threadpoolctl"
    with torch_threads(3):
        assert torch.get_num_threads() == 3
        assert set(_blas_counts()) == {3}
    assert torch.get_num_threads() == 2
    assert _blas_counts() == blas_before


def test_torch_threads_restores_after_an_exception(two_threads):
    blas_before = _blas_counts()
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(1):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2
    assert _blas_counts() == blas_before


def test_torch_threads_at_the_current_count_still_limits_blas(two_threads):
    with torch_threads(2):
        assert torch.get_num_threads() == 2
        assert set(_blas_counts()) == {2}


def test_one_thread_nests_with_torch_threads(two_threads):
    with one_thread():
        assert torch.get_num_threads() == 1 and set(_blas_counts()) == {1}
        with torch_threads(2):
            assert torch.get_num_threads() == 2 and set(_blas_counts()) == {2}
        assert torch.get_num_threads() == 1 and set(_blas_counts()) == {1}
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, True, False, "2", [2], np.float64(2.0)])
def test_resolve_threads_refuses_what_is_not_a_positive_int(bad):
    with pytest.raises(InputError, match=r"^threads must be a positive integer or None"):
        resolve_threads(bad)


@pytest.mark.parametrize("given", [1, 2, 7, np.int64(3)])
def test_resolve_threads_uses_an_explicit_count_as_is(given, monkeypatch):
    monkeypatch.setattr(threads_module, "pass_threads", lambda: pytest.fail("measured despite an explicit count"))
    assert resolve_threads(given) == int(given)
    assert type(resolve_threads(given)) is int


def test_resolve_threads_none_is_the_measured_count(monkeypatch):
    monkeypatch.setattr(threads_module, "pass_threads", lambda: 5)
    assert resolve_threads(None) == 5


@pytest.mark.parametrize("seconds, chosen", [
    ({1: 10.0, 2: 9.5}, 1),        # 5% faster: within the noise, fewer threads
    ({1: 10.0, 2: 8.9}, 2),        # 11% faster
    ({1: 10.0, 2: 30.0}, 1),       # a busy second core: one thread
    ({1: 10.0, 2: 6.0, 4: 5.8}, 2),
    ({1: 10.0, 2: 6.0, 4: 5.0}, 4),
])
def test_pass_threads_takes_the_fewest_threads_within_ten_percent_of_the_fastest(
        seconds, chosen, monkeypatch, fresh_measurement):
    limit = max(seconds)
    monkeypatch.setattr(threads_module, "_available_cores", lambda: limit)
    monkeypatch.setattr(threads_module, "_pass_seconds", lambda count, matrix, vector: seconds[count])
    previous = torch.get_num_threads()
    torch.set_num_threads(limit)
    try:
        assert pass_threads() == chosen
    finally:
        torch.set_num_threads(previous)


def test_pass_threads_measures_once_per_process_and_obeys_torchs_count(monkeypatch, fresh_measurement):
    timed = []

    def fake_seconds(count, matrix, vector):
        timed.append(count)
        return 1.0 / count  # more threads always faster

    monkeypatch.setattr(threads_module, "_available_cores", lambda: 8)
    monkeypatch.setattr(threads_module, "_pass_seconds", fake_seconds)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(6)
        assert pass_threads() == 6 and timed == [1, 2, 4, 6]
        assert pass_threads() == 6 and timed == [1, 2, 4, 6]  # cached: not timed again
        torch.set_num_threads(1)
        assert pass_threads() == 1 and timed == [1, 2, 4, 6]  # one thread allowed: nothing to measure
    finally:
        torch.set_num_threads(previous)


def test_pass_threads_measurement_is_short_and_in_range(fresh_measurement):
    start = time.perf_counter()
    chosen = pass_threads()
    elapsed = time.perf_counter() - start
    assert 1 <= chosen <= torch.get_num_threads()
    assert elapsed < 1.5, f"the probe took {elapsed:.2f} s (budget ~0.3 s; 1.5 s allows a busy machine)"
    assert torch.get_num_threads() >= chosen  # the probe left torch's count as it was


def test_pass_threads_keeps_its_count_in_a_file_for_later_processes(monkeypatch, fresh_measurement, tmp_path):
    timed = []
    monkeypatch.setattr(threads_module, "_available_cores", lambda: 2)
    monkeypatch.setattr(threads_module, "_pass_seconds", lambda count, matrix, vector: timed.append(count) or 1.0 / count)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert pass_threads() == 2 and timed == [1, 2]
        cache = tmp_path / "gfs-toolkit" / "pass_threads.json"
        assert list(json.loads(cache.read_text()).values()) == [2]
        assert [p.name for p in cache.parent.iterdir()] == ["pass_threads.json"]  # no temporary left
        threads_module._measured.cache_clear()  # a new process: read from the file, not timed
        assert pass_threads() == 2 and timed == [1, 2]
        for broken in ("not json", "[1, 2]", json.dumps({key: 0 for key in json.loads(cache.read_text())})):
            cache.write_text(broken)
            threads_module._measured.cache_clear()
            assert pass_threads() == 2
        assert timed == [1, 2] * 4  # each broken file measured again
        assert list(json.loads(cache.read_text()).values()) == [2]  # and rewritten
    finally:
        torch.set_num_threads(previous)


def test_pass_threads_without_a_writable_cache_still_answers(monkeypatch, fresh_measurement, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the folder should be
    monkeypatch.setattr(threads_module, "_available_cores", lambda: 2)
    monkeypatch.setattr(threads_module, "_pass_seconds", lambda count, matrix, vector: 1.0 * count)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert pass_threads() == 1
    finally:
        torch.set_num_threads(previous)
