"""One BLAS thread for the analyses: their matrices are small, and threads only contend.

Bootstraps and nulls here multiply and decompose matrices of tens to hundreds of rows,
thousands of times.  A multi-threaded BLAS gains nothing on such sizes and, on a busy
machine, its threads fight for cores: ``naive_rho`` took 1.7 s with the default threads and
0.066 s with one on the 2-core development machine under load (26×).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")


def one_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with BLAS/OpenMP limited to one thread (restored afterwards).

    Parameters
    ----------
    fn : callable

    Returns
    -------
    callable
        ``fn`` wrapped; its name and module are kept (the analysis cache keys on them).
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper
