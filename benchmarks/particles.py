"""Particles: the network kernel (tanh, 100 layers, 1 and 2 threads, d = 1, 2, 10^5-10^7
particles) against the same network in numpy, and Euler-Maruyama (K = 1) against numpy's EM,
with the normals alone (numpy's generator, and ours in a kernel) side by side.

    python benchmarks/particles.py            # writes benchmarks/results/particles.json
    python benchmarks/particles.py --full     # Euler-Maruyama on 10^7 particles too
    python benchmarks/particles.py --smoke    # 10^4 particles once a case (seconds)

(In this module the name ``particles`` is the kernel's benchmark below, not
meanfield_resnet.particles.)
"""

from __future__ import annotations

import numba
import numpy as np
from common import log, subject_main, timed

from meanfield_resnet import diffusion, network
from meanfield_resnet._jit import jit, set_threads, subnormals_flushed
from meanfield_resnet.normals import fill_normals
from meanfield_resnet.settings import Segment


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


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json; ``smoke``: 10^4 particles only
    (a check that every case runs, not a measurement)."""
    r = {}
    sizes = [10_000] if smoke else [100_000, 1_000_000, 10_000_000]
    r["particles_numba"] = [particles(m, d, t) for d in (1, 2) for m in sizes for t in (1, 2)]
    r["particles_numpy"] = [particles_numpy(m, d) for d in (1, 2) for m in sizes]
    log(r["particles_numba"], r["particles_numpy"])
    em_sizes = sizes if full else sizes[:2]
    r.update(particles_em(em_sizes))
    log(r["particles_em"], r["particles_em_numpy"], r["normals"], r["normals_ours"])
    return r


def main(argv=None):
    return subject_main("particles", __doc__, run, argv)


if __name__ == "__main__":
    main()
