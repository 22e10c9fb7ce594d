"""joblib backends for the probe grid: local processes, or a Dask / Ray cluster.

The grid is plain ``joblib.Parallel``; on a cluster only the backend changes:

- ``dask``: connects to ``DASK_SCHEDULER_ADDRESS`` (e.g. ``tcp://head:8786``) or starts a
  local cluster; needs ``pip install "dask[distributed]"``.
- ``ray``: connects to ``RAY_ADDRESS`` or starts Ray locally; needs ``pip install ray``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import ConfigError

BACKENDS = ("loky", "threading", "dask", "ray")


@contextmanager
def cluster(backend: str) -> Iterator[str]:
    """Make ``backend`` usable by joblib for the duration; yields the name to pass it."""
    if backend in ("loky", "threading", "sequential"):
        yield backend
        return
    if backend == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError('the dask backend needs: pip install "dask[distributed]"') from None
        address = os.environ.get("DASK_SCHEDULER_ADDRESS")
        local = None if address else LocalCluster(processes=False, threads_per_worker=1)
        client = Client(address or local)
        try:
            yield "dask"
        finally:
            client.close()
            if local is not None:
                local.close()
        return
    if backend == "ray":
        try:
            import ray
            from ray.util.joblib import register_ray
        except ImportError:
            raise ConfigError("the ray backend needs: pip install ray") from None
        register_ray()
        started = not ray.is_initialized()
        if started:
            ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
        try:
            yield "ray"
        finally:
            if started:
                ray.shutdown()
        return
    raise ConfigError(f"unknown joblib backend '{backend}'; use one of {', '.join(BACKENDS)}")
