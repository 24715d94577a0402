"""The one project-wide numba policy.

Every kernel is compiled through :func:`jit`: cached on disk (Snakemake jobs are separate
processes and must not each pay the compile), ``error_model="numpy"`` (the Python error
model inserts zero-division checks that stop vectorisation), no ``fastmath`` (results must
not depend on reassociation, so serial and parallel runs agree bit for bit).
"""

from __future__ import annotations

import numba

_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


def jit(func=None, *, parallel: bool = False):
    """Compile ``func`` with the project's numba options (usable with or without arguments)."""

    def wrap(f):
        return numba.njit(parallel=parallel, **_OPTIONS)(f)

    return wrap if func is None else wrap(func)


def set_threads(threads: int) -> None:
    """Use ``threads`` numba threads (clamped to what numba was started with)."""
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
