"""sims.foundations.guards: the checks made before allocating memory or touching a device. Each refusal is an
InputError naming the parameter; the memory estimates match a hand count. (The command-line
cases, one line and exit status 2, are in tests/sims/test_bad_input.py.)"""

from __future__ import annotations

import io

import pytest

from sims.foundations import guards
from sims.foundations.errors import InputError


# ---------------------------------------------------------------- available memory


def test_available_memory_reads_mem_available_of_proc_meminfo(monkeypatch):
    meminfo = "MemTotal:       16000000 kB\nMemFree:         1000 kB\nMemAvailable:    2048 kB\n"

    def fake_open(path, *args, **kwargs):
        assert path == "/proc/meminfo"
        return io.StringIO(meminfo)

    monkeypatch.setattr(guards, "open", fake_open, raising=False)
    assert guards.available_memory_bytes() == 2048 * 1024


def test_available_memory_falls_back_to_free_pages_then_to_none(monkeypatch):
    def no_meminfo(path, *args, **kwargs):
        raise OSError("no /proc here")

    pages = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(guards, "open", no_meminfo, raising=False)
    monkeypatch.setattr(guards.os, "sysconf", lambda name: pages[name])
    assert guards.available_memory_bytes() == 4_096_000

    def unknown(name):
        raise ValueError(f"unrecognized configuration name {name}")

    monkeypatch.setattr(guards.os, "sysconf", unknown)
    assert guards.available_memory_bytes() is None


def test_available_memory_on_this_machine_is_a_positive_integer_or_unknown():
    available = guards.available_memory_bytes()
    assert available is None or (isinstance(available, int) and available > 0)


# ---------------------------------------------------------------- format_bytes


@pytest.mark.parametrize(
    "count, text",
    [(0, "0 B"), (999, "999 B"), (1000, "1 KB"), (1234, "1.23 KB"), (56_700_000, "56.7 MB"),
     (1.5e9, "1.5 GB"), (2e12, "2 TB"), (3e15, "3 PB"), (2e18, "2e+03 PB")],
)
def test_format_bytes(count, text):
    assert guards.format_bytes(count) == text


# ---------------------------------------------------------------- check_memory


def test_check_memory_refuses_an_estimate_above_what_is_available(monkeypatch):
    monkeypatch.setattr(guards, "available_memory_bytes", lambda: 2_000_000)
    with pytest.raises(InputError) as refused:
        guards.check_memory("--width", 3_500_000, "training a wide network")
    message = str(refused.value)
    assert message.startswith("--width needs about 3.5 MB of memory (training a wide network)")
    assert "more than the 2 MB available" in message and message.endswith("choose a smaller --width")
    assert "\n" not in message
    assert isinstance(refused.value, ValueError)  # library callers catching ValueError keep working


def test_check_memory_accepts_up_to_what_is_available(monkeypatch):
    monkeypatch.setattr(guards, "available_memory_bytes", lambda: 2_000_000)
    guards.check_memory("-n", 2_000_000, "exactly all of it")
    guards.check_memory("-n", 10, "a little")
    with pytest.raises(InputError, match="^-n needs"):
        guards.check_memory("-n", 2_000_001, "one byte more")


def test_check_memory_with_unknown_memory_accepts_anything(monkeypatch):
    monkeypatch.setattr(guards, "available_memory_bytes", lambda: None)
    guards.check_memory("--width", 1e30, "more than any machine has")


def test_check_memory_explicit_available_overrides_the_machine(monkeypatch):
    monkeypatch.setattr(guards, "available_memory_bytes", lambda: 10**15)
    with pytest.raises(InputError, match="--iterations needs about 1 KB.*more than the 500 B available"):
        guards.check_memory("--iterations", 1000, "the loss curve", available=500)


# ---------------------------------------------------------------- estimates


def test_training_bytes_hand_count():
    # m = 10, d = 3, N = 4, K = 2, float64: 8 * (3 * 4 * (3 + 2 + 1) + 4 * 10 * 4) = 8 * (72 + 160)
    assert guards.training_bytes(10, 3, 4, 2, 8) == 1856.0
    assert guards.training_bytes(10, 3, 4, 2, 4) == 928.0  # float32: half


@pytest.mark.parametrize("argument", range(4))
def test_training_bytes_grow_with_every_size(argument):
    sizes = [100, 10, 50, 3]  # m, input_dim, width, outputs
    larger = list(sizes)
    larger[argument] *= 2
    assert guards.training_bytes(*larger, 8) > guards.training_bytes(*sizes, 8)


def test_selection_bytes_hand_count():
    # n = 5 steps over width 3: 150 * 5 + 8 * 3, plus for fully corrective methods a 3 x 3 Gram
    assert guards.selection_bytes(5, 3, "gfs") == 774.0
    assert guards.selection_bytes(5, 3, "fcfw") == 774.0 + 72.0
    assert guards.selection_bytes(5, 3, "greedy-opt") == 774.0 + 72.0
    # the support is at most n: 2 steps over width 100, Gram 2 x 2
    assert guards.selection_bytes(2, 100, "fcfw") == 300.0 + 800.0 + 32.0
    # fcfw's float64 support rows, m*K = 40 entries each, in a buffer of up to twice the support
    assert guards.selection_bytes(5, 3, "fcfw", row_length=40) == 774.0 + 72.0 + 2 * 3 * 40 * 8
    # the set-function methods keep one N-long column of inner products per chosen neuron
    assert guards.selection_bytes(5, 3, "greedi") == 774.0 + 72.0 + 3 * 3 * 8


def test_selection_bytes_grow_with_n_and_width():
    for method in ("gfs", "fw", "fcfw", "greedy-opt"):
        assert guards.selection_bytes(200, 50, method) > guards.selection_bytes(100, 50, method)
        assert guards.selection_bytes(100, 100, method) > guards.selection_bytes(100, 50, method)
    assert guards.selection_bytes(10**6, 10**6, "fcfw") > guards.selection_bytes(10**6, 10**6, "gfs")


# ---------------------------------------------------------------- check_device


@pytest.mark.parametrize("text", ["cpu", "cpu:0"])
def test_check_device_accepts_the_cpu(text):
    assert guards.check_device(text) == text


@pytest.mark.parametrize("text, fragment", [("banana", "is not a torch device"), ("", "is not a torch device")])
def test_check_device_refuses_a_bogus_device_naming_the_parameter(text, fragment):
    with pytest.raises(InputError) as refused:
        guards.check_device(text)
    message = str(refused.value)
    assert message.startswith(f"--device {text!r}") and fragment in message
    assert "accepted here: cpu" in message


def test_check_device_refuses_cuda_where_there_is_none(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    for text in ("cuda", "cuda:0"):
        with pytest.raises(InputError, match=f"--device '{text}': CUDA is not available on this machine"):
            guards.check_device(text)


def test_check_device_refuses_a_cuda_index_beyond_the_devices(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert guards.check_device("cuda:1") == "cuda:1"
    with pytest.raises(InputError, match=r"--device 'cuda:2': no such CUDA device; accepted here: cpu, cuda, "
                                         r"cuda:0, cuda:1"):
        guards.check_device("cuda:2")


@pytest.mark.parametrize("count,text", [(999, "999 B"), (999.5, "1 KB"), (999_999, "1 MB"), (1234, "1.23 KB"),
                                        (1.5e9, "1.5 GB")])
def test_format_bytes_rounds_into_the_next_unit(count, text):
    assert guards.format_bytes(count) == text


@pytest.mark.parametrize("address,expected", [("tcp://127.0.0.1:8786", ("127.0.0.1", 8786)),
                                              ("127.0.0.1:8786", ("127.0.0.1", 8786)),
                                              ("tls://sched.example:443", ("sched.example", 443)),
                                              ("[::1]:8786", ("::1", 8786))])
def test_parse_scheduler_accepts_dask_addresses(address, expected):
    from sims.foundations.guards import parse_scheduler

    assert parse_scheduler("--scheduler", address) == expected


@pytest.mark.parametrize("address", ["not an address", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "127.0.0.1",
                                     "tcp://host:port", "ftp://127.0.0.1:8786", "tcp://127.0.0.1:8786/path", ""])
def test_parse_scheduler_refuses_anything_else_naming_the_flag(address):
    from sims.foundations.guards import parse_scheduler

    with pytest.raises(InputError, match="--scheduler .* is not a scheduler address; accepted: tcp://HOST:PORT"):
        parse_scheduler("--scheduler", address)


def test_check_scheduler_refuses_a_closed_port_at_once():
    import socket
    import time

    from sims.foundations.guards import check_scheduler

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(InputError, match=f"nothing answers at 127.0.0.1:{port}"):
        check_scheduler("--scheduler", f"127.0.0.1:{port}")
    assert time.monotonic() - started < 3


def test_check_workers_is_bounded_by_the_cpus(monkeypatch):
    import sims.foundations.guards
    from sims.foundations.guards import check_workers

    monkeypatch.setattr(sims.foundations.guards, "usable_cpus", lambda: 4)
    assert check_workers("--workers", 4) == 4
    with pytest.raises(InputError, match="--workers 5: this machine runs 4 at once"):
        check_workers("--workers", 5)
    with pytest.raises(InputError, match="--workers must be a positive integer"):
        check_workers("--workers", 0)
