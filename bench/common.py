"""What every benchmark prints first: the machine and the package versions."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

from core.provenance import machine, versions


def header(title: str) -> None:
    info = machine()
    cpu = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    print(f"# {title}")
    print(f"# machine: {cpu}, {os.cpu_count()} cores, {info['platform']}")
    print(f"# gpus: {info.get('gpus', 'none')}")
    print("# versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))


def best_of(fn: Callable[[], object], *, repeat: int = 3, warmup: int = 1) -> float:
    """Best wall time of ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)
