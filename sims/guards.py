"""Checks made at the command line before allocating memory or touching a device, so that an
impossible request ends in one line naming the parameter instead of a MemoryError, an
out-of-memory kill or a torch traceback."""

from __future__ import annotations

import os

from sims.errors import InputError

__all__ = [
    "available_memory_bytes", "format_bytes", "check_memory", "training_bytes", "selection_bytes",
    "check_device"
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
