"""What every result records about where it was made: package versions and the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from importlib import metadata

STRATA_VERSION = "0.1.0"
PACKAGES = ("torch", "transformers", "scikit-learn", "numpy", "scipy", "duckdb", "joblib")


def versions() -> dict[str, str]:
    """Strata's version and the versions of the packages that change the numbers."""
    out = {"strata": STRATA_VERSION}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[package] = metadata.version(package)
    return out


def machine() -> dict:
    """Host, platform, Python, CPU count and GPUs (when torch sees any)."""
    info = {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return info
