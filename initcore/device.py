"""Devices: is a device usable here, how much memory is left on it, and waiting for it.

A leaf module (torch only), shared by the trainers (:mod:`initcore.train`, :mod:`initcore.grid`),
the throughput measurements (:mod:`initcore.speed`) and the command line.
"""

from __future__ import annotations

import torch


def sync(device: torch.device) -> None:
    """Wait until the work queued on ``device`` is done (a no-op on the CPU), so a timer read
    after it measures the work and not only its queueing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_device(device: str) -> None:
    """ValueError (one line) unless torch can use ``device`` here: a valid name, and for
    ``cuda[:N]`` a visible GPU (torch would otherwise fail deep inside the first transfer)."""
    try:
        torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"invalid --device {device!r} ({e})") from e
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        index = torch.device(device).index
        if index is not None and index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    try:  # a valid name is not a usable device (mps, xpu ... without their backend), and a
        # device must compute and give numbers back: "meta" tensors have shapes, no values
        if float((torch.ones(1, device=device) * 2).cpu()) != 2.0:
            raise RuntimeError("it computes 1 x 2 != 2")
    except (RuntimeError, AssertionError, NotImplementedError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0][:160]
        raise ValueError(f"--device {device} cannot be used here ({reason})") from e


def available_memory(device: str) -> int | None:
    """Bytes that can still be allocated on ``device`` (None if unknown): MemAvailable of
    /proc/meminfo for the CPU, the driver's free memory for a GPU."""
    try:
        if torch.device(device).type == "cuda":
            return torch.cuda.mem_get_info(torch.device(device))[0]
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, RuntimeError, ValueError):
        return None
    return None
