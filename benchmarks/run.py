"""Benchmark suite: our solvers and particle kernels against the tools a user would pick
instead, and against the machine's memory bandwidth, in one run on one machine.

    python benchmarks/run.py            # quick suite (a few minutes)
    python benchmarks/run.py --full     # adds 10^5-cell 1-D runs (ours, py-pde), 2048² grids,
                                        # 10^7-particle Euler-Maruyama, 10^4-cell fplanck,
                                        # 256² py-pde in 2-D

Writes benchmarks/results/benchmarks.{json,md}. Absolute times are noisy on shared
machines; compare the ratios, which are measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numba
import numpy as np

from meanfield_resnet import diffusion, exact, fokker_planck, network, vlasov
from meanfield_resnet._jit import jit, set_threads, subnormals_flushed
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.normals import fill_normals
from meanfield_resnet.settings import Segment

sys.path.insert(0, str(Path(__file__).parent))
import numpy_scheme  # noqa: E402

HERE = Path(__file__).parent
BUMP = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([0.5]))
DOMAIN = (-4.0, 4.0)
T = 1.0
T_2D = 0.25
OU_DOMAIN = (-8.0, 14.0)


def timed(fn, repeat=1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@jit(parallel=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.size):
        a[i] = b[i] + s * c[i]


def _triad_operands(size=50_000_000):
    """a, b, c of the triad: 400 MB each, far beyond the L3."""
    rng = np.random.default_rng(0)
    return np.empty(size), rng.random(size), rng.random(size)


def triad():
    """STREAM-like triad a = b + s c: bytes/s (3 arrays of 8-byte values per element)."""
    a, b, c = _triad_operands()
    size = a.size
    out = {}
    for threads in (1, 2):
        set_threads(threads)
        _triad(a, b, c, 3.0)
        t, _ = timed(lambda: _triad(a, b, c, 3.0), repeat=5)
        out[f"threads_{threads}_GBps"] = 24 * size / t / 1e9
    return out


def _exact_masses(edges, t=T):
    return exact.cell_masses(BUMP, "identity", -1.0, 0.0, t, edges)


def vlasov_1d_ours(n, t_end=T):
    seg = (Segment(0.0, np.inf, np.array([[-1.0]]), np.array([0.0])),)
    frame = vlasov.Frame(np.array([DOMAIN[0]]), np.array([DOMAIN[1]]), (n,), moving=False)
    problem = vlasov.VlasovProblem("identity", seg, None, frame)
    masses = BUMP.cell_probabilities([frame.edges(0)])
    repeat = 2 if n * t_end <= 10_000 else 1  # the 10^5-cell run to t = 1 takes minutes
    wall, sol = timed(lambda: vlasov.solve(problem, masses, [0.0, t_end]), repeat=repeat)
    edges = frame.edges(0)
    err = np.abs(sol.density[-1] * np.diff(edges) - _exact_masses(edges, t_end)).sum()
    steps = int(sol.steps[-1])
    return {
        "cells": n,
        "t": t_end,
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * steps / wall,
    }


def vlasov_1d_numpy(n, t_end=T):
    edges = np.linspace(*DOMAIN, n + 1)
    u = -edges / (DOMAIN[1] - DOMAIN[0])  # velocity in reference units
    g0 = BUMP.cell_probabilities([edges]) * n
    wall, (g, steps) = timed(lambda: numpy_scheme.solve(g0, u, t_end))
    err = np.abs(g / n - _exact_masses(edges, t_end)).sum()
    return {
        "cells": n,
        "t": t_end,
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * steps / wall,
    }


def _pypde_compile_time(eq, field, tolerance):
    """py-pde compiles on every solve(): time a solve of negligible length (after one
    warm-up, which also pays the package's own first-use costs)."""

    def tiny():
        return eq.solve(
            field, t_range=1e-9, dt=1e-10, adaptive=True, tolerance=tolerance, tracker=None
        )

    tiny()
    return timed(tiny)[0]


def vlasov_1d_pypde(n, tolerance=1e-7):
    import pde

    grid = pde.CartesianGrid([list(DOMAIN)], n)
    field = pde.ScalarField.from_expression(grid, "exp(-x**2/0.5)/sqrt(0.5*pi)")
    eq = pde.PDE({"f": "-d_dx(-x*f)"}, bc={"value": 0})
    compile_s = _pypde_compile_time(eq, field, tolerance)
    wall, res = timed(
        lambda: eq.solve(
            field, t_range=T, dt=1e-4, adaptive=True, tolerance=tolerance, tracker=None
        )
    )
    edges = np.linspace(*DOMAIN, n + 1)
    err = np.abs(res.data * np.diff(edges) - _exact_masses(edges)).sum()
    return {
        "cells": n,
        "wall_s": max(wall - compile_s, 0.0),
        "wall_with_compile_s": wall,
        "compile_s": compile_s,
        "l1": err,
        "tolerance": tolerance,
    }


def _run_child(fn, args, conn):
    conn.send(fn(*args))


def time_limited(fn, *args, limit):
    """fn(*args) in a fresh process (spawned: numba's threads do not survive a fork); if it
    has not finished within ``limit`` seconds, it is stopped and recorded as such (the time is
    then a lower bound) instead of holding up the suite. args[0] is the grid size."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_run_child, args=(fn, args, child))
    proc.start()
    done = parent.poll(limit)
    result = parent.recv() if done else None
    proc.terminate() if not done else None
    proc.join()
    if result is None:
        return {"cells": args[0], "error": f"did not finish within {limit:.0f} s", "limit_s": limit}
    return result


def _gaussian_2d_masses(edges, t=T_2D):
    """Exact cell masses of the 2-D problem (W = -I, b = 0, Gaussian std 0.5): a product of
    the 1-D solutions on the same edges in x and y."""
    law = Distribution("gaussian", mean_=np.zeros(1), std=np.array([0.5]))
    m1 = exact.cell_masses(law, "identity", -1.0, 0.0, t, edges)
    return np.outer(m1, m1)


def vlasov_2d_ours(n):
    law = Distribution("gaussian", mean_=np.array([0.0, 0.0]), std=np.array([0.5, 0.5]))
    seg = (Segment(0.0, np.inf, np.diag([-1.0, -1.0]), np.zeros(2)),)
    frame = vlasov.Frame(np.array([-4.0, -4.0]), np.array([4.0, 4.0]), (n, n), moving=False)
    problem = vlasov.VlasovProblem("identity", seg, None, frame)
    masses = law.cell_probabilities([frame.edges(0), frame.edges(1)])
    # small grids: best of 3, so that loading the cached kernels is not timed
    wall, sol = timed(
        lambda: vlasov.solve(problem, masses, [0.0, T_2D]), repeat=3 if n <= 128 else 1
    )
    edges = frame.edges(0)
    cell = (edges[1] - edges[0]) ** 2
    err = np.abs(sol.density[-1] * cell - _gaussian_2d_masses(edges)).sum()
    steps = int(sol.steps[-1])
    return {
        "cells": f"{n}x{n}",
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * n * steps / wall,
    }


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
    state = (g, lower, upper, float(g.max()))
    base = (g.copy(), lower, upper, state[3])  # g0: its own array, as in SSP-RK3
    dt = 0.5 * vlasov._step_size(problem, g, 0.0, lower, upper, 1.0)
    out = np.empty_like(g)
    return lambda: vlasov._euler(problem, state, 0.0, dt, 1.0, out, base, 0.75, 0.25)


def kernel_traffic(rounds=5):
    """Achieved memory traffic of the fused stage kernels on grids far larger than the
    32 MiB L3 (1-D 10^7 cells, 2-D 2048²), as a fraction of the triad, and the same kernels
    on grids that fit in the L3 (2·10^5 cells, 512²: 6-8 MiB with coordinates; large enough
    that the per-stage overhead is small), timed 10 times in a row (warm caches): their
    compute rate. The memory bandwidth of this machine drifts by tens of per cent over
    minutes, so the triad (2 threads) and the stages are timed in alternation, ``rounds``
    times, and each keeps its best.
    Bytes per cell-stage: 1-D, g and g0 read, the result written, and the face coordinate and
    η of the row read (40 B; 24 B of them density); 2-D, two sweeps, each reading two arrays
    and writing one (48 B; the per-line coordinates stay in cache)."""
    cases = {(1, 10**7): 40, (1, 200_000): 40, (2, 2048): 48, (2, 512): 48}
    calls = {case: _stage_call(*case) for case in cases}
    a, b, c = _triad_operands()
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
                repeat = 1 if case in ((1, 10**7), (2, 2048)) else 10
                best[case] = min(best[case], timed(call, repeat)[0])
    out = {"rounds": rounds, "triad_GBps": 24 * size / best["triad"] / 1e9}
    for d, big, small, essential in ((1, 10**7, 200_000, 24), (2, 2048, 512, 48)):
        rate, in_cache = big**d / best[(d, big)], small**d / best[(d, small)]
        out[f"{d}d"] = {
            "cells_out_of_cache": big**d,
            "cell_stages_per_s": rate,
            "cells_in_cache": small**d,
            "in_cache_cell_stages_per_s": in_cache,
            "bytes_per_cell_stage": cases[(d, big)],
            "density_bytes_per_cell_stage": essential,
            "GBps": cases[(d, big)] * rate / 1e9,
        }
    return out


def _pypde_profiled_solve(eq, field, t_range, tolerance):
    """One warm-up solve of negligible length (pays py-pde's first-use and per-grid costs),
    then the timed solve. py-pde recompiles on every solve(); its own profiler splits that
    solve into the recompile (``compilation``) and the time stepping (``solver``). In 2-D the
    recompile (~10-30 s) dwarfs the stepping (~0.01-1 s), so the 1-D way (wall time minus a
    separately timed tiny solve) would leave a difference of two noisy numbers."""
    kwargs = {"adaptive": True, "tolerance": tolerance, "tracker": None, "backend": "numba"}
    eq.solve(field, t_range=1e-9, dt=1e-10, **kwargs)
    t0 = time.perf_counter()
    res, info = eq.solve(field, t_range=t_range, dt=1e-4, ret_info=True, **kwargs)
    wall = time.perf_counter() - t0
    return res, wall, info


def vlasov_2d_pypde(n, tolerance=1e-7):
    """py-pde (numba backend, central differences, its default adaptive explicit stepper) on
    the problem of `vlasov_2d_ours`: ∂_t f + div(-x f) = 0, point values of the Gaussian."""
    import pde

    grid = pde.CartesianGrid([[-4.0, 4.0], [-4.0, 4.0]], [n, n])
    field = pde.ScalarField.from_expression(grid, "exp(-(x**2 + y**2)/0.5)/(0.5*pi)")
    eq = pde.PDE({"f": "-d_dx(-x*f) - d_dy(-y*f)"}, bc={"value": 0})
    res, wall, info = _pypde_profiled_solve(eq, field, T_2D, tolerance)
    prof = info["controller"]["profiler"]
    edges = np.linspace(-4.0, 4.0, n + 1)
    err = np.abs(res.data * (edges[1] - edges[0]) ** 2 - _gaussian_2d_masses(edges)).sum()
    return {
        "cells": f"{n}x{n}",
        "wall_s": prof["solver"],
        "wall_with_compile_s": wall,
        "compile_s": prof["compilation"],
        "l1": err,
        "steps": int(info["solver"]["steps"]),
        "stepper": info["solver"]["class"],
        "tolerance": tolerance,
    }


def fokker_planck_ours(n):
    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    problem = fokker_planck.FokkerPlanckProblem(
        "identity", -1.0, 0.0, diffusion.constant(1.0), n, time_step=2.0 / n
    )
    wall, sol = timed(lambda: fokker_planck.solve(problem, law, [0.0, T]), repeat=2)
    edges = sol.edges(-1)
    err = np.abs(
        sol.density[-1] * sol.dx[-1] - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)
    ).sum()
    return {"cells": n, "wall_s": wall, "l1": err}


def fokker_planck_pypde(n, tolerance=1e-7):
    import pde

    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    grid = pde.CartesianGrid([[-8.0, 14.0]], n)
    edges = np.linspace(-8.0, 14.0, n + 1)
    field = pde.ScalarField(grid, law.cell_probabilities([edges]) / np.diff(edges))
    eq = pde.PDE({"f": "-d_dx(-x*f) + laplace(f)"}, bc={"value": 0})
    compile_s = _pypde_compile_time(eq, field, tolerance)
    wall, res = timed(
        lambda: eq.solve(
            field, t_range=T, dt=1e-5, adaptive=True, tolerance=tolerance, tracker=None
        )
    )
    err = np.abs(
        res.data * np.diff(edges) - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)
    ).sum()
    return {
        "cells": n,
        "wall_s": max(wall - compile_s, 0.0),
        "wall_with_compile_s": wall,
        "compile_s": compile_s,
        "l1": err,
    }


# numpy 1 names fplanck 0.2.2 uses and numpy 2 removed, with their replacements
_NUMPY2_REMOVED = {"product": np.prod}


@contextmanager
def _numpy2_shim():
    """fplanck 0.2.2 calls ``np.product`` (removed in numpy 2.0) when it assembles its matrix.
    Alias the removed names for the duration of the call only, then remove the aliases, so
    nothing else in the run sees them. (Its solver.py also uses ``Iterable`` without importing
    it, but only for a per-axis drag vector; a scalar drag, as here, never reaches it.)"""
    added = [name for name in _NUMPY2_REMOVED if name not in vars(np)]
    for name in added:
        setattr(np, name, _NUMPY2_REMOVED[name])
    try:
        yield
    finally:
        for name in added:
            delattr(np, name)


def _fplanck_run(n, masses, t):
    """Build fplanck's master-equation matrix on n cells of OU_DOMAIN and propagate `masses`
    (cell probabilities) over t; returns (assembly s, propagation s, final cell masses)."""
    import fplanck
    from scipy import constants

    h = (OU_DOMAIN[1] - OU_DOMAIN[0]) / n
    centre = 0.5 * (OU_DOMAIN[0] + OU_DOMAIN[1])
    t0 = time.perf_counter()
    sim = fplanck.fokker_planck(
        # D = k_B T / drag = 1 and velocity = -dU/dy / drag = -x: drag 1, k_B T = 1 and
        # U = (y + centre)^2 / 2, y = x - centre being fplanck's coordinate (grid centred on 0)
        temperature=1.0 / constants.k,
        drag=1.0,
        # Ngrid = ceil(extent / resolution): (n - 1/2) h gives n cells whatever the rounding
        extent=(n - 0.5) * h,
        resolution=h,
        potential=fplanck.harmonic_potential(-centre, 1.0),
        boundary=fplanck.boundary.reflecting,
    )
    t1 = time.perf_counter()
    out = sim.propagate(lambda *grid: masses.copy(), t)
    t2 = time.perf_counter()
    if out.shape != masses.shape:
        raise ValueError(f"fplanck built {out.shape} cells for {masses.shape}")
    return t1 - t0, t2 - t1, out


def fokker_planck_fplanck(n):
    """fplanck 0.2.2 on the OU problem of `fokker_planck_ours` (drift -x, K = 1, uniform [2, 8],
    t = 1): a Scharfetter-Gummel-like master equation on n cells, propagated by
    scipy's ``expm_multiply``; reflecting ends (the mass is far from them). Time = assembly
    (a Python loop over cells) + propagation. A failure is recorded, not raised."""
    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    edges = np.linspace(*OU_DOMAIN, n + 1)
    masses = law.cell_probabilities([edges])
    try:
        with _numpy2_shim():
            runs = [_fplanck_run(n, masses, T) for _ in range(2 if n <= 2000 else 1)]
    except Exception as err:  # noqa: BLE001 - any failure of the peer is a result to report
        return {"cells": n, "error": f"{type(err).__name__}: {err}"}
    assembly_s, propagate_s, out = min(runs, key=lambda run: run[0] + run[1])
    err = np.abs(out - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)).sum()
    return {
        "cells": n,
        "wall_s": assembly_s + propagate_s,
        "assembly_s": assembly_s,
        "propagate_s": propagate_s,
        "l1": err,
    }


def _particle_problem(m, d):
    """The benchmark network: m standard normal data in d dimensions, W = I/2 + 1/10,
    b = 1/10 (tanh, T = 1)."""
    x0 = np.random.default_rng(0).normal(size=(m, d))
    return x0, np.eye(d) * 0.5 + 0.1, np.full(d, 0.1)


def _particle_row(m, d, layers, wall, **extra):
    return {"particles": m, "dimension": d, **extra, "wall_s": wall,
            "particle_steps_per_s": m * layers / wall}  # fmt: skip


def particles(m, d, threads, layers=100, stochastic=False):
    """`network.simulate` on the benchmark network; ``stochastic``: Euler-Maruyama with K = 1
    (dX = σ(WX + b) dt + sqrt(2) dB), the normals generated in the kernel's tiles
    (Philox4x64-10 + Box-Muller, `meanfield_resnet.normals`)."""
    x0, w, b = _particle_problem(m, d)
    seg = (Segment(0.0, np.inf, w, b),)
    noise = diffusion.constant(1.0) if stochastic else None
    set_threads(threads)

    def run(x, seed):
        rng = np.random.default_rng(seed) if stochastic else None
        return network.simulate(
            x, "tanh", seg, 1.0, layers, np.array([layers]), diffusion=noise, rng=rng
        )

    run(x0[:1000], 1)  # warm
    wall, _ = timed(lambda: run(x0, 0))
    return _particle_row(m, d, layers, wall, threads=threads)


def particles_numpy(m, d, layers=100, stochastic=False):
    """The same network in numpy with preallocated buffers; ``stochastic`` adds sqrt(2 dt)
    standard normals drawn into a buffer each layer (the numpy Euler-Maruyama baseline)."""
    x, w, b = _particle_problem(m, d)
    rng = np.random.default_rng(0)
    dt = 1.0 / layers
    buf, noise = np.empty_like(x), np.empty_like(x)

    def run():
        y = x.copy()
        for _ in range(layers):
            np.matmul(y, w.T, out=buf)
            np.add(buf, b, out=buf)
            np.tanh(buf, out=buf)
            np.multiply(buf, dt, out=buf)
            np.add(y, buf, out=y)
            if stochastic:
                rng.standard_normal(out=noise)
                np.multiply(noise, np.sqrt(2.0 * dt), out=noise)
                np.add(y, noise, out=y)
        return y

    wall, _ = timed(run)
    return _particle_row(m, d, layers, wall)


def normals(m, d, layers=100):
    """numpy's generator alone: fill an (m, d) buffer with standard normals `layers` times,
    the normals one numpy Euler-Maruyama run draws (the lower bound of its time)."""
    rng = np.random.default_rng(0)
    buf = np.empty((m, d))

    def run():
        for _ in range(layers):
            rng.standard_normal(out=buf)

    wall, _ = timed(run)
    return {
        "particles": m,
        "dimension": d,
        "wall_s": wall,
        "normals_per_s": m * d * layers / wall,
    }


@jit(parallel=True)
def _kernel_normals(key, layer, d, out):
    """out (d m,), m a multiple of 4: component r's normals of the m particles at ``layer``
    in out[r m: (r + 1) m], generated in the network's tiles as its kernel does."""
    m = out.size // d
    block = network.BLOCK
    for blk in numba.prange((m + block - 1) // block):
        start = blk * block
        stop = min(m, start + block)
        for r in range(d):
            row = out[r * m + start : r * m + stop]
            fill_normals(key, np.uint64(0), layer, np.uint64(r), start // 4, row)


def normals_ours(m, d, threads, layers=100):
    """Our generator alone, in a kernel: the normals of one stochastic run (`layers` times m d)
    into a buffer, on ``threads`` threads."""
    buf = np.empty(d * m)
    set_threads(threads)
    _kernel_normals(np.uint64(1), np.uint64(0), d, buf[: 8 * d])  # warm

    def run():
        for k in range(layers):
            _kernel_normals(np.uint64(1), np.uint64(k), d, buf)

    with subnormals_flushed():
        wall, _ = timed(run)
    return {
        "particles": m,
        "dimension": d,
        "threads": threads,
        "wall_s": wall,
        "normals_per_s": m * d * layers / wall,
    }


def particles_em(sizes, layers=100):
    """The Euler-Maruyama rows, side by side: ours (2 threads), numpy's EM, numpy's generator
    alone and ours alone (1 and 2 threads), for d = 1, 2 and the given particle counts."""
    cases = [(m, d) for d in (1, 2) for m in sizes]
    return {
        "particles_em": [particles(m, d, 2, layers, stochastic=True) for m, d in cases],
        "particles_em_numpy": [particles_numpy(m, d, layers, stochastic=True) for m, d in cases],
        "normals": [normals(m, d, layers) for m, d in cases],
        "normals_ours": [normals_ours(m, d, t, layers) for m, d in cases for t in (1, 2)],
    }


def pipeline():
    """Wall time of `snakemake --cores 2` on the default config from a clean results/,
    with an empty numba cache (cold: every job compiles) and with the cache filled (warm)."""
    root = HERE.parent
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold_cache", "warm_cache"):
            with tempfile.TemporaryDirectory() as work:
                os.symlink(root / "config", Path(work) / "config")
                env = {**os.environ, "NUMBA_CACHE_DIR": cache}
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "snakemake",
                        "-s",
                        str(root / "workflow/Snakefile"),
                        "--cores",
                        "2",
                        "--quiet",
                    ],
                    cwd=work,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                out[f"{label}_s"] = time.perf_counter() - t0
    out["compile_share_s"] = out["cold_cache_s"] - out["warm_cache_s"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the large cases too")
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    r = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numba": numba.__version__,
            "numpy": np.__version__,
        }
    }
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    with subnormals_flushed():
        r["triad"] = triad()
        log("triad", r["triad"])
    set_threads(2)
    r["kernel_traffic"] = kernel_traffic()
    log(r["kernel_traffic"])
    cells = [250, 1000, 10_000] + ([100_000] if args.full else [])
    r["vlasov_1d_ours"] = [vlasov_1d_ours(n) for n in cells]
    log(r["vlasov_1d_ours"])
    r["vlasov_1d_numpy"] = [vlasov_1d_numpy(n) for n in cells[:3]]
    # 10^5 cells over a short window only (numpy would need ~40 min to t = 1): same scheme,
    # same steps, so the kernel ratio is still like for like
    r["vlasov_1d_short"] = [f(100_000, t_end=0.01) for f in (vlasov_1d_ours, vlasov_1d_numpy)]
    log(r["vlasov_1d_numpy"], r["vlasov_1d_short"])
    pcells = [1000, 10_000] + ([100_000] if args.full else [])
    r["vlasov_1d_pypde"] = [time_limited(vlasov_1d_pypde, n, limit=600) for n in pcells]
    log(r["vlasov_1d_pypde"])
    grids = [32, 40, 48, 56, 64, 128, 512] + ([2048] if args.full else [])  # small: equal accuracy
    r["vlasov_2d_ours"] = [vlasov_2d_ours(n) for n in grids]
    log(r["vlasov_2d_ours"])
    r["vlasov_2d_pypde"] = [vlasov_2d_pypde(n) for n in [64, 128] + ([256] if args.full else [])]
    log(r["vlasov_2d_pypde"])
    r["fokker_planck_ours"] = [fokker_planck_ours(n) for n in [1000, 10_000]]
    log(r["fokker_planck_ours"])
    r["fokker_planck_pypde"] = [fokker_planck_pypde(n) for n in [1000, 10_000]]
    log(r["fokker_planck_pypde"])
    r["fokker_planck_fplanck"] = [
        fokker_planck_fplanck(n) for n in [1000] + ([10_000] if args.full else [])
    ]
    log(r["fokker_planck_fplanck"])
    sizes = [100_000, 1_000_000, 10_000_000]
    r["particles_numba"] = [particles(m, d, t) for d in (1, 2) for m in sizes for t in (1, 2)]
    r["particles_numpy"] = [particles_numpy(m, d) for d in (1, 2) for m in sizes]
    log(r["particles_numba"], r["particles_numpy"])
    em_sizes = sizes if args.full else sizes[:2]
    r.update(particles_em(em_sizes))
    log(r["particles_em"], r["particles_em_numpy"], r["normals"], r["normals_ours"])
    if not args.skip_pipeline:
        r["pipeline"] = pipeline()
        log(r["pipeline"])
    r["summary"] = summarise(r)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(r, indent=2, default=float))
    (out / "benchmarks.md").write_text(markdown(r))
    print(markdown(r))


def _at_accuracy(rows, target=1e-4):
    ok = [row for row in rows if row["l1"] <= target]
    return min(ok, key=lambda row: row["wall_s"]) if ok else None


def _at_peer_accuracy(ours, peers):
    """The peer's most accurate run, and ours at the fastest (smallest) grid with an L1 no
    larger; if no grid of ours gets there, our most accurate one, flagged. Peer runs that
    failed are skipped; if all failed, their errors."""
    ran = [row for row in peers if "error" not in row]
    if not ran:
        return {"peer_error": "; ".join(f"{row['cells']}: {row['error']}" for row in peers)}
    peer = min(ran, key=lambda row: row["l1"])
    good = [row for row in ours if row["l1"] <= peer["l1"]]
    mine = min(good, key=lambda row: row["wall_s"]) if good else min(ours, key=lambda r: r["l1"])
    out = {
        "ours": mine,
        "peer": peer,
        "ours_reached_peer_l1": bool(good),
        "speedup": peer["wall_s"] / mine["wall_s"],
    }
    if "wall_with_compile_s" in peer:  # py-pde: also with the recompile every solve() pays
        out["speedup_with_compile"] = peer["wall_with_compile_s"] / mine["wall_s"]
    return out


def _particles_em_summary(r):
    """Per dimension and size: particle-steps/s of ours and of numpy EM, normals/s of numpy's
    generator and of ours (1 and 2 threads), our speed-ups over numpy, and the share of our
    EM time our generator alone needs (2 threads)."""
    key = lambda row: (row["dimension"], row["particles"])  # noqa: E731
    em_numpy = {key(row): row for row in r["particles_em_numpy"]}
    draws = {key(row): row for row in r["normals"]}
    ours = {(*key(row), row["threads"]): row for row in r.get("normals_ours", [])}
    out = {}
    for row in r["particles_em"]:
        k = key(row)
        e = out[f"{k[0]}d_{k[1]}"] = {
            "ours_particle_steps_per_s": row["particle_steps_per_s"],
            "numpy_particle_steps_per_s": em_numpy[k]["particle_steps_per_s"],
            "normals_per_s": draws[k]["normals_per_s"],
            "speedup_vs_numpy": em_numpy[k]["wall_s"] / row["wall_s"],
        }
        if (*k, 2) in ours and (*k, 1) in ours:
            e["ours_normals_per_s_1thread"] = ours[(*k, 1)]["normals_per_s"]
            e["ours_normals_per_s_2threads"] = ours[(*k, 2)]["normals_per_s"]
            e["normals_speedup_vs_numpy_1thread"] = draws[k]["wall_s"] / ours[(*k, 1)]["wall_s"]
            e["normals_share_of_our_time"] = ours[(*k, 2)]["wall_s"] / row["wall_s"]
    return out


def _particle_series(rows):
    """{'<d>d_<threads>threads': {particles: ns per particle-step}}."""
    out = {}
    for row in rows:
        key = f"{row['dimension']}d_{row['threads']}threads"
        out.setdefault(key, {})[row["particles"]] = 1e9 / row["particle_steps_per_s"]
    return out


def _thread_speedups(rows):
    """{'<d>d_<particles>': 1-thread time / 2-thread time} where both were run."""
    wall = {(row["dimension"], row["particles"], row["threads"]): row["wall_s"] for row in rows}
    return {
        f"{d}d_{m}": wall[(d, m, 1)] / t
        for (d, m, threads), t in wall.items()
        if threads == 2 and (d, m, 1) in wall
    }


def _scaling(r):
    """Time per unit of work over the sizes already measured (constant = linear in size) and
    the 2-thread over 1-thread speed-up of the particle kernel; no new runs. A cell-update is
    one cell in one Runge-Kutta stage, as in ``cell_updates_per_s``."""
    out = {
        f"vlasov_{dim}_ns_per_cell_update": {
            row["cells"]: 1e9 / row["cell_updates_per_s"] for row in r[f"vlasov_{dim}_ours"]
        }
        for dim in ("1d", "2d")
    }
    out["particles_ns_per_particle_step"] = _particle_series(r["particles_numba"])
    out["particles_speedup_2_vs_1_threads"] = _thread_speedups(r["particles_numba"])
    if "particles_em" in r:
        out["particles_em_ns_per_particle_step"] = _particle_series(r["particles_em"])
    return out


def summarise(r):
    s = {}
    pypde_ran = [row for row in r["vlasov_1d_pypde"] if "error" not in row]
    ours, theirs = _at_accuracy(r["vlasov_1d_ours"]), _at_accuracy(pypde_ran)
    best_pypde = min(pypde_ran, key=lambda row: row["l1"])
    s["vlasov_1d_equal_accuracy"] = {
        "ours": ours,
        "pypde": theirs or best_pypde,
        "pypde_reached_1e-4": theirs is not None,
        "speedup_vs_pypde": (theirs or best_pypde)["wall_s"] / ours["wall_s"],
    }
    same = {row["cells"]: row for row in r["vlasov_1d_numpy"]}
    s["vlasov_1d_numba_vs_numpy"] = {
        f"{n} cells, t = {row['t']:g}": same[n]["wall_s"] / row["wall_s"]
        for n, row in ((row["cells"], row) for row in r["vlasov_1d_ours"])
        if n in same
    }
    ours_short, numpy_short = r["vlasov_1d_short"]
    s["vlasov_1d_numba_vs_numpy"][f"{ours_short['cells']} cells, t = {ours_short['t']:g}"] = (
        numpy_short["wall_s"] / ours_short["wall_s"]
    )
    fp, fp_pypde = r["fokker_planck_ours"], r["fokker_planck_pypde"]
    target = min(row["l1"] for row in fp_pypde)
    ours_fp = min(
        (row for row in fp if row["l1"] <= target), key=lambda row: row["wall_s"], default=fp[-1]
    )
    s["fokker_planck_equal_accuracy"] = {
        "ours": ours_fp,
        "pypde": min(fp_pypde, key=lambda row: row["l1"]),
        "speedup_vs_pypde": min(fp_pypde, key=lambda row: row["l1"])["wall_s"] / ours_fp["wall_s"],
    }
    numpy_rate = {
        (row["particles"], row["dimension"]): row["particle_steps_per_s"]
        for row in r["particles_numpy"]
    }
    s["particles_speedup_vs_numpy_2threads"] = {
        f"{row['dimension']}d_{row['particles']}": row["particle_steps_per_s"]
        / numpy_rate[(row["particles"], row["dimension"])]
        for row in r["particles_numba"]
        if row["threads"] == 2
    }
    triad_bps = r["kernel_traffic"]["triad_GBps"] * 1e9
    s["kernel_traffic_fraction_of_triad"] = {
        dim: {
            "moved": k["GBps"] * 1e9 / triad_bps,
            "density_only": k["density_bytes_per_cell_stage"] * k["cell_stages_per_s"] / triad_bps,
            "out_of_cache_vs_in_cache_rate": k["cell_stages_per_s"]
            / k["in_cache_cell_stages_per_s"],
        }
        for dim, k in r["kernel_traffic"].items()
        if dim in ("1d", "2d")
    }
    if "vlasov_2d_pypde" in r:
        s["vlasov_2d_equal_accuracy"] = _at_peer_accuracy(r["vlasov_2d_ours"], r["vlasov_2d_pypde"])
    if "fokker_planck_fplanck" in r:
        s["fokker_planck_vs_fplanck"] = _at_peer_accuracy(
            r["fokker_planck_ours"], r["fokker_planck_fplanck"]
        )
    if "particles_em" in r:
        s["particles_em"] = _particles_em_summary(r)
    s["scaling"] = _scaling(r)
    return s


def _md_run(row):
    """'N cells, T s, L1 E' for a table cell."""
    return f"{row['cells']} cells, {row['wall_s']:.3g} s, L1 {row['l1']:.1e}"


def _md_equal_accuracy(label, e, peer, extra):
    """One row from `_at_peer_accuracy`; `extra(peer_row)` adds peer-specific detail."""
    if "peer_error" in e:
        return f"| {label} | | {peer} failed: {e['peer_error']} | n/a |"
    flag = "" if e["ours_reached_peer_l1"] else " (our best: its L1 not reached)"
    with_compile = (
        f" ({e['speedup_with_compile']:.0f}x with its compile)"
        if "speedup_with_compile" in e
        else ""
    )
    return (
        f"| {label} | {_md_run(e['ours'])}{flag} | {peer} {_md_run(e['peer'])}{extra(e['peer'])}"
        f" | {e['speedup']:.0f}x{with_compile} |"
    )


def _md_peer_rows(s):
    """The equal-accuracy rows against py-pde in 2-D and fplanck."""
    lines = []
    if "vlasov_2d_equal_accuracy" in s:
        lines.append(
            _md_equal_accuracy(
                "2-D Vlasov, equal accuracy (W = -I, Gaussian, t = 0.25)",
                s["vlasov_2d_equal_accuracy"],
                "py-pde",
                lambda p: f" (+{p['compile_s']:.2g} s compile)",
            )
        )
    if "fokker_planck_vs_fplanck" in s:
        lines.append(
            _md_equal_accuracy(
                "Fokker-Planck (OU), equal accuracy vs fplanck 0.2.2 (expm_multiply)",
                s["fokker_planck_vs_fplanck"],
                "fplanck",
                lambda p: f" (assembly {p['assembly_s']:.2g} s)",
            )
        )
    return lines


def _md_em_rows(s):
    """Two rows per dimension and size of the Euler-Maruyama comparison: the whole run, and
    the normals alone."""
    lines = []
    for key, e in s.get("particles_em", {}).items():
        lines.append(
            f"| Euler-Maruyama particles, tanh, 100 layers, K = 1, {key}, 2 threads vs numpy | "
            f"{e['ours_particle_steps_per_s'] / 1e6:.0f} M particle-steps/s | numpy EM "
            f"{e['numpy_particle_steps_per_s'] / 1e6:.0f} M/s | {e['speedup_vs_numpy']:.1f}x |"
        )
        if "ours_normals_per_s_1thread" in e:
            lines.append(
                f"| normals alone (Philox4x64-10 + Box-Muller in a kernel), {key}, 1 thread "
                f"vs rng.standard_normal | {e['ours_normals_per_s_1thread'] / 1e6:.0f} M/s "
                f"(2 threads {e['ours_normals_per_s_2threads'] / 1e6:.0f} M/s, "
                f"{e['normals_share_of_our_time']:.0%} of our EM time) | "
                f"{e['normals_per_s'] / 1e6:.0f} M/s | "
                f"{e['normals_speedup_vs_numpy_1thread']:.1f}x |"
            )
    return lines


def _md_scaling_rows(r):
    """ns per unit of work over sizes (ratio: last over first,
    1.0 = linear in size); 2 vs 1 thread speed-ups."""
    sc = r["summary"]["scaling"]
    lines = []
    series = [
        ("1-D Vlasov, time per cell-update, cells", sc["vlasov_1d_ns_per_cell_update"]),
        ("2-D Vlasov, time per cell-update, grid", sc["vlasov_2d_ns_per_cell_update"]),
    ]
    for name, kind in (
        ("particles_ns_per_particle_step", "deterministic"),
        ("particles_em_ns_per_particle_step", "Euler-Maruyama"),
    ):
        for key, values in sc.get(name, {}).items():
            series.append((f"particles ({kind}), {key}, time per particle-step, particles", values))
    for label, values in series:
        ns = list(values.values())
        lines.append(
            f"| scaling: {label} = {' / '.join(str(k) for k in values)} | "
            f"{' / '.join(f'{v:.3g}' for v in ns)} ns | | last/first {ns[-1] / ns[0]:.2f}x |"
        )
    lines += [
        f"| particles, tanh, 100 layers, {key}: 2 threads vs 1 thread | | | {ratio:.2f}x |"
        for key, ratio in sc["particles_speedup_2_vs_1_threads"].items()
    ]
    return lines


def markdown(r):
    s = r["summary"]
    e = s["vlasov_1d_equal_accuracy"]
    lines = [
        "| benchmark | ours | peer | ratio |",
        "|---|---|---|---|",
        f"| 1-D Vlasov, smallest grid with L1 ≤ 1e-4 (v = -x, bump, t = 1) | "
        f"{e['ours']['cells']} cells, {e['ours']['wall_s']:.3g} s, L1 {e['ours']['l1']:.1e} | "
        f"py-pde {e['pypde']['cells']} cells, {e['pypde']['wall_s']:.3g} s "
        f"(+{e['pypde']['compile_s']:.2g} s compile), L1 {e['pypde']['l1']:.1e}"
        + ("" if e["pypde_reached_1e-4"] else " (its best: 1e-4 not reached)")
        + f" | {e['speedup_vs_pypde']:.0f}x |",
    ]
    for row in r["vlasov_1d_pypde"]:
        if "error" in row:
            lines.append(
                f"| 1-D Vlasov, py-pde {row['cells']} cells | | {row['error']} "
                f"(so > {row['limit_s'] / e['ours']['wall_s']:.0f}x our L1 ≤ 1e-4 run) | |"
            )
    for n, ratio in s["vlasov_1d_numba_vs_numpy"].items():
        lines.append(f"| 1-D Vlasov solver vs numpy, same scheme, {n} | | | {ratio:.1f}x |")
    f = s["fokker_planck_equal_accuracy"]
    lines.append(
        f"| Fokker-Planck (OU), equal accuracy | {f['ours']['cells']} cells, "
        f"{f['ours']['wall_s']:.3g} s, L1 {f['ours']['l1']:.1e} | py-pde "
        f"{f['pypde']['cells']} cells, {f['pypde']['wall_s']:.3g} s, L1 "
        f"{f['pypde']['l1']:.1e} | {f['speedup_vs_pypde']:.0f}x |"
    )
    for key, ratio in s["particles_speedup_vs_numpy_2threads"].items():
        lines.append(
            f"| particles, tanh, 100 layers, {key}, 2 threads vs numpy | | | {ratio:.1f}x |"
        )
    for dim, frac in s["kernel_traffic_fraction_of_triad"].items():
        k = r["kernel_traffic"][dim]
        lines.append(
            f"| {dim[0]}-D Vlasov stage kernel traffic / triad (2 threads, "
            f"{r['kernel_traffic']['triad_GBps']:.1f} GB/s, best of "
            f"{r['kernel_traffic']['rounds']} alternating rounds), "
            f"{k['cells_out_of_cache']:.0e} cells "
            f"(out of cache) | {k['cell_stages_per_s'] / 1e6:.0f} M cell-stages/s, "
            f"{k['bytes_per_cell_stage']} B each: {k['GBps']:.1f} GB/s | in cache "
            f"({k['cells_in_cache']:.0e} cells): {k['in_cache_cell_stages_per_s'] / 1e6:.0f} M "
            f"cell-stages/s | {frac['moved']:.0%} ({frac['density_only']:.0%} counting the "
            f"density arrays only) |"
        )
    for row in r["vlasov_2d_ours"]:
        lines.append(
            f"| 2-D Vlasov {row['cells']} | {row['wall_s']:.3g} s, "
            f"{row['cell_updates_per_s'] / 1e6:.0f} M cell-stages/s, L1 {row['l1']:.1e} | | |"
        )
    lines += _md_peer_rows(s) + _md_em_rows(s) + _md_scaling_rows(r)
    if "pipeline" in r:
        p = r["pipeline"]
        lines.append(
            f"| pipeline `snakemake --cores 2` | cold numba cache {p['cold_cache_s']:.0f} s, "
            f"warm {p['warm_cache_s']:.0f} s | | |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
