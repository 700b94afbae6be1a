"""Choosing the device and checking that it can do what was asked."""

from __future__ import annotations

import platform
from functools import cache

import torch

from percgrad.errors import PercgradError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _available() -> str:
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return "cpu, " + ", ".join(["cuda"] + [f"cuda:{i}" for i in range(n)])
    return "cpu (no CUDA device is visible to PyTorch)"


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda:N`` checked against the devices present."""
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        index_text = name[5:] if name.startswith("cuda:") else "0"
        if not index_text.isdigit():
            raise PercgradError(f"{name!r} is not a device; available: {_available()}", "--device")
        if not torch.cuda.is_available():
            raise PercgradError(
                f"{name!r} was asked for, but no CUDA device is visible to PyTorch "
                "(available: cpu; use --device cpu or auto)", "--device"
            )
        index = int(index_text)
        if index >= torch.cuda.device_count():
            raise PercgradError(
                f"{name!r} does not exist; available: {_available()}", "--device"
            )
        return torch.device("cuda", index)
    raise PercgradError(
        f"{name!r} is not one of auto, cpu, cuda, cuda:N; available: {_available()}", "--device"
    )


def check_dtype(device: torch.device, dtype: torch.dtype) -> None:
    """Refuse a dtype the device cannot hold (float64 on some accelerators)."""
    try:
        torch.zeros(1, dtype=dtype, device=device)
    except (RuntimeError, TypeError) as exc:
        raise PercgradError(
            f"{device} cannot compute in {str(dtype).removeprefix('torch.')} ({exc}); "
            "use --dtype float32 or --device cpu",
            "--dtype",
        ) from None


@cache
def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def device_info(device: torch.device) -> dict[str, str]:
    """{"type": "cpu" | "cuda", "name": the processor or GPU's name}."""
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device)}
    return {"type": device.type, "name": cpu_name()}


def available_bytes(device: torch.device) -> int | None:
    """Free memory of ``device`` (MemAvailable for the CPU); None when it cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so that timings measure work done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
