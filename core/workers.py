"""Probe workers die with the run that started them.

joblib's loky workers outlive a parent killed with SIGKILL (or any signal Python does not
turn into an exception): they sit idle, holding memory, for as long as their lost executor
would have kept them (one idled 26 minutes at 200 MB after a killed run).  A signal cannot
be caught on the parent's side, so each worker watches instead: a daemon thread started by
the executor's initializer checks once a second that its parent is still the process that
started it, and ends the worker when it is not (re-parented to init or a subreaper).

:func:`bind_to_parent` installs this by registering, under the name ``loky``, a loky
backend whose executors pass that initializer; every ``parallel_config(backend="loky")``
in this process (the probe grid's included) then gets it.  Other backends (Dask, Ray) are
untouched: their workers belong to a cluster, not to the run.
"""

from __future__ import annotations

import os
import threading
import time

from joblib import register_parallel_backend
from joblib._parallel_backends import LokyBackend

CHECK_EVERY_S = 1.0


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # the run is gone: nothing to return results to
        time.sleep(CHECK_EVERY_S)


def watch_parent(parent: int) -> None:
    """Worker initializer: exit as soon as ``parent`` is no longer this process's parent.

    Parameters
    ----------
    parent : int
        The process id of the run that starts the workers.
    """
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="strata-parent-watch", daemon=True).start()


class ParentBoundLoky(LokyBackend):
    """joblib's loky backend, with workers that exit when the process that made them dies."""

    def configure(self, n_jobs=1, parallel=None, prefer=None, require=None, **kwargs):
        kwargs.setdefault("initializer", watch_parent)
        kwargs.setdefault("initargs", (os.getpid(),))
        return super().configure(n_jobs, parallel, prefer, require, **kwargs)


_bound: set[int] = set()


def bind_to_parent() -> None:
    """Make this process's loky workers exit with it (idempotent; once per process)."""
    if os.getpid() in _bound:
        return
    register_parallel_backend("loky", ParentBoundLoky)
    _bound.add(os.getpid())
