"""Memory bandwidth: the machine's STREAM-like triad (1 and 2 threads), and the memory traffic
of the Vlasov solver's fused stage kernels (1-D and 2-D) as a fraction of that triad, out of
and in the L3 cache.

    python benchmarks/memory.py            # writes benchmarks/results/memory.json
    python benchmarks/memory.py --smoke    # tiny arrays and grids, one round (seconds)

(--full measures the same as the quick run; --out DIR writes elsewhere.) The triad operands
are 3 x 400 MB: the quick run needs about 1.5 GB of memory.
"""

from __future__ import annotations

import numba
import numpy as np
from common import log, subject_main, timed

from meanfield_resnet import finite_volume as fv
from meanfield_resnet import vlasov
from meanfield_resnet._jit import jit, set_threads, subnormals_flushed
from meanfield_resnet.settings import Segment

TRIAD_SIZE = 50_000_000  # 400 MB an array, far beyond the L3
# the stage kernels: d -> (grid size out of the 32 MiB L3, grid size in it), cells a side
GRIDS = {1: (10**7, 200_000), 2: (2048, 512)}
# bytes per cell-stage: moved in all, and of them the density arrays (see `kernel_traffic`)
MOVED = {1: 40, 2: 48}
DENSITY = {1: 24, 2: 48}


@jit(parallel=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.size):
        a[i] = b[i] + s * c[i]


def _triad_operands(size=TRIAD_SIZE):
    """a, b, c of the triad: 400 MB each, far beyond the L3."""
    rng = np.random.default_rng(0)
    return np.empty(size), rng.random(size), rng.random(size)


def triad(size=TRIAD_SIZE):
    """STREAM-like triad a = b + s c: bytes/s (3 arrays of 8-byte values per element)."""
    a, b, c = _triad_operands(size)
    size = a.size
    out = {}
    for threads in (1, 2):
        set_threads(threads)
        _triad(a, b, c, 3.0)
        t, _ = timed(lambda: _triad(a, b, c, 3.0), repeat=5)
        out[f"threads_{threads}_GBps"] = 24 * size / t / 1e9
    return out


def _stage_call(d, n):
    """One Shu-Osher stage (α = 3/4, β = 1/4: reads g and g0, writes the result) of the
    solver on an n^d grid (v = -x, Gaussian bump, fixed frame), as a callable."""
    seg = (Segment(0.0, np.inf, -np.eye(d), np.zeros(d)),)
    frame = vlasov.Frame(np.full(d, -4.0), np.full(d, 4.0), (n,) * d, moving=False)
    problem = vlasov.VlasovProblem("identity", seg, None, frame)
    centres = np.meshgrid(*[frame.centres(r) for r in range(d)], indexing="ij")
    g = np.exp(-sum(c**2 for c in centres) / 0.5)
    g = (g / g.sum() * g.size).reshape(-1, n)
    lower, upper = frame.lower.astype(float), frame.upper.astype(float)
    base = g.copy()  # g0: its own array, as in SSP-RK3
    dt = 0.5 * vlasov._step_size(problem, g, 0.0, lower, upper, 1.0)
    leading = vlasov._stage_geometry(problem, vlasov._geometry(problem, g, 0.0, lower, upper, 1.0))
    out, scale, parts = np.empty_like(g), float(g.max()), fv.parallel_parts()
    return lambda: fv.euler_stage(*leading, 0.75, 0.25, dt, scale, base, g, out, parts)


def kernel_traffic(rounds=5, grids=GRIDS, triad_size=TRIAD_SIZE):
    """Achieved memory traffic of the fused stage kernels on grids far larger than the
    32 MiB L3 (1-D 10^7 cells, 2-D 2048²), as a fraction of the triad, and the same kernels
    on grids that fit in the L3 (2·10^5 cells, 512²: 6-8 MiB with coordinates; large enough
    that the per-stage overhead is small), timed 10 times in a row (warm caches): their
    compute rate. The memory bandwidth of this machine drifts by tens of per cent over
    minutes, so the triad (2 threads) and the stages are timed in alternation, ``rounds``
    times, and each keeps its best.
    Bytes per cell-stage: 1-D, g and g0 read, the result written, and the face coordinate and
    η of the row read (40 B; 24 B of them density); 2-D, two passes, each reading two arrays
    and writing one (48 B; the per-line coordinates stay in cache).
    ``grids`` and ``triad_size`` replace the sizes (the smoke run's tiny ones)."""
    cases = {(d, n): MOVED[d] for d, sizes in grids.items() for n in sizes}
    out_of_cache = [(d, big) for d, (big, _) in grids.items()]
    calls = {case: _stage_call(*case) for case in cases}
    a, b, c = _triad_operands(triad_size)
    size = a.size
    set_threads(2)
    best = dict.fromkeys([*cases, "triad"], np.inf)
    with subnormals_flushed():
        for call in calls.values():
            call()  # load the kernels, touch the buffers
        _triad(a, b, c, 3.0)
        for _ in range(rounds):
            best["triad"] = min(best["triad"], timed(lambda: _triad(a, b, c, 3.0))[0])
            for case, call in calls.items():
                repeat = 1 if case in out_of_cache else 10
                best[case] = min(best[case], timed(call, repeat)[0])
    out = {"rounds": rounds, "triad_GBps": 24 * size / best["triad"] / 1e9}
    for d, (big, small) in grids.items():
        rate, in_cache = big**d / best[(d, big)], small**d / best[(d, small)]
        out[f"{d}d"] = {
            "cells_out_of_cache": big**d,
            "cell_stages_per_s": rate,
            "cells_in_cache": small**d,
            "in_cache_cell_stages_per_s": in_cache,
            "bytes_per_cell_stage": cases[(d, big)],
            "density_bytes_per_cell_stage": DENSITY[d],
            "GBps": cases[(d, big)] * rate / 1e9,
        }
    return out


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json (``full`` changes nothing here)."""
    r = {}
    triad_size = 100_000 if smoke else TRIAD_SIZE
    with subnormals_flushed():
        r["triad"] = triad(triad_size)
        log("triad", r["triad"])
    set_threads(2)
    if smoke:
        r["kernel_traffic"] = kernel_traffic(1, {1: (2000, 1000), 2: (64, 32)}, triad_size)
    else:
        r["kernel_traffic"] = kernel_traffic()
    log(r["kernel_traffic"])
    return r


def main(argv=None):
    return subject_main("memory", __doc__, run, argv)


if __name__ == "__main__":
    main()
