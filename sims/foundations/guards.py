"""Checks made at the command line before allocating memory or touching a device, so that an
impossible request ends in one line naming the parameter instead of a MemoryError, an
out-of-memory kill or a torch traceback."""

from __future__ import annotations

import os

from sims.foundations.errors import InputError

__all__ = [
    "available_memory_bytes", "format_bytes", "check_memory", "training_bytes", "selection_bytes",
    "check_device", "CONNECT_TIMEOUT_SECONDS", "parse_scheduler", "check_scheduler", "usable_cpus", "check_workers"
]


def available_memory_bytes() -> int | None:
    """Bytes of memory available to a new allocation without swapping: ``MemAvailable`` of
    /proc/meminfo on Linux, otherwise free physical pages; None when neither is known."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(count: float) -> str:
    """A byte count in decimal units to three significant digits (999.5 -> "1 KB")."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if float(f"{count:.3g}") < 1000 or unit == "PB":
            return f"{count:.3g} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def check_memory(parameter: str, needed_bytes: float, what: str, available: int | None = None) -> None:
    """Raise a ValueError naming ``parameter`` when ``needed_bytes`` (an estimate of what the
    command will allocate, described by ``what``) exceeds the available memory."""
    available = available_memory_bytes() if available is None else available
    if available is not None and needed_bytes > available:
        raise InputError(f"{parameter} needs about {format_bytes(needed_bytes)} of memory ({what}), "
                         f"more than the {format_bytes(available)} available; choose a smaller {parameter}")


def training_bytes(m: int, input_dim: int, width: int, outputs: int, itemsize: int) -> float:
    """Peak bytes of one exact full-batch GD step of a two-layer network: the parameters, their
    gradients and a copy (3 N (d + K + 1) numbers) and the hidden-layer tensors of the batch
    (pre-activations, activations, derivatives and the back-propagated error: 4 m N)."""
    return itemsize * (3.0 * width * (input_dim + outputs + 1) + 4.0 * m * width)


def selection_bytes(n: int, width: int, method: str, row_length: int = 0) -> float:
    """Bytes a selection of ``n`` steps needs beyond its features: per step an index, a loss and
    their JSON and Python-list forms (about 150 bytes) and the weights over the width; for the
    fully corrective methods a Gram matrix of the support (at most min(n, width) squared); fcfw
    also keeps its support's feature rows (``row_length`` = m*K entries each) in float64, in a
    buffer that doubles (up to twice the support); the set-function methods (greedi,
    stochastic-greedy-opt) keep one column of N inner products per chosen neuron."""
    support = min(n, width)
    gram = 8.0 * support * support if method in ("fcfw", "greedy-opt", "greedi", "stochastic-greedy-opt") else 0.0
    if method == "fcfw":
        gram += 16.0 * support * row_length
    if method in ("greedi", "stochastic-greedy-opt"):
        gram += 8.0 * support * width
    return 150.0 * n + 8.0 * width + gram


def check_device(text: str) -> str:
    """Return ``text`` if torch accepts it as a device that exists on this machine; otherwise
    raise a ValueError naming --device and what is accepted here."""
    import torch

    accepted = ["cpu"]
    if torch.cuda.is_available():
        accepted += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        accepted.append("mps")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {text!r} is not a torch device; accepted here: {', '.join(accepted)}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {text!r}: CUDA is not available on this machine; accepted here: "
                         f"{', '.join(accepted)}")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(f"--device {text!r}: no such CUDA device; accepted here: {', '.join(accepted)}")
    if device.type not in ("cpu", "cuda") and str(device) not in accepted:
        raise InputError(f"--device {text!r} is not available on this machine; accepted here: {', '.join(accepted)}")
    return text


#: how long a scheduler address may take to accept a connection before it is refused
CONNECT_TIMEOUT_SECONDS = 3.0


def parse_scheduler(parameter: str, address: str) -> tuple[str, int]:
    """(host, port) of a Dask scheduler address, ``tcp://HOST:PORT``, ``tls://HOST:PORT`` or
    ``HOST:PORT`` (an IPv6 host in brackets), checked without connecting; anything else raises
    an InputError naming ``parameter`` and the accepted forms."""
    from urllib.parse import urlsplit

    accepted = "tcp://HOST:PORT, tls://HOST:PORT or HOST:PORT with a port in 1-65535"
    text = address.strip()
    try:
        parts = urlsplit(text if "://" in text else f"tcp://{text}")
        port = parts.port
    except ValueError:
        raise InputError(f"{parameter} {address!r} is not a scheduler address; accepted: {accepted}") from None
    if (parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None or not 0 < port < 65536
            or parts.path not in ("", "/") or parts.query or parts.fragment or " " in text):
        raise InputError(f"{parameter} {address!r} is not a scheduler address; accepted: {accepted}")
    return parts.hostname, port


def check_scheduler(parameter: str, address: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> str:
    """Return ``address`` once it parses (:func:`parse_scheduler`) and something accepts a TCP
    connection there within ``timeout`` seconds; otherwise raise an InputError naming
    ``parameter``, so a wrong address is refused in seconds, before any work or folder."""
    import socket

    host, port = parse_scheduler(parameter, address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as error:
        reason = "no answer" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        raise InputError(f"{parameter} {address!r}: nothing answers at {host}:{port} ({reason}, waited at most "
                         f"{timeout:g} s); start the scheduler (`dask scheduler`) or check the address") from None
    return address


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def check_workers(parameter: str, workers: int) -> int:
    """Return ``workers`` if it is a positive integer no larger than :func:`usable_cpus`
    (each worker runs one cell on one thread, so more cannot run at once and only add worker
    processes); otherwise raise an InputError naming ``parameter`` and the bound."""
    cpus = usable_cpus()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"{parameter} must be a positive integer, got {workers!r}")
    if workers > cpus:
        raise InputError(f"{parameter} {workers}: this machine runs {cpus} at once (one per CPU); choose at most "
                         f"{cpus}")
    return workers
